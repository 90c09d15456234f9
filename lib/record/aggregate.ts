// `rethook report` of a record, straight from the columns: no object per call.
// Each thread's open calls are a small typed-array stack; an EXIT or UNWOUND
// ends the innermost open call of its site and depth, and the call's total
// and self time (less the tracer's round trip: callTime) go to a
// CallAggregator, which views/summary.ts's Summary is (site, addCall).
import { CallBatch, Kind, SiteInfo } from './batch';
import { callTime } from '../views/events';

/**
 * What report's aggregation feeds: a site's name before its first call, then
 * each finished call's figures (round trip already subtracted). Summary's
 * own `site` and `addCall` have this shape.
 */
export interface CallAggregator {
  site(key: number, info: { function: string; pid?: number; address?: bigint | number | string }): void;
  addCall(key: number, totalNs: number, selfNs: number, unwound: boolean, tid: number): void;
}

/** One thread's open calls, innermost last: depth, site, start ts, time of the hooked calls inside so far, and their number at any depth. */
class Open {
  n = 0;
  depth = new Uint32Array(64);
  site = new Uint32Array(64);
  start = new Float64Array(64);
  children = new Float64Array(64);
  nested = new Uint32Array(64);
  grow(): void {
    const m = this.depth.length * 2;
    const d = new Uint32Array(m), s = new Uint32Array(m), t = new Float64Array(m), c = new Float64Array(m), k = new Uint32Array(m);
    d.set(this.depth);
    s.set(this.site);
    t.set(this.start);
    c.set(this.children);
    k.set(this.nested);
    this.depth = d;
    this.site = s;
    this.start = t;
    this.children = c;
    this.nested = k;
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

  /** overheadNs and nestedNs: as callTime's (null: durations as measured). */
  constructor(private readonly agg: CallAggregator, private readonly overheadNs: number | null, private readonly maxOpen: number,
    private readonly nestedNs: number | null = null) {}

  get open(): number {
    return this.held;
  }

  sites(added: readonly SiteInfo[]): void {
    for (const s of added) this.agg.site(s.id, { function: s.function, pid: s.pid, address: s.address });
  }

  batch(b: CallBatch): void {
    let t = this.threads.get(b.tid);
    if (!t) this.threads.set(b.tid, (t = new Open()));
    const kinds = b.kind, depths = b.depth, sites = b.site, tss = b.ts, heldCol = b.held ?? null, tid = b.tid, agg = this.agg, overhead = this.overheadNs ?? 0, max = this.maxOpen;
    const perNested = overhead ? this.nestedNs ?? 0 : 0;
    let n = t.n, held = this.held;
    let oDepth = t.depth, oSite = t.site, oStart = t.start, oChildren = t.children, oNested = t.nested;
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
          (oDepth = t.depth), (oSite = t.site), (oStart = t.start), (oChildren = t.children), (oNested = t.nested);
        }
        oDepth[n] = depth;
        oSite[n] = sites[r];
        oStart[n] = tss[r];
        oChildren[n] = 0;
        oNested[n] = 0;
        n++;
        held++;
      } else {
        while (n && oDepth[n - 1] > depth) (n--, held--);
        const top = n - 1;
        if (top < 0 || oDepth[top] !== depth || oSite[top] !== sites[r]) continue; // inherited, or its entry not seen
        // callTime, inline: less the tracer's holding of the thread (trap mode's HELD), the round trip and what the calls nested in it added, never below 0.
        let dur = tss[r] - oStart[top] - (heldCol ? heldCol[r] : 0) - overhead - oNested[top] * perNested;
        if (dur < 0) dur = 0;
        const self = dur - oChildren[top];
        n--;
        held--;
        if (n) {
          oChildren[n - 1] += dur;
          oNested[n - 1] += 1 + oNested[n];
        }
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
        const dur = callTime(Math.max(0, ts - t.start[top]), this.overheadNs, t.nested[top], this.nestedNs);
        if (t.n) {
          t.children[t.n - 1] += dur;
          t.nested[t.n - 1] += 1 + t.nested[top];
        }
        this.agg.addCall(t.site[top], dur, Math.max(0, dur - t.children[top]), true, tid);
      }
    }
    this.held = 0;
  }
}
