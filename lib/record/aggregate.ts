// A record's calls summarized from its bytes or its columns, natively
// (native/record/summarize.h): `rethook report`, live `trace -c` and
// `--hist`, and Summary.addBatch. Each thread's open calls are paired with
// their ends, and per site (and thread, with perThread) the count, total,
// self, min, max, unwound count and log-linear histogram are kept in the
// addon, with nothing made per call; the Summary (views/summary.ts) takes
// them over whenever it is read. A call's time is less the tracer's holding
// (HELD), its round trip and what the hooked calls nested in it added
// (callTime).
import { CallSummarizer, NativeCallSummarizer } from '../native';
import type { CallBatch, SiteInfo } from './batch';
import { readExtra, RecordDamage } from './calls';

/** Calls of one site counted in the addon, as one accumulator of them. */
export interface CountedCalls {
  count: number;
  sum: number;
  self: number;
  min: number;
  max: number;
  unwound: number;
  /** Histogram counts (views/histogram.ts buckets) of buckets [base, base + counts.length). */
  base: number;
  counts: ArrayLike<number>;
}

/** What takes the counts over (views/summary.ts's Summary is one): sites' names, then each site's counted calls when it is read. */
export interface CountedSink {
  readonly perThread: boolean;
  site(key: number, info: { function: string; pid?: number; address?: bigint | number | string }): void;
  addCounted(key: number, tid: number, c: CountedCalls): void;
  /** `pull` is called before the sink is read. */
  feedFrom(pull: () => void): void;
}

/** What a CALLS chunk held, for the reader's totals; lastTs -1: no call in it. */
export interface ChunkCounts {
  rows: number;
  entries: number;
  orphans: number;
  lastTs: number;
}

/**
 * Feeds a Summary (a CountedSink). Open calls are bounded (`maxOpen`, all threads
 * together): a call that begins past that is not counted (`dropped`), as
 * the views do not show it.
 */
export class ColumnSummary {
  private readonly native: NativeCallSummarizer;
  private readonly out = new Float64Array(5);

  /** overheadNs and nestedNs: as callTime's (null: durations as measured). */
  constructor(private readonly summary: CountedSink, overheadNs: number | null, maxOpen: number, nestedNs: number | null = null) {
    this.native = new CallSummarizer(overheadNs, nestedNs, maxOpen, summary.perThread);
    summary.feedFrom(() => this.flush());
  }

  /** Calls open now (all threads). */
  get open(): number {
    return this.native.open();
  }

  /** Calls not counted: they began with maxOpen calls open. */
  get dropped(): number {
    return this.native.dropped();
  }

  sites(added: readonly SiteInfo[]): void {
    for (const s of added) {
      this.summary.site(s.id, { function: s.function, pid: s.pid, address: s.address });
      this.native.site(s.id, s.args, s.ret, s.fp);
    }
  }

  /**
   * One CALLS payload, buf[start, end) after its pid, tid and baseTs (the
   * file's byte `fileOffset`), decoded and counted in the addon (counted only
   * with `aggregate`); its EXTRA records checked here. Null at damage, which
   * lib/record/calls.ts names (ChunkDecoder).
   */
  chunk(buf: Buffer, start: number, end: number, fileOffset: number, tid: number, baseTs: number, aggregate: boolean): ChunkCounts | null {
    const o = this.out;
    if (!this.native.chunk(buf, start, end, tid, baseTs, aggregate, o)) return null;
    const counts = { rows: o[0], entries: o[1], orphans: o[2], lastTs: o[3] };
    if (o[4]) {
      const x = this.native.extras();
      for (let i = 0; i < x.length; i += 4) {
        const extra = readExtra(buf, start + x[i + 1], x[i + 2]);
        if (typeof extra === 'string') throw new RecordDamage(fileOffset + x[i], extra);
        if (extra.inherited === true && x[i + 3]) counts.entries--; // a fork child's inherited call opens its stream: not a call it made
      }
    }
    return counts;
  }

  /** One thread's rows, decoded elsewhere. */
  batch(b: CallBatch): void {
    this.native.batch(b.tid, b.kind, b.site, b.ts, b.depth, b.held ?? null, b.length);
  }

  /** Ends every open call as unwound at `ts` (the record's end), innermost first. */
  endOpen(ts: number): void {
    this.native.endOpen(ts);
  }

  /** What was counted since the last flush, into the Summary. */
  flush(): void {
    const t = this.native.take();
    for (let at = 0; at < t.length; ) {
      const n = t[at + 9];
      this.summary.addCounted(t[at], t[at + 1], {
        count: t[at + 2], sum: t[at + 3], self: t[at + 4], min: t[at + 5], max: t[at + 6], unwound: t[at + 7], base: t[at + 8],
        counts: t.subarray(at + 10, at + 10 + n),
      });
      at += 10 + n;
    }
  }
}
