// Record files (`rethook record -o run.rethook`): JSON lines.
//
//   line 1    the header: {"type":"rethook-record","version":1,"command":[...],
//             "pid":N,"attached":false,"arch":"x64","startTs":ns,"startWallNs":ns,
//             "overheadNs":ns|null,"patterns":[...],"modules":[{"pid","path","start"}]}
//   then      the events, exactly as `--format json` writes them (entry, exit,
//             process-exit, missed, refused, warning, fork, exec ...)
//   last      {"type":"end","ts":ns,"pids":[...],"calls":N,"nmissed":{"fn":n},
//             "functions":[{"pid","address","function"}],"status":{...}}
//
// A file without its end line was cut (the tracer was killed while
// recording): it is read up to its last complete line, and says so.
import * as fs from 'fs';
import { RethookError } from '../errors';
import type { NoteEvent, RunInfo, TraceEvent } from './events';

export const RECORD_VERSION = 1;

export interface RecordHeader extends RunInfo {
  type: 'rethook-record';
  version: number;
  attached: boolean;
  arch: string;
  patterns: string[];
  modules: { pid: number; path: string; start: string }[];
}

export interface RecordEnd extends NoteEvent {
  type: 'end';
  ts: number;
  pids: number[];
  calls: number;
  nmissed: Record<string, number>;
  status: { pid: number; code: number | null; signal: string | null; detached: boolean } | null;
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

export interface ReadRecord {
  header: RecordHeader;
  end: RecordEnd | null;
  /** The file ends early (no end line, or a line cut in the middle). */
  cut: boolean;
  /** Complete event lines read. */
  events: number;
}

/**
 * Read a record: the header, then each event to `onEvent` as it is read
 * (files of millions of events are never held whole). A line that is not
 * complete JSON ends the reading there: the file was cut.
 */
export function readRecord(file: string, onHeader: (h: RecordHeader) => void, onEvent: (e: TraceEvent) => void): ReadRecord {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new RethookError(`cannot open ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let header: RecordHeader | null = null;
  let end: RecordEnd | null = null;
  let cut = false;
  let events = 0;
  const chunk = Buffer.alloc(1 << 20);
  let rest = Buffer.alloc(0);
  const line = (text: string): boolean => {
    let o: TraceEvent;
    try {
      o = JSON.parse(text);
      if (typeof o !== 'object' || o === null || typeof o.type !== 'string') throw new Error('not an event');
    } catch {
      if (!header) throw new RethookError(`${file} is not a rethook record (its first line is no header)`);
      cut = true;
      return false;
    }
    if (!header) {
      const h = o as unknown as RecordHeader;
      if (h.type !== 'rethook-record') throw new RethookError(`${file} is not a rethook record (its first line is no header)`);
      if (h.version > RECORD_VERSION) throw new RethookError(`${file} is a record of format version ${h.version}; this rethook reads version ${RECORD_VERSION}`);
      header = h;
      onHeader(h);
      return true;
    }
    if (o.type === 'end') {
      end = o as RecordEnd;
      return false;
    }
    events++;
    onEvent(o);
    return true;
  };
  try {
    reading: for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      const data = n ? Buffer.concat([rest, chunk.subarray(0, n)]) : rest;
      let start = 0;
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, start)) {
        const keep = line(data.toString('utf8', start, i));
        start = i + 1;
        if (!keep) break reading;
      }
      rest = Buffer.from(data.subarray(start));
      if (!n) {
        if (rest.length) cut = true; // a last line without its end: cut in the middle
        break;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  if (!header) throw new RethookError(`${file} is not a rethook record (it is empty)`);
  if (!end) cut = true;
  return { header, end, cut, events };
}
