// The summary table and latency histograms as text (and JSON), and the view
// that collects them over a run.
import type { Sink } from './format';
import { escapeText } from '../symbols/text';
import type { Palette } from './colors';
import { EndInfo, EntryEvent, ExitEvent, formatDuration, NoteEvent, View } from './events';
import { percentile, SortKey, Summary, SummaryRow } from './summary';
import { globToRegExp } from '../symbols/patterns';

/** What the durations shown include, said once above the numbers. */
export function durationsNote(overheadNs: number | null, mode?: 'fast' | 'trap'): string {
  if (overheadNs !== null) return `durations less the tracer's round trip (${formatDuration(Math.round(overheadNs))} per call, measured at start-up); a caller's total keeps about one round trip per hooked call nested in it`;
  return mode === 'fast'
    ? 'durations as the calls took them, timed in the process (functions left in trap mode, listed below, include the tracer\'s round trip)'
    : 'durations as measured: each includes the tracer\'s round trip (not measured)';
}

export function renderSummary(rows: SummaryRow[], perThread: boolean, c: Palette): string {
  const head = [...(perThread ? ['tid'] : []), 'calls', 'total', 'self', 'avg', 'min', 'max', 'p50', 'p99', 'unwound', 'missed', 'function'];
  const body = rows.map((r) => [
    ...(perThread ? [String(r.tid)] : []),
    String(r.calls),
    ...[r.totalNs, r.selfNs, r.avgNs, r.minNs, r.maxNs, r.p50Ns, r.p99Ns].map((n) => (r.calls ? formatDuration(Math.round(n)) : '-')),
    String(r.unwound),
    String(r.nmissed),
    escapeText(r.function),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[], color: (s: string, i: number) => string) =>
    cells.map((s, i) => color(i === cells.length - 1 ? s : s.padStart(widths[i]), i)).join('  ').trimEnd() + '\n';
  const last = head.length - 1;
  return line(head, (s) => c.header(s)) + body.map((b) => line(b, (s, i) => (i === last ? c.fn(s) : s))).join('');
}

/** ns as bpftrace labels buckets: 512, 1K, 2M... (powers of 1024). */
function label(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let u = 0;
  while (n >= 1024 && n % 1024 === 0 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n}${units[u]}`;
}

export interface Bucket {
  /** [low, high) in ns; the first bucket is [0, 1). */
  low: number;
  high: number;
  count: number;
}

/** log2 buckets of sorted durations, every bucket from the lowest used to the highest (as bpftrace's hist()). */
export function log2Buckets(sorted: ArrayLike<number>): Bucket[] {
  if (!sorted.length) return [];
  const index = (v: number) => (v < 1 ? -1 : Math.floor(Math.log2(v)));
  const lo = index(sorted[0]), hi = index(sorted[sorted.length - 1]);
  const buckets: Bucket[] = [];
  for (let k = lo; k <= hi; k++) buckets.push({ low: k < 0 ? 0 : 2 ** k, high: 2 ** (k + 1), count: 0 });
  for (let i = 0; i < sorted.length; i++) {
    let k = index(sorted[i]);
    // floating point at exact powers of two: settle into the right bucket
    while (k < hi && sorted[i] >= 2 ** (k + 1)) k++;
    while (k > lo && sorted[i] < 2 ** k) k--;
    buckets[k - lo].count++;
  }
  return buckets;
}

export function renderHistogram(fn: string, sorted: ArrayLike<number>, overheadNs: number | null, c: Palette, mode?: 'fast' | 'trap'): string {
  const buckets = log2Buckets(sorted);
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const width = 52;
  let s = `${c.header(`@${escapeText(fn)}`)}: ${sorted.length} calls, durations in ns; ${durationsNote(overheadNs, mode)}\n`;
  for (const b of buckets) {
    const range = `[${label(b.low)}, ${label(b.high)})`;
    const bar = '@'.repeat(Math.round((b.count / max) * width));
    s += `${range.padEnd(20)}${String(b.count).padStart(8)} |${bar.padEnd(width)}|\n`;
  }
  if (sorted.length) {
    const p = (q: number) => formatDuration(Math.round(percentile(sorted, q)));
    s += `p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${formatDuration(Math.round(sorted[sorted.length - 1]))}\n`;
  }
  return s;
}

export interface SummaryViewOptions {
  summary: boolean;
  /** Globs of the functions to draw a histogram of (['*']: all). */
  hist: string[];
  sort: SortKey;
  perThread: boolean;
  json: boolean;
  colors: Palette;
  overheadNs: number | null;
  /** How the calls were caught (RunInfo.mode): what the durations include. */
  mode?: 'fast' | 'trap';
  /** A line to put first (the end-of-run line), or ''. */
  headline: () => string;
}

/** Collects a run into a Summary and writes the table and histograms at its end. */
export class SummaryView implements View {
  readonly summary: Summary;
  constructor(private readonly out: Sink, private readonly o: SummaryViewOptions) {
    this.summary = new Summary({ overheadNs: o.overheadNs, perThread: o.perThread });
  }
  entry(e: EntryEvent): void {
    this.summary.entry(e);
  }
  exit(e: ExitEvent): void {
    this.summary.exit(e);
  }
  /** What the run said about its hooks (refused, in trap mode, warnings): listed after the table. */
  private readonly notes: { type: string; message: string }[] = [];
  note(e: NoteEvent, text: string): void {
    if (text && (e.type === 'refused' || e.type === 'fallback' || e.type === 'warning' || e.type === 'missed')) this.notes.push({ type: e.type, message: text });
  }
  end(info: EndInfo): void {
    for (const [fn, n] of info.nmissed) this.summary.addMissed(fn, n);
    const rows = this.summary.rows(this.o.sort);
    const globs = this.o.hist.map((h) => globToRegExp(h, false));
    const histFns = this.summary.functions().filter((f) => globs.some((g) => g.test(f))).sort();
    if (this.o.json) {
      const o: Record<string, unknown> = { type: 'summary', overheadNs: this.o.overheadNs, sort: this.o.sort, cut: info.cut || undefined };
      if (this.notes.length) o.notes = this.notes;
      if (this.o.summary) o.rows = rows;
      if (histFns.length) {
        o.histograms = histFns.map((f) => {
          const d = this.summary.durations(f);
          return { function: f, calls: d.length, buckets: log2Buckets(d), p50Ns: percentile(d, 50), p90Ns: percentile(d, 90), p99Ns: percentile(d, 99) };
        });
      }
      this.out.write(JSON.stringify(o) + '\n');
      this.out.flush();
      return;
    }
    let s = '';
    const head = this.o.headline();
    if (head) s += head + '\n';
    if (this.o.summary) s += `rethook: ${durationsNote(this.o.overheadNs, this.o.mode)}\n` + renderSummary(rows, this.o.perThread, this.o.colors);
    for (const f of histFns) s += '\n' + renderHistogram(f, this.summary.durations(f), this.o.overheadNs, this.o.colors, this.o.mode);
    for (const n of this.notes) s += `rethook: ${escapeText(n.message)}\n`;
    this.out.write(s);
    this.out.flush();
  }
}
