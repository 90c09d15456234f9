// A record read as it is written, in this process: the consumer a
// RecordWriter (write.ts) is given instead of a file by live `trace -c` and
// `trace --hist` (lib/cli/commands/trace.ts). Each buffer the writer flushes
// (at most its 1 MiB) is decoded at once by the chunk decoder records are
// read with (read.ts: ChunkDecoder, CallBatch columns), so a live summary
// takes the path of `record` + `report`: no object per call.
import { checkChunkHead, ChunkDecoder, RecordHandlers } from './read';
import { RecordDamage } from './calls';

export class LiveRecordReader {
  /** Made once the header (its version) is read. */
  private decoder: ChunkDecoder | null = null;
  /** Past the header (magic, version, its length, its JSON). */
  private headerDone = false;
  /** The start of a chunk not yet whole (a chunk bigger than the writer's buffer comes in two pieces). */
  private rest: Buffer | null = null;
  /** The record's offset of the next byte taken (for the damage messages of a bug of ours). */
  private offset = 0;

  constructor(private readonly handlers: RecordHandlers) {}

  /** The writer's output: every whole chunk in `b` decoded now; `b` is not kept. */
  readonly take = (b: Buffer): void => {
    let buf = b;
    if (this.rest) {
      buf = Buffer.concat([this.rest, b]);
      this.rest = null;
    }
    let p = 0;
    if (!this.headerDone) {
      if (buf.length < 16 || buf.length < 16 + buf.readUInt32LE(12)) return this.keep(buf, 0);
      p = 16 + buf.readUInt32LE(12);
      this.headerDone = true;
      this.decoder = new ChunkDecoder(this.handlers, buf.readUInt32LE(8));
    }
    while (p + 5 <= buf.length) {
      const type = buf[p], len = buf.readUInt32LE(p + 1);
      const known = checkChunkHead(type, len, this.offset + p);
      if (p + 5 + len > buf.length) break;
      if (known && this.decoder!.chunk(type, buf, p + 5, len, this.offset + p)) throw new RecordDamage(this.offset + p, 'an END chunk of a live record');
      p += 5 + len;
    }
    this.keep(buf, p);
  };

  private keep(buf: Buffer, p: number): void {
    if (p < buf.length) this.rest = Buffer.from(buf.subarray(p));
    this.offset += p;
  }
}
