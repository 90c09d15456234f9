// The summary (`rethook trace -c`, `rethook report`), as ltrace -c and
// uftrace report: one row per function (per thread with perThread), with
// calls, total and self time (self: minus the hooked calls made inside it),
// average, min, max, p50, p99, unwound calls and calls missed. Also the API's
// object: feed it contexts from handlers or events from a record.
import type { EntryEvent, ExitEvent } from './events';
import { callTime } from './events';

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

interface Acc {
  function: string;
  tid: number;
  calls: number;
  total: number;
  self: number;
  min: number;
  max: number;
  unwound: number;
  durations: Float64Array;
}

/** The n-th smallest at rank p (nearest-rank percentile) of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface SummaryOptions {
  /** Subtracted from every duration (the tracer's round trip); null: durations as measured. */
  overheadNs?: number | null;
  perThread?: boolean;
}

export class Summary {
  private readonly acc = new Map<string, Acc>();
  /** Per thread: the calls in flight and the time of hooked calls made inside each so far. */
  private readonly stacks = new Map<number, { depth: number; function: string; children: number }[]>();
  private readonly missed = new Map<string, number>();
  readonly overheadNs: number | null;
  readonly perThread: boolean;

  constructor(o: SummaryOptions = {}) {
    this.overheadNs = o.overheadNs ?? null;
    this.perThread = o.perThread ?? false;
  }

  /** A call began (an EntryContext or an entry event). */
  entry(e: EntryLike): void {
    let st = this.stacks.get(e.tid);
    if (!st) this.stacks.set(e.tid, (st = []));
    while (st.length && st[st.length - 1].depth >= e.depth) st.pop();
    st.push({ depth: e.depth, function: e.function, children: 0 });
  }

  /** A call ended (an ExitContext or an exit event). */
  exit(e: ExitLike): void {
    const dur = callTime(Number(e.durationNs), this.overheadNs);
    const st = this.stacks.get(e.tid);
    let children = 0;
    if (st) {
      while (st.length && st[st.length - 1].depth > e.depth) st.pop();
      const top = st[st.length - 1];
      if (top && top.depth === e.depth && top.function === e.function) {
        children = top.children;
        st.pop();
        if (st.length) st[st.length - 1].children += dur;
      }
    }
    const key = this.perThread ? `${e.tid}\0${e.function}` : e.function;
    let a = this.acc.get(key);
    if (!a) {
      a = { function: e.function, tid: e.tid, calls: 0, total: 0, self: 0, min: Infinity, max: 0, unwound: 0, durations: new Float64Array(16) };
      this.acc.set(key, a);
    }
    if (a.calls === a.durations.length) {
      const grown = new Float64Array(a.durations.length * 2);
      grown.set(a.durations);
      a.durations = grown;
    }
    a.durations[a.calls++] = dur;
    a.total += dur;
    a.self += Math.max(0, dur - children);
    if (dur < a.min) a.min = dur;
    if (dur > a.max) a.max = dur;
    if (e.unwound) a.unwound++;
  }

  /** Calls of `fn` that ran without a return hook (Hook.nmissedBy, or the record's end line). */
  addMissed(fn: string, n: number): void {
    this.missed.set(fn, (this.missed.get(fn) ?? 0) + n);
  }

  /** The durations of one function's calls (all threads), sorted: for histograms. */
  durations(fn: string): Float64Array {
    const parts = [...this.acc.values()].filter((a) => a.function === fn).map((a) => a.durations.subarray(0, a.calls));
    const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) {
      all.set(p, i);
      i += p.length;
    }
    return all.sort();
  }

  functions(): string[] {
    return [...new Set([...this.acc.values()].map((a) => a.function))];
  }

  /** The rows, sorted by `sort` (largest first; ties by name). */
  rows(sort: SortKey = 'total'): SummaryRow[] {
    const rows: SummaryRow[] = [];
    const missedShown = new Set<string>();
    for (const a of this.acc.values()) {
      const sorted = a.durations.slice(0, a.calls).sort();
      const row: SummaryRow = {
        function: a.function,
        calls: a.calls,
        totalNs: a.total,
        selfNs: a.self,
        avgNs: a.calls ? a.total / a.calls : 0,
        minNs: a.calls ? a.min : 0,
        maxNs: a.max,
        p50Ns: percentile(sorted, 50),
        p99Ns: percentile(sorted, 99),
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
