// Record files (`rethook record -o run.rethook`): JSON lines.
//
//   line 1    the header: {"type":"rethook-record","version":1,"command":[...],
//             "pid":N,"attached":false,"arch":"x64","startTs":ns,"startWallNs":ns,
//             "overheadNs":ns|null,"patterns":[...],"modules":[{"pid","path","start"}],
//             "fallbacks":[{"function","reason"}]} (the functions in trap mode and why)
//   then      the events, exactly as `--format json` writes them (entry, exit,
//             process-exit, missed, refused, warning, fork, exec ...)
//   last      {"type":"end","ts":ns,"pids":[...],"calls":N,"nmissed":{"fn":n},
//             "functions":[{"pid","address","function"}],"status":{...}}
//
// A file without its end line was cut (the tracer was killed while
// recording): it is read up to its last complete line, and says so.
//
// A record is untrusted input: every field is checked (record-check.ts), a
// line is read in time linear in its length and held only up to a bound, and
// the calls in flight that the views hold are bounded too (InFlightBound).
import * as fs from 'fs';
import { RethookError } from '../errors';
import type { RunInfo, TraceEvent } from './events';
import type { Fallback } from './fallbacks';
import { checkEnd, checkEvent, checkHeader, RecordEnd, RecordFieldError, RecordHeader } from './record-check';

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

/** An event line longer than this is skipped, with a warning in its place (rethook writes none this long). */
export const LINE_MAX = 1 << 20;
/** The header and the end line may be longer (a long command line, thousands of hooked functions). */
export const LONG_LINE_MAX = 64 << 20;

export interface ReadRecord {
  header: RecordHeader;
  end: RecordEnd | null;
  /** The file ends early (no end line, or a line cut in the middle). */
  cut: boolean;
  /** Complete event lines read. */
  events: number;
  /** Lines skipped for being longer than their bound: how many, and the first one's number (0: none). */
  skipped: { lines: number; first: number };
}

/** The first `n` bytes of a line held in pieces. */
function lineStart(parts: Buffer[], n: number): string {
  let s = '';
  for (const p of parts) {
    s += p.toString('latin1', 0, Math.min(p.length, n - s.length));
    if (s.length >= n) break;
  }
  return s;
}

/**
 * Read a record: the header, then each event to `onEvent` as it is read,
 * with the length of its line (files of millions of events are never held
 * whole). Every line is checked (record-check.ts): a bad field throws a
 * RethookError naming the file, the line and the field. A line that is not
 * JSON ends the reading there when it is the last one (the file was cut);
 * with more lines after it, it is an error too. Reading is linear in the
 * file's size: a line is put together once, and one longer than its bound
 * (LINE_MAX, LONG_LINE_MAX) is only counted as it goes by, then skipped with
 * a `warning` event in its place.
 */
export function readRecord(file: string, onHeader: (h: RecordHeader) => void, onEvent: (e: TraceEvent, bytes: number) => void): ReadRecord {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new RethookError(`cannot open ${file}: ${(e as NodeJS.ErrnoException).code}`, 'ERECORD');
  }
  let header: RecordHeader | null = null;
  let end: RecordEnd | null = null;
  let events = 0;
  const skipped = { lines: 0, first: 0 };
  /** A line that is not JSON: the file was cut there, unless anything follows it. */
  let notJson = 0;
  const bad = (no: number, what: string) => new RethookError(`${file} line ${no}: ${what}`, 'ERECORD');
  const nothingFollows = () => {
    if (notJson) throw bad(notJson, 'not a JSON object with a "type", and more lines follow it');
  };
  const notRecord = (why: string) => new RethookError(`${file} is not a rethook record (${why})`, 'ERECORD');

  /** One whole line (number `no`); false: the reading ends here. */
  const line = (text: string, no: number): boolean => {
    nothingFollows();
    let o: Record<string, unknown> | null = null;
    try {
      const v = JSON.parse(text);
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.type === 'string') o = v;
    } catch {
      /* not JSON */
    }
    if (!o) {
      if (!header) throw notRecord('its first line is no header');
      notJson = no;
      return true;
    }
    let what = 'header';
    try {
      if (!header) {
        if (o.type !== 'rethook-record') throw notRecord('its first line is no header');
        if (Number.isInteger(o.version) && (o.version as number) > RECORD_VERSION) {
          throw new RethookError(`${file} is a record of format version ${o.version}; this rethook reads version ${RECORD_VERSION}`, 'ERECORD');
        }
        header = checkHeader(o);
        onHeader(header);
        return true;
      }
      if (o.type === 'end') {
        what = 'end line';
        end = checkEnd(o);
        return false;
      }
      what = `'${(o.type as string).slice(0, 40)}' event`;
      const e = checkEvent(o);
      events++;
      onEvent(e, text.length);
      return true;
    } catch (err) {
      if (err instanceof RecordFieldError) throw bad(no, `${what} ${err.message}`);
      throw err;
    }
  };

  /** A line past its bound, gone by (`bytes` long): skipped, with a warning event in its place. */
  const skip = (no: number, bytes: number, max: number) => {
    nothingFollows();
    if (!skipped.lines) skipped.first = no;
    skipped.lines++;
    onEvent({ type: 'warning', message: `${file} line ${no} skipped: ${bytes} bytes, longer than the ${max >> 20} MiB a record line may take` }, 0);
  };

  // The line being read, in pieces (each a view of the chunk it was read in), or only its length once past its bound.
  let parts: Buffer[] = [];
  let length = 0;
  let max = LONG_LINE_MAX; // the header's bound, then LINE_MAX (the end line's once its start is seen)
  let over = false;
  let no = 0;
  try {
    reading: for (;;) {
      const chunk = Buffer.allocUnsafe(1 << 20);
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (!n) break;
      const data = chunk.subarray(0, n);
      let start = 0;
      while (start < n) {
        const nl = data.indexOf(10, start);
        const stop = nl < 0 ? n : nl;
        length += stop - start;
        if (!over) {
          parts.push(data.subarray(start, stop));
          if (length > LINE_MAX && header && max === LINE_MAX && lineStart(parts, 14) === '{"type":"end",') max = LONG_LINE_MAX;
          if (length > max) {
            if (!header) throw notRecord(`its first line is longer than ${max >> 20} MiB`);
            over = true;
            parts = [];
          }
        }
        if (nl < 0) break;
        no++;
        if (over) skip(no, length, max);
        else if (!line(parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts, length).toString('utf8'), no)) break reading;
        parts = [];
        length = 0;
        over = false;
        max = LINE_MAX;
        start = nl + 1;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  if (!end && length) {
    // A last line without its line end: cut in the middle, or a complete line whose line end is missing.
    if (over) skip(no + 1, length, max);
    else {
      const text = Buffer.concat(parts, length).toString('utf8');
      let complete = true;
      try {
        JSON.parse(text);
      } catch {
        complete = false;
      }
      if (complete) line(text, no + 1);
      else if (!header) throw notRecord('its first line is no header');
      else nothingFollows();
    }
  }
  if (!header) throw notRecord('it is empty');
  return { header, end, cut: !end, events, skipped };
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
