// Reading a record (format versions 2 and 3, docs/record-format.md): the magic and
// version, the header, then the chunks in order, read from the file in big
// reads. Calls come out as CallBatch columns (calls.ts), sites, notes and
// the end as checked JSON. Reading is linear in the file's size and holds at
// most one chunk (64 MiB) besides what the caller keeps.
//
// A record is untrusted input: every length, varint, site id, depth, reason
// and JSON field is checked, and a damaged record ends the reading with one
// line naming the file, the byte and the problem (RethookError ERECORD). A
// record without its END, or whose last chunk is cut, was cut (the recorder
// was killed): what came before the cut is read, and `cut` says so.
import * as fs from 'fs';
import { RethookError } from '../errors';
import type { NoteEvent } from '../events';
import { checkEnd, checkEvent, LIMITS, RecordEnd, RecordFieldError } from '../views/record-check';
import type { CallBatch, SiteInfo } from './batch';
import { Batch, decodeCalls, RecordDamage, WordXor } from './calls';
import { checkHeaderV2, checkSites, RecordHeaderV2 } from './check';
import type { ChunkCounts } from './aggregate';

export type { RecordHeaderV2 } from './check';

export const RECORD_MAGIC = 'RHRECORD';
/** The version written; what is read: RECORD_VERSIONS (version 3 writes words XOR the chunk's last of their site and slot). */
export const RECORD_VERSION = 3;
const RECORD_VERSIONS = [2, 3];

export const enum ChunkType {
  Sites = 1,
  Calls = 2,
  Note = 3,
  End = 4,
}

/** The header JSON, a chunk's payload: at most 64 MiB. A NOTE: 1 MiB (as version 1's event lines). All SITES together: 64 MiB. */
export const HEADER_MAX = 64 << 20;
export const CHUNK_MAX = 64 << 20;
export const NOTE_MAX = 1 << 20;
export const SITES_TOTAL_MAX = 64 << 20;
/** How much is read at once. */
export const READ_SIZE = 4 << 20;
/** A CALLS payload's own header: pid, tid, baseTs. */
const CALLS_HEAD = 16;

export interface RecordHandlers {
  header?(h: RecordHeaderV2): void;
  /** Sites declared by a SITES chunk (`all`: every site so far, by id). */
  sites?(added: readonly SiteInfo[], all: readonly SiteInfo[]): void;
  /** One thread's calls, in order (the columns are reused: copy what you keep). */
  calls?(b: CallBatch): void;
  note?(e: NoteEvent): void;
  /**
   * The calls' consumer takes only kind, site, ts, depth, reason and held
   * (report's summary): argument, return and floating-point words are gone
   * over, not stored (those columns hold 0), and strings are not kept.
   */
  timesOnly?: boolean;
  /**
   * Offered each CALLS payload, buf[start, end) after its pid, tid and
   * baseTs (at the file's byte `fileOffset`), before the decoder: its counts
   * when it took the chunk (the decoder and `calls` do not see it); null when
   * it found damage after taking part of it (the decoder then names where
   * and how, and the reading stops); undefined to leave it to the decoder
   * and `calls`. Summaries counted in the addon (lib/record/aggregate.ts)
   * and live JSON lines written by it (lib/record/json-lines.ts) take chunks.
   */
  callsChunk?(pid: number, tid: number, baseTs: number, buf: Buffer, start: number, end: number, fileOffset: number): ChunkCounts | null | undefined;
}

export interface ReadRecord {
  header: RecordHeaderV2;
  end: RecordEnd | null;
  /** No END, or the last chunk cut: the record was cut. */
  cut: boolean;
  sites: SiteInfo[];
  /** Call records (ENTRY, EXIT, UNWOUND) and notes read. */
  events: number;
  /** ENTRY records read. */
  entries: number;
  /** STRING and EXTRA records with no call before them in their chunk (not shown). */
  orphans: number;
}

/** The file, read in big pieces: the bytes of [lo, hi) of `buf` are those at file offset `at` on. */
class Input {
  buf = Buffer.allocUnsafe(READ_SIZE);
  lo = 0;
  hi = 0;
  /** The file offset of buf[lo]. */
  at = 0;
  private eof = false;
  constructor(private readonly fd: number) {}

  /** At least `n` bytes from `at` are in the buffer; false when the file ends first. */
  need(n: number): boolean {
    if (this.hi - this.lo >= n) return true;
    if (this.eof) return false;
    if (this.buf.length < n) {
      const grown = Buffer.allocUnsafe(Math.max(n, READ_SIZE));
      this.buf.copy(grown, 0, this.lo, this.hi);
      this.buf = grown;
    } else if (this.lo > 0) {
      this.buf.copy(this.buf, 0, this.lo, this.hi);
    }
    this.hi -= this.lo;
    this.lo = 0;
    while (this.hi < n) {
      const got = fs.readSync(this.fd, this.buf, this.hi, this.buf.length - this.hi, this.at + this.hi);
      if (!got) {
        this.eof = true;
        return false;
      }
      this.hi += got;
    }
    return true;
  }

