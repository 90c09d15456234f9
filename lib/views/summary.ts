// The summary (`rethook trace -c`, `rethook report`), as ltrace -c and
// uftrace report: one row per function (per thread with perThread), with
// calls, total and self time (self: minus the hooked calls made inside it),
// average, min, max, p50, p99, unwound calls and calls missed. Also the API's
// object: feed it contexts from handlers, events from a record, or calls as
// numbers (addCall; addBatch and records are counted in the addon:
// lib/record/aggregate.ts, no object per call).
//
// Nothing is kept per call: per function (and thread) the count, total, self,
// min, max, unwound count and one log-linear histogram of the durations
// (histogram.ts), from which the percentiles come, within 0.4%.
import type { CallBatch } from '../record/batch';
import type { ColumnSummary, CountedCalls } from '../record/aggregate';
import { callTime } from './view';
import { Histogram } from './histogram';

export { PERCENTILE_RELATIVE_ERROR } from './histogram';

export type SortKey = 'calls' | 'total' | 'self' | 'avg' | 'max';
export const SORT_KEYS: readonly SortKey[] = ['calls', 'total', 'self', 'avg', 'max'];

export interface SummaryRow {
  function: string;
  /** Set with perThread: the thread of this row. */
  tid?: number;
  calls: number;
  totalNs: number;
  selfNs: number;
  avgNs: number;
  minNs: number;
  maxNs: number;
  /** From the histogram: within PERCENTILE_RELATIVE_ERROR (0.4%) of the exact percentile, exact below 256 ns. */
  p50Ns: number;
  p99Ns: number;
  /** Calls that ended without returning (longjmp, exception, thread exit...). */
  unwound: number;
  /** Calls that ran without a return hook (maxActive reached): not timed, not in calls. */
  nmissed: number;
}

/** What summaries need of a call: an ExitContext, or an exit event of a record. */
interface EntryLike {
  tid: number;
  function: string;
  depth: number;
}
interface ExitLike extends EntryLike {
  durationNs: bigint | number;
  unwound: boolean;
}

/** What a site id stands for (the record's SITES entry, or the hook's site). */
export interface SummarySite {
  function: string;
  pid?: number;
  address?: bigint | number | string;
}

/** One function's (one thread's, with perThread) figures. */
interface Acc {
  function: string;
  tid: number;
  self: number;
  unwound: number;
  /** Calls, total, min and max too. */
  hist: Histogram;
}

/** Accumulators by key (a site id, or an interned name), and by thread with perThread. */
class AccTable {
  private readonly byKey: (Acc | undefined)[] = [];
  private readonly byThread = new Map<number, (Acc | undefined)[]>();
  constructor(private readonly perThread: boolean) {}
  get(key: number, tid: number, fn: string): Acc {
    let list = this.byKey;
    if (this.perThread) {
      let l = this.byThread.get(tid);
      if (!l) this.byThread.set(tid, (l = []));
      list = l;
    }
    return list[key] ?? (list[key] = { function: fn, tid, self: 0, unwound: 0, hist: new Histogram() });
  }
  *all(): Iterable<Acc> {
    for (const a of this.byKey) if (a) yield a;
    for (const l of this.byThread.values()) for (const a of l) if (a) yield a;
  }
}

/**
 * One thread's calls in flight (entry/exit events), innermost last, as
 * columns: depth, key (an interned name), the time of the hooked calls made
 * inside so far, and how many hooked calls were made inside it so far, at
 * any depth (callTime). (Columns and records are paired in the addon:
 * lib/record/aggregate.ts.)
 */
class OpenCalls {
  n = 0;
  depth = new Uint32Array(16);
  key = new Int32Array(16);
  children = new Float64Array(16);
  nested = new Uint32Array(16);
  private push(depth: number, key: number): void {
    if (this.n === this.depth.length) {
      const grow = <T extends Uint32Array | Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.depth = grow(this.depth);
      this.key = grow(this.key);
      this.children = grow(this.children);
      this.nested = grow(this.nested);
    }
    this.depth[this.n] = depth;
    this.key[this.n] = key;
    this.children[this.n] = 0;
    this.nested[this.n] = 0;
    this.n++;
  }
  /** An entry at `depth`: calls at it or deeper still open did not end (their exits were lost). */
  enter(depth: number, key: number): void {
    while (this.n && this.depth[this.n - 1] >= depth) this.n--;
    this.push(depth, key);
  }
  /** The index of the open call an exit of `key` at `depth` ends, or -1 (inherited, or its entry lost). */
  find(depth: number, key: number): number {
    while (this.n && this.depth[this.n - 1] > depth) this.n--;
    const top = this.n - 1;
    return top >= 0 && this.depth[top] === depth && this.key[top] === key ? top : -1;
  }
  /** Ends the innermost call, which took `dur`: its parent's children time grows by it, and its count of nested calls by it and those inside it. */
  pop(dur: number): void {
    this.n--;
    if (this.n) {
      this.children[this.n - 1] += dur;
      this.nested[this.n - 1] += 1 + this.nested[this.n];
    }
  }
}

