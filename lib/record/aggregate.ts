// `rethook report` of a record, straight from the columns: no object per call.
// Each thread's open calls are a small typed-array stack; an EXIT or UNWOUND
// ends the innermost open call of its site and depth, and the call's total
// and self time (less the tracer's round trip: callTime) go to a
// CallAggregator, which views/summary.ts's Summary is (site, addCall).
import { CallBatch, Kind, SiteInfo } from './batch';
import { callTime } from '../views/events';
import type { Summary } from '../views/summary';

/**
 * What report's aggregation feeds: a site's name before its first call, then
 * each finished call's figures (round trip already subtracted). Summary's
 * own `site` and `addCall` have this shape.
 */
export interface CallAggregator {
  site(key: number, info: { function: string; pid?: number; address?: bigint | number | string }): void;
  addCall(key: number, totalNs: number, selfNs: number, unwound: boolean, tid: number): void;
}

/**
 * The Summary of today (events only: entry, exit) as a CallAggregator, until
 * Summary has addCall itself: each call goes in as an entry and its exit, the
 * time of the calls inside it set on the summary's own open call so that its
 * self time comes out as given. Goes once Summary has `addCall`.
 */
export function summaryAggregator(summary: Summary): CallAggregator {
  const own = summary as unknown as CallAggregator & { stacks?: Map<number, { children: number }[]> };
  if (typeof own.addCall === 'function' && typeof own.site === 'function') return own;
  const names: string[] = [];
  return {
    site(key, info) {
      names[key] = info.function;
    },
    addCall(key, totalNs, selfNs, unwound, tid) {
      const fn = names[key];
      summary.entry({ tid, function: fn, depth: 0 });
      const st = own.stacks!.get(tid)!;
      st[st.length - 1].children = totalNs - selfNs;
      // The figures come with the round trip subtracted; the summary subtracts it again: it is added back.
      summary.exit({ tid, function: fn, depth: 0, durationNs: totalNs + (summary.overheadNs ?? 0), unwound });
    },
  };
}

/** One thread's open calls, innermost last: depth, site, start ts, time of the hooked calls inside so far. */
class Open {
  n = 0;
  depth = new Uint32Array(64);
  site = new Uint32Array(64);
  start = new Float64Array(64);
  children = new Float64Array(64);
  grow(): void {
    const m = this.depth.length * 2;
    const d = new Uint32Array(m), s = new Uint32Array(m), t = new Float64Array(m), c = new Float64Array(m);
    d.set(this.depth);
    s.set(this.site);
    t.set(this.start);
    c.set(this.children);
    this.depth = d;
    this.site = s;
    this.start = t;
    this.children = c;
  }
}

/**
 * Aggregates a record's calls from its batches. Open calls are bounded
 * (`maxOpen`, all threads together): a call that begins past that is not
 * counted (`dropped`), as the views do not show it.
 */
export class ColumnSummary {
  private readonly threads = new Map<number, Open>();
  private held = 0;
  dropped = 0;

  constructor(private readonly agg: CallAggregator, private readonly overheadNs: number | null, private readonly maxOpen: number) {}

  get open(): number {
    return this.held;
  }

  sites(added: readonly SiteInfo[]): void {
    for (const s of added) this.agg.site(s.id, { function: s.function, pid: s.pid, address: s.address });
  }

  batch(b: CallBatch): void {
    let t = this.threads.get(b.tid);
    if (!t) this.threads.set(b.tid, (t = new Open()));
    const kinds = b.kind, depths = b.depth, sites = b.site, tss = b.ts, tid = b.tid, agg = this.agg, overhead = this.overheadNs ?? 0, max = this.maxOpen;
    let n = t.n, held = this.held;
    let oDepth = t.depth, oSite = t.site, oStart = t.start, oChildren = t.children;
    for (let r = 0, len = b.length; r < len; r++) {
      const kind = kinds[r], depth = depths[r];
      if (kind === Kind.Entry) {
        while (n && oDepth[n - 1] >= depth) (n--, held--); // calls whose exits never came
        if (held >= max) {
          this.dropped++;
          continue;
        }
        if (n === oDepth.length) {
          t.grow();
          (oDepth = t.depth), (oSite = t.site), (oStart = t.start), (oChildren = t.children);
        }
        oDepth[n] = depth;
        oSite[n] = sites[r];
        oStart[n] = tss[r];
        oChildren[n] = 0;
        n++;
        held++;
      } else {
        while (n && oDepth[n - 1] > depth) (n--, held--);
        const top = n - 1;
        if (top < 0 || oDepth[top] !== depth || oSite[top] !== sites[r]) continue; // inherited, or its entry not seen
        // callTime, inline: less the round trip, never below 0.
        let dur = tss[r] - oStart[top] - overhead;
        if (dur < 0) dur = 0;
        const self = dur - oChildren[top];
        n--;
        held--;
        if (n) oChildren[n - 1] += dur;
        agg.addCall(sites[r], dur, self > 0 ? self : 0, kind === Kind.Unwound, tid);
      }
    }
    t.n = n;
    this.held = held;
  }

  /** Ends every open call as unwound at `ts` (the record's end), innermost first. */
  endOpen(ts: number): void {
    for (const [tid, t] of this.threads) {
      while (t.n) {
        const top = --t.n;
        const dur = callTime(Math.max(0, ts - t.start[top]), this.overheadNs);
        if (t.n) t.children[t.n - 1] += dur;
        this.agg.addCall(t.site[top], dur, Math.max(0, dur - t.children[top]), true, tid);
      }
    }
    this.held = 0;
  }
}
