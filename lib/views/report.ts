// The summary table and latency histograms as text (and JSON), and the view
// that collects them over a run.
import type { Sink } from './format';
import { escapeText } from '../symbols/text';
import type { Palette } from './colors';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import { EndInfo, formatDuration, View } from './view';
import { PERCENTILE_RELATIVE_ERROR, SortKey, Summary, SummaryRow } from './summary';
import { Bucket, Histogram } from './histogram';

export type { Bucket };
import { globToRegExp } from '../symbols/patterns';
import { Fallback, fallbackLines, fallbacksOf } from './fallbacks';

/**
 * What the durations shown include, said once above the numbers. `trapped`:
 * in a fast run, some functions are in trap mode (listed below the numbers):
 * theirs, and their callers', include the tracer's round trip, not subtracted.
 */
export function durationsNote(overheadNs: number | null, mode?: 'fast' | 'trap', trapped = false, nestedNs: number | null = null): string {
  if (overheadNs !== null && nestedNs !== null) {
    return `durations less the tracer's round trip (${formatDuration(Math.round(overheadNs))} per call) and, in a caller, what each hooked call nested in it added (${formatDuration(Math.round(nestedNs))}), both measured at start-up`;
  }
  if (overheadNs !== null) return `durations less the tracer's round trip (${formatDuration(Math.round(overheadNs))} per call, measured at start-up); a caller's total keeps about one round trip per hooked call nested in it`;
  if (mode === 'fast') {
    return trapped
      ? 'durations as the calls took them, timed in the process, except for the functions in trap mode listed below: theirs, and those of the calls they run inside, include the tracer\'s round trip'
      : 'durations as the calls took them, timed in the process';
  }
  return 'durations as measured: each includes the tracer\'s round trip (not measured)';
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

/** What the percentiles shown are (they come from the histogram, not from every duration). */
export const PERCENTILES_NOTE = `percentiles within ${(PERCENTILE_RELATIVE_ERROR * 100).toFixed(1)}%`;

export function renderHistogram(fn: string, h: Histogram, overheadNs: number | null, c: Palette, mode?: 'fast' | 'trap', nestedNs: number | null = null): string {
  const buckets = h.log2Buckets();
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const width = 52;
  let s = `${c.header(`@${escapeText(fn)}`)}: ${h.count} calls, durations in ns; ${durationsNote(overheadNs, mode, false, nestedNs)}; ${PERCENTILES_NOTE}\n`;
  for (const b of buckets) {
    const range = `[${label(b.low)}, ${label(b.high)})`;
    const bar = '@'.repeat(Math.round((b.count / max) * width));
    s += `${range.padEnd(20)}${String(b.count).padStart(8)} |${bar.padEnd(width)}|\n`;
  }
  if (h.count) {
    const p = (q: number) => formatDuration(Math.round(h.percentile(q)));
    s += `p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${formatDuration(Math.round(h.max))}\n`;
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
  /** With overheadNs: taken off a call once per hooked call nested in it. */
  nestedNs?: number | null;
  /** How the calls were caught (RunInfo.mode): what the durations include. */
  mode?: 'fast' | 'trap';
  /** A line to put first (the end-of-run line), or ''. */
  headline: () => string;
}

/** Collects a run into a Summary and writes the table and histograms at its end. */
export class SummaryView implements View {
  readonly summary: Summary;
  constructor(private readonly out: Sink, private readonly o: SummaryViewOptions) {
    this.summary = new Summary({ overheadNs: o.overheadNs, nestedNs: o.nestedNs, perThread: o.perThread });
  }
  entry(e: EntryEvent): void {
    this.summary.entry(e);
  }
  exit(e: ExitEvent): void {
    this.summary.exit(e);
  }
  /** What the run said about its hooks (refused, in trap mode, warnings): listed after the table. */
  private readonly notes: { type: string; message: string }[] = [];
  /** The functions in trap mode and why (the fallbacks note, then those found as objects were loaded), each once. */
  private readonly fallbacks: Fallback[] = [];
  private readonly fallbackSeen = new Set<string>();
  note(e: NoteEvent, text: string): void {
    for (const f of fallbacksOf(e)) {
      const key = `${f.function}\0${f.reason}`;
      if (!this.fallbackSeen.has(key)) this.fallbacks.push(f);
      this.fallbackSeen.add(key);
    }
    // A fallback said in the run's first note has no text of its own; JSON's notes list it as before.
    const message = text || (e.type === 'fallback' && typeof e.message === 'string' ? e.message : '');
    if (message && (e.type === 'refused' || e.type === 'fallback' || e.type === 'warning' || e.type === 'missed')) this.notes.push({ type: e.type, message });
  }
  end(info: EndInfo): void {
    for (const [fn, n] of info.nmissed) this.summary.addMissed(fn, n);
    const rows = this.summary.rows(this.o.sort);
    const globs = this.o.hist.map((h) => globToRegExp(h, false));
    const histFns = this.summary.functions().filter((f) => globs.some((g) => g.test(f))).sort();
    if (this.o.json) {
      const o: Record<string, unknown> = {
        type: 'summary', overheadNs: this.o.overheadNs, nestedNs: this.summary.nestedNs, sort: this.o.sort, cut: info.cut || undefined,
        // p50Ns, p90Ns, p99Ns come from a histogram: within this fraction of the exact percentile (exact below 256 ns)
        percentileRelativeError: PERCENTILE_RELATIVE_ERROR,
      };
      if (this.notes.length) o.notes = this.notes;
      if (this.fallbacks.length) o.fallbacks = this.fallbacks;
      if (this.o.summary) o.rows = rows;
      if (histFns.length) {
        o.histograms = histFns.map((f) => {
          const h = this.summary.histogram(f);
          return { function: f, calls: h.count, buckets: h.log2Buckets(), p50Ns: h.percentile(50), p90Ns: h.percentile(90), p99Ns: h.percentile(99) };
        });
      }
      this.out.write(JSON.stringify(o) + '\n');
      this.out.flush();
      return;
    }
    let s = '';
    const head = this.o.headline();
    if (head) s += head + '\n';
    // In a fast run, the functions in trap mode are timed with the tracer's round trip (not subtracted: it was not measured).
    const trapped = this.o.mode === 'fast' && this.fallbacks.length > 0;
    const inTrap = new Set(this.fallbacks.map((f) => f.function));
    if (this.o.summary) s += `rethook: ${durationsNote(this.o.overheadNs, this.o.mode, trapped, this.summary.nestedNs)}\n` + renderSummary(rows, this.o.perThread, this.o.colors);
    for (const f of histFns) s += '\n' + renderHistogram(f, this.summary.histogram(f), this.o.overheadNs, this.o.colors, inTrap.has(f) ? 'trap' : this.o.mode, this.summary.nestedNs);
    for (const line of fallbackLines(this.fallbacks)) s += `rethook: ${line}\n`;
    for (const n of this.notes) if (n.type !== 'fallback') s += `rethook: ${escapeText(n.message)}\n`;
    this.out.write(s);
    this.out.flush();
  }
}
