// The live call tree straight from a record's bytes: what live `trace` writes
// to a file or a pipe in fast mode (no colors, time column, backtraces or
// filters; lib/cli/commands/trace.ts). The hook records (fast mode's
// transcoder writes the rings into record buffers, as for `-c` and JSON), and
// each CALLS chunk whose calls are all plain (untyped sites, no STRING or
// EXTRA record) is written by the addon (native/record/tree_lines.h) as the
// tree's lines, byte for byte those of views/tree.ts, with no object per
// call. Any other chunk is decoded (record/live.ts) and its calls made into
// the events `replay` makes (record/events.ts CallEvents), which the tree
// itself writes. Both pair calls on CallEvents' open-call arrays, and the
// entry line not yet written (a leaf so far) stays the tree's between chunks:
// the addon takes it up and hands its own back.
//
// Order: as the per-call path, a thread's lines in its order and threads'
// chunks as the rings are drained (one thread's calls at a time): not merged
// by ts (`replay` merges a record's threads).
import type { SiteInfo } from './batch';
import { UNWIND_REASONS } from './batch';
import { Attached, CallEvent, CallEvents } from './events';
import type { RecordHandlers } from './read';
import type { ChunkCounts } from './aggregate';
import { TreeLineWriter } from '../native';
import { typedWords } from './json-lines';
import { RECORD_FORMAT_VERSION } from './write';
import { callLabel, type Sink } from '../views/format';
import { escapeText } from '../symbols/text';
import type { TreeView } from '../views/tree';
import type { ExitEvent } from '../events';

/** Bytes of lines written to the sink at once. */
const OUT_BYTES = 1 << 18;

export class ColumnTree {
  /** How calls are paired and made into events (replay sets its own, bounded, before its first sites). */
  events: CallEvents | null = null;
  private readonly native: InstanceType<typeof TreeLineWriter>;
  private readonly result = new Float64Array(11);
  private out = Buffer.allocUnsafe(OUT_BYTES);
  private pos = 0;
  /** Chunks the addon wrote (the tests count them). */
  nativeChunks = 0;

  constructor(private readonly sink: Sink, private readonly tree: TreeView, nargs: number) {
    this.native = new TreeLineWriter(RECORD_FORMAT_VERSION >= 3, nargs); // a live record is this rethook's own
  }

  /** Sites added to the record. */
  sites(added: readonly SiteInfo[], all: readonly SiteInfo[]): void {
    if (!this.events) this.events = new CallEvents(all);
    for (const s of added) {
      const typed = typedWords(s);
      this.native.site(s.id, s.args, s.ret, s.fp, !s.signature || typed !== null, Buffer.from(escapeText(callLabel(s.function))), Buffer.from(escapeText(s.function)),
        typed ?? undefined);
    }
  }

  /** What the live record reader (record/live.ts) hands the buffers to. */
  readonly handlers: RecordHandlers = {
    sites: (added, all) => this.sites(added, all),
    callsChunk: (pid, tid, baseTs, buf, start, end) => this.chunk(pid, tid, baseTs, buf, start, end),
    calls: (b) => {
      const ev = this.events;
      if (!ev || !b.length) return;
      this.write();
      ev.rows(b, (r: number, att: Attached | undefined) => this.tree.entry(ev.entry(b, r, att)),
        (site, depth, ts, durationNs, reason, r, att) => this.tree.exit(ev.exit(b.pid, b.tid, site, depth, ts, durationNs, reason, b.retval[r], b, r, att)));
    },
  };

  /** A CALLS payload written by the addon, when its calls are all plain (and the thread holds at most `maxOpen` open calls at once: 0, no limit); undefined: decode it. */
  chunk(pid: number, tid: number, baseTs: number, buf: Buffer, start: number, end: number, maxOpen = 0): ChunkCounts | undefined {
    const ev = this.events;
    if (!ev) return undefined;
    const open = ev.openCalls(pid, tid);
    const pending = this.tree.pendingOf(tid);
    const head = pending ? Buffer.from(pending.head) : null;
    const r = this.result;
    for (;;) {
      const status = this.native.chunk(buf, start, end, tid, baseTs, head, pending?.depth ?? 0, open.depth, open.site, open.ts, open.n, this.out, this.pos, r, maxOpen);
      if (status === 1) return undefined;
      if (status === 0) break;
      open.reserve(r[7]);
      if (r[8] > this.out.length) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * this.out.length, r[8]));
        this.out.copy(bigger, 0, 0, this.pos);
        this.out = bigger;
      }
    }
    const [rows, entries, , unmatched, lastTs, pos, openN, , , pendingStart, pendingDepth] = r;
    open.n = openN;
    ev.unmatched += unmatched;
    this.nativeChunks++;
    if (pendingStart >= 0) {
      this.tree.setPending(tid, this.out.toString('utf8', pendingStart, pos), pendingDepth);
      this.pos = pendingStart;
    } else {
      this.tree.setPending(tid, null);
      this.pos = pos;
    }
    if (this.pos > OUT_BYTES) this.write();
    return { rows, entries, orphans: 0, lastTs };
  }

  /** A decoded buffer is done (or FLUSH_AFTER_MS went by): what the addon wrote goes out. */
  buffered(): void {
    this.write();
  }

  /** Everything written out (before a note, and at the end). */
  drain(): void {
    this.write();
  }

  /** The lines written by the addon, out to the sink (before the tree writes anything). */
  private write(): void {
    if (!this.pos) return;
    this.sink.writeBytes(this.out.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Every call still open ended at `ts`, unwound (`reason`: detach or exit), as `replay` ends them at the record's end. */
  closeAll(ts: number, reason: (typeof UNWIND_REASONS)[number]): void {
    this.write();
    this.events?.closeAll(ts, UNWIND_REASONS.indexOf(reason), (e: CallEvent) => this.tree.exit(e as ExitEvent));
  }
}
