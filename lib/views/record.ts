// Record files of format version 1 (JSON lines), as `rethook record` writes
// them until the binary writer (lib/record/write.ts) replaces it; they are
// read by lib/record/read.ts no more (versions 2 and 3 only: it says so in one line).
// What stays here: the header and end lines, the modules, and the bound on
// the calls in flight that the views hold (InFlightBound).
//
// Version 1 was:
//
//   line 1    the header: {"type":"rethook-record","version":1,"command":[...],
//             "pid":N,"attached":false,"arch":"x64","startTs":ns,"startWallNs":ns,
//             "overheadNs":ns|null,"patterns":[...],"modules":[{"pid","path","start"}],
//             "fallbacks":[{"function","reason"}]} (the functions in trap mode and why)
//   then      the events, exactly as `--format json` writes them (entry, exit,
//             process-exit, missed, refused, warning, fork, exec ...)
//   last      {"type":"end","ts":ns,"pids":[...],"calls":N,"nmissed":{"fn":n},
//             "functions":[{"pid","address","function"}],"status":{...}}

import * as fs from 'fs';
import type { RunInfo } from './view';
import type { RecordEnd, RecordHeader } from './record-check';
import type { Fallback } from './fallbacks';

export const RECORD_VERSION = 1;

export type { RecordEnd, RecordHeader } from './record-check';

/** A record's first line (RecordHeader): what ran, where, and what was asked. */
export function recordHeaderLine(run: RunInfo, attached: boolean, patterns: readonly string[], modules: RecordHeader['modules'], tool: string,
  fallbacks: readonly Fallback[] = []): string {
  return JSON.stringify({
    type: 'rethook-record', version: RECORD_VERSION, command: run.command, pid: run.pid, attached, arch: process.arch,
    startTs: run.startTs, startWallNs: run.startWallNs, overheadNs: run.overheadNs, mode: run.mode, patterns, modules, cwd: process.cwd(), tool, fallbacks,
  }) + '\n';
}

/** A record's last line (RecordEnd). */
export function recordEndLine(end: Omit<RecordEnd, 'type'> & { functions: readonly unknown[] }): string {
  return JSON.stringify({ type: 'end', ...end }) + '\n';
}

/** Objects with executable code mapped in a process, from /proc/PID/maps: path and load address (its first mapping). */
export function loadedModules(pid: number): { pid: number; path: string; start: string }[] {
  const first = new Map<string, string>();
  const code = new Set<string>();
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-[0-9a-f]+ (\S+) [0-9a-f]+ \S+ (\d+)\s+(\/.*)$/.exec(line);
      if (!m || m[3] === '0') continue;
      if (!first.has(m[4])) first.set(m[4], '0x' + m[1]);
      if (m[2].includes('x')) code.add(m[4]);
    }
  } catch {
    /* gone, or not readable: no modules known */
  }
  return [...first].filter(([p]) => code.has(p)).map(([p, start]) => ({ pid, path: p, start }));
}

/** Calls of a record in flight at once (entered, their exits not seen yet), all threads together, that the views hold. */
export const IN_FLIGHT_MAX = 1 << 17;
/** ... and the bytes of their entry lines. */
export const IN_FLIGHT_BYTES = 32 << 20;

/** A thread's calls in flight (depth, function and line length of each), and the depth of the call dropped on it (-1: none). */
interface Thread {
  depths: number[];
  fns: string[];
  bytes: number[];
  dropFrom: number;
}

/**
 * The calls of a record in flight, per thread, as the views keep them (a
 * stack by depth: an entry at depth d ends the calls at d or deeper that
 * never returned). The views hold each such entry (the Chrome trace closes
 * them at the end), so a record of calls that never return would make them
 * hold the whole file: past IN_FLIGHT_MAX calls or IN_FLIGHT_BYTES, a new
 * call is dropped (not shown, with the calls made inside it) and counted.
 */
export class InFlightBound {
  private readonly threads = new Map<number, Thread>();
  private held = 0;
  private heldBytes = 0;
  /** Calls dropped (their entries and exits not shown). */
  dropped = 0;

  constructor(private readonly max = IN_FLIGHT_MAX, private readonly maxBytes = IN_FLIGHT_BYTES) {}

  /** Calls in flight now (of those shown). */
  get open(): number {
    return this.held;
  }

  /** A call's entry (its line `bytes` long): false when it is dropped. */
  entry(tid: number, depth: number, fn: string, bytes: number): boolean {
    let t = this.threads.get(tid);
    if (!t) this.threads.set(tid, (t = { depths: [], fns: [], bytes: [], dropFrom: -1 }));
    this.unwind(t, depth);
    // A dropped call at this depth or deeper never returned; calls deeper than it are inside it.
    if (t.dropFrom >= depth) t.dropFrom = -1;
    if (t.dropFrom >= 0 || this.held >= this.max || this.heldBytes + bytes > this.maxBytes) {
      if (t.dropFrom < 0) t.dropFrom = depth;
      this.dropped++;
      return false;
    }
    t.depths.push(depth);
    t.fns.push(fn);
    t.bytes.push(bytes);
    this.held++;
    this.heldBytes += bytes;
    return true;
  }

  /** A call's exit: false when it is the exit of a dropped call (or of one inside it). */
  exit(tid: number, depth: number, fn: string): boolean {
    const t = this.threads.get(tid);
    if (!t) return true; // an exit without its entry (inherited in flight): nothing held
    if (t.dropFrom >= 0) {
      if (depth >= t.dropFrom) {
        if (depth === t.dropFrom) t.dropFrom = -1;
        return false;
      }
      t.dropFrom = -1; // a call outside the dropped one returned: that one ended unseen
    }
    // As the views match an exit: deeper calls never returned; the top one ends if it is this call.
    this.unwind(t, depth + 1);
    const top = t.depths.length - 1;
    if (top >= 0 && t.depths[top] === depth && t.fns[top] === fn) this.unwind(t, depth);
    if (!t.depths.length && t.dropFrom < 0) this.threads.delete(tid);
    return true;
  }

  /** Whether thread `tid`'s calls are being dropped now (a dropped call is in flight). */
  dropping(tid: number): boolean {
    return (this.threads.get(tid)?.dropFrom ?? -1) >= 0;
  }

  /**
   * Thread `tid`'s calls in flight are now these: what a writer that shows a
   * thread's calls without asking (record/tree-lines.ts, kept below the
   * bound's limits so that it would have dropped none) left open.
   */
  setThread(tid: number, depths: number[], fns: string[], bytes: number[]): void {
    const old = this.threads.get(tid);
    if (old) this.unwind(old, 0);
    if (!depths.length) {
      if (old && old.dropFrom < 0) this.threads.delete(tid);
      return;
    }
    const t = old ?? { depths: [], fns: [], bytes: [], dropFrom: -1 };
    this.threads.set(tid, t);
    for (let i = 0; i < depths.length; i++) {
      t.depths.push(depths[i]);
      t.fns.push(fns[i]);
      t.bytes.push(bytes[i]);
      this.heldBytes += bytes[i];
    }
    this.held += depths.length;
  }

  /** Forget the calls at `depth` or deeper on a thread. */
  private unwind(t: Thread, depth: number): void {
    while (t.depths.length && t.depths[t.depths.length - 1] >= depth) {
      t.depths.pop();
      t.fns.pop();
      this.held--;
      this.heldBytes -= t.bytes.pop()!;
    }
  }
}