  /** Goes past `n` bytes (read or not); false when the file ends first. */
  skip(n: number): boolean {
    const have = this.hi - this.lo;
    if (n <= have) {
      this.lo += n;
      this.at += n;
      return true;
    }
    const size = fs.fstatSync(this.fd).size;
    this.at += n;
    this.lo = this.hi = 0;
    if (this.at > size) {
      this.eof = true;
      return false;
    }
    return true;
  }

  /** What is left from `at`, at most `n` bytes (for the messages about a cut or bad start). */
  available(): number {
    return this.hi - this.lo;
  }
}

const V1_LINE = (file: string) => `${file} is a JSON-lines record (version 1, rethook 0.1); this rethook reads versions 2 and 3: record it again`;

/**
 * Reads record `file`, handing each part to `handlers` as it comes. Throws a
 * RethookError (ERECORD) of one line for a file that is not a version-2 or 3
 * record or is damaged; a cut record is read up to the cut.
 */
export function readRecord(file: string, handlers: RecordHandlers): ReadRecord {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new RethookError(`cannot open ${file}: ${(e as NodeJS.ErrnoException).code}`, 'ERECORD');
  }
  const damaged = (offset: number, what: string) => new RethookError(`${file} at byte ${offset}: ${what}`, 'ERECORD');
  try {
    return read(new Input(fd), file, handlers, damaged);
  } catch (e) {
    if (e instanceof RecordDamage) throw damaged(e.offset, e.message);
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** JSON of a chunk or the header, checked by `check`: a bad one is damage at `at`. */
function json<T>(buf: Buffer, start: number, n: number, at: number, what: string, check: (v: unknown) => T): T {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8', start, start + n));
  } catch {
    throw new RecordDamage(at, `the ${what} is not JSON`);
  }
  try {
    return check(v);
  } catch (e) {
    if (e instanceof RecordFieldError) throw new RecordDamage(at, `${what} ${e.message}`);
    throw e;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function read(inp: Input, file: string, h: RecordHandlers, damaged: (offset: number, what: string) => RethookError): ReadRecord {
  // The start: magic, version, header length, header.
  const notRecord = (why: string) => new RethookError(`${file} is not a rethook record (${why})`, 'ERECORD');
  const whole = inp.need(16);
  const n0 = inp.available();
  if (n0 === 0) throw notRecord('it is empty');
  if (inp.buf[inp.lo] === 0x7b /* { */) throw new RethookError(V1_LINE(file), 'ERECORD');
  if (inp.buf.toString('latin1', inp.lo, inp.lo + Math.min(8, n0)) !== RECORD_MAGIC.slice(0, Math.min(8, n0))) throw notRecord(`it does not start with ${RECORD_MAGIC}`);
  if (!whole) throw damaged(n0, `the file ends inside the record's first 16 bytes (magic, version, header length)`);
  const version = inp.buf.readUInt32LE(inp.lo + 8);
  if (!RECORD_VERSIONS.includes(version)) throw new RethookError(`${file} is a record of format version ${version}; this rethook reads versions 2 and 3`, 'ERECORD');
  const hlen = inp.buf.readUInt32LE(inp.lo + 12);
  if (hlen > HEADER_MAX) throw damaged(12, `a header of ${hlen} bytes (at most ${HEADER_MAX >> 20} MiB)`);
  inp.skip(16);
  if (!inp.need(hlen)) throw damaged(16 + inp.available(), `the file ends inside the header (${inp.available()} of its ${hlen} bytes)`);
  const header = json(inp.buf, inp.lo, hlen, 16, 'header', (v) => {
    if (!isObject(v)) throw new RecordFieldError('header', 'an object', v);
    return checkHeaderV2(v);
  });
  inp.skip(hlen);
  h.header?.(header);

  const dec = new ChunkDecoder(h, version);
  let cut = false;
  for (;;) {
    const at = inp.at;
    if (!inp.need(1)) break;
    if (!inp.need(5)) {
      cut = true;
      break;
    }
    const type = inp.buf[inp.lo];
    const len = inp.buf.readUInt32LE(inp.lo + 1);
    if (!checkChunkHead(type, len, at)) {
      // A chunk type this version does not know: skipped (new ones may be added).
      if (!inp.skip(5 + len)) {
        cut = true;
        break;
      }
      continue;
    }
    if (!inp.need(5 + len)) {
      cut = true; // the last chunk was cut
      break;
    }
    if (dec.chunk(type, inp.buf, inp.lo + 5, len, at)) break; // nothing is read past the end
    inp.skip(5 + len);
  }
  const { end, sites, events, entries, orphans } = dec;
  return { header, end, cut: cut || !end, sites, events, entries, orphans };
}

/** A chunk's type and length checked (RecordDamage at `at`, its type byte); false for a type this version does not know. */
export function checkChunkHead(type: number, len: number, at: number): boolean {
  if (len > CHUNK_MAX) throw new RecordDamage(at + 1, `a chunk of ${len} bytes (at most ${CHUNK_MAX >> 20} MiB)`);
  const max = type === ChunkType.Note ? NOTE_MAX : CHUNK_MAX;
  if (len > max) throw new RecordDamage(at + 1, `a NOTE chunk of ${len} bytes (at most ${max >> 20} MiB)`);
  if (type === ChunkType.Calls && len < CALLS_HEAD) throw new RecordDamage(at + 1, `a CALLS chunk of ${len} bytes (its pid, tid and baseTs take ${CALLS_HEAD})`);
  return type >= ChunkType.Sites && type <= ChunkType.End;
}

/**
 * The chunks after the header, decoded one whole chunk at a time and handed
 * to the handlers: what readRecord and a reader of a record being written
 * (lib/record/live.ts) share. Damage throws RecordDamage at its byte.
 */
export class ChunkDecoder {
  readonly sites: SiteInfo[] = [];
  private sitesBytes = 0;
  end: RecordEnd | null = null;
  /** Call records (ENTRY, EXIT, UNWOUND) and notes; ENTRY records; STRING and EXTRA records with no call before them. */
  events = 0;
  entries = 0;
  orphans = 0;
  private readonly batch = new Batch();
  private readonly onCalls: (b: CallBatch) => void;
  private readonly xor: WordXor | null;

  /** `version`: the record's (3: words XOR their site's last in the chunk). */
  constructor(private readonly h: RecordHandlers, version: number) {
    this.onCalls = h.calls ?? (() => undefined);
    this.xor = version >= 3 ? new WordXor() : null;
  }

  /** A whole chunk of a type checkChunkHead knows: its payload is buf[start, start + len), its type byte at offset `at`. True at the END. */
  chunk(type: number, buf: Buffer, start: number, len: number, at: number): boolean {
    const payloadAt = at + 5;
    const h = this.h;
    if (type === ChunkType.Calls) {
      const pid = buf.readUInt32LE(start), tid = buf.readUInt32LE(start + 4);
      if (pid < 1 || pid > LIMITS.pid) throw new RecordDamage(payloadAt, `a CALLS chunk of pid ${pid} (1 to ${LIMITS.pid})`);
      if (tid < 1 || tid > LIMITS.pid) throw new RecordDamage(payloadAt + 4, `a CALLS chunk of tid ${tid} (1 to ${LIMITS.pid})`);
      const baseTs = buf.readUInt32LE(start + 8) + buf.readUInt32LE(start + 12) * 0x100000000;
      const payload = { buf, start: start + CALLS_HEAD, end: start + len, fileOffset: payloadAt + CALLS_HEAD };
      const taken = h.callsChunk?.(pid, tid, baseTs, buf, payload.start, payload.end, payload.fileOffset);
      if (taken === null) {
        decodeCalls(payload, pid, tid, baseTs, this.sites, this.batch, () => undefined, true); // names the damage
        throw new RecordDamage(payload.fileOffset, 'a CALLS chunk that the summary could not read');
      }
      const r = taken ?? decodeCalls(payload, pid, tid, baseTs, this.sites, this.batch, this.onCalls, h.timesOnly ?? false, this.xor);
      this.events += r.rows;
      this.entries += r.entries;
      this.orphans += r.orphans;
    } else if (type === ChunkType.Sites) {
      this.sitesBytes += len;
      if (this.sitesBytes > SITES_TOTAL_MAX) throw new RecordDamage(at + 1, `more than ${SITES_TOTAL_MAX >> 20} MiB of SITES chunks`);
      const added = json(buf, start, len, payloadAt, 'SITES chunk', (v) => checkSites(v, this.sites.length));
      for (const s of added) this.sites.push(s);
      h.sites?.(added, this.sites);
    } else if (type === ChunkType.Note) {
      const e = json(buf, start, len, payloadAt, 'NOTE', (v) => {
        if (!isObject(v) || typeof v.type !== 'string') throw new RecordFieldError('type', 'a string', isObject(v) ? v.type : v);
        if (v.type === 'entry' || v.type === 'exit' || v.type === 'end') throw new RecordFieldError('type', 'a note (calls are CALLS records)', v.type);
        return checkEvent(v) as NoteEvent;
      });
      this.events++;
      h.note?.(e);
    } else {
      this.end = json(buf, start, len, payloadAt, 'END', (v) => {
        if (!isObject(v)) throw new RecordFieldError('end', 'an object', v);
        v.type = 'end';
        return checkEnd(v);
      });
      return true;
    }
    return false;
  }
}
