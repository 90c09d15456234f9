// What a view is (View, Tee) and what it is told of a run (RunInfo, EndInfo),
// with the time helpers the views share. The events themselves: ../events.ts.
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';

/** What the views know at the end of a run (live or replayed). */
export interface RunInfo {
  /** The program's command line (empty when attached). */
  command: string[];
  /** The process traced first. */
  pid: number;
  /** Monotonic and wall-clock time (ns) at the start, to show -t / -r times. */
  startTs: number;
  startWallNs: number;
  /**
   * The tracer's round trip measured at start-up and subtracted from every
   * duration in summaries, histograms and folded stacks; null: not measured
   * (durations shown as measured, and said so).
   */
  overheadNs: number | null;
  /**
   * What each hooked call nested in a trap-mode call added to its duration
   * besides the nested call's own (measured with overheadNs): taken off a
   * call's duration once per hooked call made inside it, at any depth.
   * Absent or null: not measured (records written before it).
   */
  nestedNs?: number | null;
  /** How the hook asked for its calls to be caught ('fast', else trap): what the durations include. */
  mode?: 'fast' | 'trap';
  /** Objects with code mapped in the traced processes (a record's header has them): where pprof places the functions. */
  modules?: ModuleRef[];
}

/** An object mapped in a process: its path and the address of its first mapping (hex). */
export interface ModuleRef {
  pid: number;
  path: string;
  start: string;
}

export interface EndInfo {
  /** Last timestamp seen (ns). */
  endTs: number;
  /** Calls that ran without a return hook, per function ('' when unknown). */
  nmissed: Map<string, number>;
  /** The record was cut (the tracer was killed while recording): events end early. */
  cut: boolean;
  /** How the program ended, when known. */
  status: { pid: number; code: number | null; signal: string | null; detached: boolean } | null;
}

/** A consumer of events: a view, a filter, or several views at once. */
export interface View {
  entry(e: EntryEvent): void;
  exit(e: ExitEvent): void;
  /** A line about the run itself; `text` is what the text views print ('' for nothing). */
  note(e: NoteEvent, text: string): void;
  end(info: EndInfo): void;
}

/** Several views fed the same events. */
export class Tee implements View {
  constructor(readonly views: View[]) {}
  entry(e: EntryEvent): void {
    for (const v of this.views) v.entry(e);
  }
  exit(e: ExitEvent): void {
    for (const v of this.views) v.exit(e);
  }
  note(e: NoteEvent, text: string): void {
    for (const v of this.views) v.note(e, text);
  }
  end(info: EndInfo): void {
    for (const v of this.views) v.end(info);
  }
}

/**
 * A duration as summaries show it: the measured one less the tracer's round
 * trip, and less what the `nested` hooked calls made inside it (at any depth)
 * added to it (nestedNs each); never below 0.
 */
export function callTime(durationNs: number, overheadNs: number | null, nested = 0, nestedNs: number | null = null): number {
  return overheadNs ? Math.max(0, durationNs - overheadNs - nested * (nestedNs ?? 0)) : durationNs;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** '10us', '1.5ms', '2s', '300' (ns) -> ns, or null when it is none of these. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ns']);
}

export function formatDuration(ns: bigint | number): string {
  const n = Number(ns);
  if (n < 1e3) return `${n} ns`;
  if (n < 1e6) return `${tenths(n)} us`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} ms`;
  return `${(n / 1e9).toFixed(2)} s`;
}

/**
 * (n / 1e3).toFixed(1), without toFixed (slow, and every exit line has a
 * duration). For an integer n that is not a tie (n % 100 !== 50) rounding the
 * integer gives the same digit: the double n / 1e3 is far closer to n / 1e3
 * than to the midpoint. A tie depends on which side the double fell: toFixed decides.
 */
function tenths(n: number): string {
  const r = n % 100;
  if (!Number.isInteger(n) || r === 50) return (n / 1e3).toFixed(1);
  const t = (n - r) / 100 + (r > 50 ? 1 : 0);
  return `${(t - (t % 10)) / 10}.${t % 10}`;
}

/** Monotonic ns now (the clock of every ts). */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** Wall-clock ns now, to pair with monotonicNs() taken at the same moment. */
export function wallNs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}

/** Why calls ran without a return hook, in one line (MissedReason): the reason alone when there is one, else each with its count. */
export function missedLine(n: number, reasons: Record<string, number>, maxActive: number): string {
  const why: Record<string, string> = {
    'max-active': `--max-active ${maxActive} calls were already in flight`,
    depth: 'they were deeper than the node stack (1,024 calls per thread in fast mode)',
    'no-thread': 'their threads had no room in the fast-mode arena, or were not registered yet',
    reentered: 'signal handlers made them while interrupting the recorder',
    'tail-call': 'they were tail calls that could not be matched to their caller',
    damaged: 'the program wrote over its fast-mode arena',
  };
  const parts = Object.entries(reasons).filter(([, k]) => k > 0);
  const text = parts.length === 0 ? why['max-active'] : parts.length === 1 ? why[parts[0][0]] ?? parts[0][0] : parts.map(([r, k]) => `${k}: ${why[r] ?? r}`).join('; ');
  return `${n} calls ran without a return hook: ${text}`;
}