/** The n-th smallest at rank p (nearest-rank percentile) of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface SummaryOptions {
  /** Subtracted from every duration (the tracer's round trip); null: durations as measured. */
  overheadNs?: number | null;
  /** Subtracted from a call's duration once per hooked call nested in it (RunInfo.nestedNs), with overheadNs. */
  nestedNs?: number | null;
  perThread?: boolean;
}

function stackOf(stacks: Map<number, OpenCalls>, tid: number): OpenCalls {
  let st = stacks.get(tid);
  if (!st) stacks.set(tid, (st = new OpenCalls()));
  return st;
}

export class Summary {
  /** Calls fed as numbers (addCall, addBatch), by site id. */
  private readonly siteAccs: AccTable;
  private readonly siteNames: string[] = [];
  /** Calls fed as contexts or events (entry, exit), by function name interned to a number. */
  private readonly nameAccs: AccTable;
  private readonly nameKeys = new Map<string, number>();
  private readonly names: string[] = [];
  /** Per thread: the calls in flight of entry/exit. */
  private readonly eventStacks = new Map<number, OpenCalls>();
  /** addBatch's counting (in the addon), made at its first batch. */
  private columns: ColumnSummary | null = null;
  private readonly feeders: (() => void)[] = [];
  private readonly missed = new Map<string, number>();
  readonly overheadNs: number | null;
  readonly nestedNs: number | null;
  readonly perThread: boolean;

  constructor(o: SummaryOptions = {}) {
    this.overheadNs = o.overheadNs ?? null;
    this.nestedNs = o.nestedNs ?? null;
    this.perThread = o.perThread ?? false;
    this.siteAccs = new AccTable(this.perThread);
    this.nameAccs = new AccTable(this.perThread);
  }

  /** Names site `key` (a small whole number: the record's site id) before its first call. */
  site(key: number, info: SummarySite): void {
    if (!Number.isInteger(key) || key < 0 || key > 0x7fffffff) throw new RangeError(`Summary.site: the key must be a whole number from 0 to 2^31-1, not ${key}`);
    this.siteNames[key] = info.function;
  }

  /**
   * One finished call of site `key`, its figures as they are to be counted
   * (the round trip already subtracted: see callTime). `tid` makes the row's
   * thread with perThread. Nothing is kept of the call itself.
   */
  addCall(key: number, totalNs: number, selfNs: number, unwound: boolean, tid = 0): void {
    const fn = this.siteNames[key];
    if (fn === undefined) throw new RangeError(`Summary.addCall: site ${key} was not named with site() first`);
    add(this.siteAccs.get(key, tid, fn), totalNs, selfNs, unwound);
  }

  /**
   * Figures counted elsewhere for site `key` (and thread `tid`, with
   * perThread): the addon's summaries (lib/record/aggregate.ts), as if their
   * calls had been given to addCall one by one.
   */
  addCounted(key: number, tid: number, c: CountedCalls): void {
    const fn = this.siteNames[key];
    if (fn === undefined) throw new RangeError(`Summary.addCounted: site ${key} was not named with site() first`);
    const a = this.siteAccs.get(key, tid, fn);
    a.hist.addCounts(c.base, c.counts, c);
    a.self += c.self;
    a.unwound += c.unwound;
  }

  /** `pull` is called before the summary is read: a feeder counting elsewhere hands its figures over then. */
  feedFrom(pull: () => void): void {
    this.feeders.push(pull);
  }

  private pull(): void {
    for (const f of this.feeders) f();
  }

  /**
   * A batch of one thread's calls (lib/record/batch.ts): each EXIT or UNWOUND
   * row ends the open call of its site and depth; its duration is its ts less
   * its entry's (less overheadNs), its self that less the calls inside. An
   * EXIT/UNWOUND with no open call to end (inherited from a parent, or its
   * entry not seen) is not counted. Calls stay open across batches of a
   * thread. Counted in the addon, as report's (lib/record/aggregate.ts).
   */
  addBatch(b: CallBatch): void {
    if (!this.columns) {
      // Loaded when first used: the addon comes with it (a summary of events or addCall needs neither).
      const { ColumnSummary: Columns } = require('../record/aggregate') as typeof import('../record/aggregate');
      this.columns = new Columns(this, this.overheadNs, 0xffffffff, this.nestedNs);
    }
    this.columns.batch(b);
  }

  /** Ends every call addBatch still holds open as unwound at `ts` (a record's end: detached, or the process gone). */
  endOpenCalls(ts: number): void {
    this.columns?.endOpen(ts);
  }

  private nameKey(fn: string): number {
    let k = this.nameKeys.get(fn);
    if (k === undefined) {
      k = this.names.length;
      this.names.push(fn);
      this.nameKeys.set(fn, k);
    }
    return k;
  }

  /** A call began (an EntryContext or an entry event). */
  entry(e: EntryLike): void {
    stackOf(this.eventStacks, e.tid).enter(e.depth, this.nameKey(e.function));
  }

  /** A call ended (an ExitContext or an exit event). */
  exit(e: ExitLike): void {
    const key = this.nameKey(e.function);
    const st = this.eventStacks.get(e.tid);
    const at = st ? st.find(e.depth, key) : -1;
    const dur = callTime(Number(e.durationNs), this.overheadNs, at >= 0 ? st!.nested[at] : 0, this.nestedNs);
    let children = 0;
    if (at >= 0) {
      children = st!.children[at];
      st!.pop(dur);
    }
    add(this.nameAccs.get(key, e.tid, e.function), dur, Math.max(0, dur - children), e.unwound);
  }

  /** Calls of `fn` that ran without a return hook (Hook.nmissedBy, or the record's end line). */
  addMissed(fn: string, n: number): void {
    this.missed.set(fn, (this.missed.get(fn) ?? 0) + n);
  }

  /** One accumulator per row: every site's and thread's of a function (and thread, with perThread) merged. */
  private merged(): Map<string, Acc> {
    this.pull();
    const rows = new Map<string, Acc>();
    for (const table of [this.nameAccs, this.siteAccs]) {
      for (const a of table.all()) {
        const k = this.perThread ? `${a.tid}\0${a.function}` : a.function;
        let m = rows.get(k);
        if (!m) rows.set(k, (m = { function: a.function, tid: a.tid, self: 0, unwound: 0, hist: new Histogram() }));
        m.self += a.self;
        m.unwound += a.unwound;
        m.hist.merge(a.hist);
      }
    }
    return rows;
  }

  /** The durations of one function's calls (all threads and sites) as a histogram: for --hist. */
  histogram(fn: string): Histogram {
    this.pull();
    const h = new Histogram();
    for (const table of [this.nameAccs, this.siteAccs]) for (const a of table.all()) if (a.function === fn) h.merge(a.hist);
    return h;
  }

  functions(): string[] {
    this.pull();
    return [...new Set([...this.nameAccs.all(), ...this.siteAccs.all()].map((a) => a.function))];
  }

  /** The rows, sorted by `sort` (largest first; ties by name). */
  rows(sort: SortKey = 'total'): SummaryRow[] {
    const rows: SummaryRow[] = [];
    const missedShown = new Set<string>();
    for (const a of this.merged().values()) {
      const h = a.hist;
      const row: SummaryRow = {
        function: a.function,
        calls: h.count,
        totalNs: h.sum,
        selfNs: a.self,
        avgNs: h.mean,
        minNs: h.count ? h.min : 0,
        maxNs: h.max,
        p50Ns: h.percentile(50),
        p99Ns: h.percentile(99),
        unwound: a.unwound,
        nmissed: 0,
      };
      if (this.perThread) row.tid = a.tid;
      // Missed calls are counted per function, not per thread: on the function's first row.
      if (!missedShown.has(a.function)) {
        missedShown.add(a.function);
        row.nmissed = this.missed.get(a.function) ?? 0;
      }
      rows.push(row);
    }
    for (const [fn, n] of this.missed) {
      if (!missedShown.has(fn) && n > 0) {
        rows.push({ function: fn, calls: 0, totalNs: 0, selfNs: 0, avgNs: 0, minNs: 0, maxNs: 0, p50Ns: 0, p99Ns: 0, unwound: 0, nmissed: n });
      }
    }
    const field: Record<SortKey, keyof SummaryRow> = { calls: 'calls', total: 'totalNs', self: 'selfNs', avg: 'avgNs', max: 'maxNs' };
    const k = field[sort];
    return rows.sort((x, y) => (y[k] as number) - (x[k] as number) || x.function.localeCompare(y.function) || (x.tid ?? 0) - (y.tid ?? 0));
  }
}

/** One call into a function's figures: the one place the event and the column paths both count a call. */
function add(a: Acc, totalNs: number, selfNs: number, unwound: boolean): void {
  a.hist.add(totalNs);
  a.self += selfNs;
  if (unwound) a.unwound++;
}
