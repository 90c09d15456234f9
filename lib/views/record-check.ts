// Record files are untrusted input (a file in a shared directory, a file
// from someone else): every field of the header, the events and the end line
// is checked for its type and range before a view sees it. A bad field is a
// RecordFieldError naming the field (`depth`, `argv[2].value`,
// `nmissed["kv_get"]`); readRecord adds the file and the line.
//
// Fields this version does not know are allowed (new ones are only ever
// added), as are event types it does not know, but no value may nest deeper
// than LIMITS.nesting: the views write events out again (JSON.stringify is
// recursive).
import type { Fallback } from './fallbacks';
import type { EntryEvent, ExitEvent, NoteEvent, LineEvent } from '../events';
import type { RunInfo } from './view';

/** A record's first line (record.ts has the format). */
export interface RecordHeader extends RunInfo {
  type: 'rethook-record';
  version: number;
  attached: boolean;
  arch: string;
  patterns: string[];
  modules: { pid: number; path: string; start: string }[];
  /** The functions left in trap mode and why (absent in records older than this field). */
  fallbacks?: Fallback[];
}

/** A record's last line. */
export interface RecordEnd extends NoteEvent {
  type: 'end';
  ts: number;
  pids: number[];
  calls: number;
  nmissed: Record<string, number>;
  status: { pid: number; code: number | null; signal: string | null; detached: boolean } | null;
}

/** A field of a record with the wrong type or out of range. */
export class RecordFieldError extends Error {
  constructor(readonly field: string, expected: string, found: unknown) {
    super(`field '${field}': expected ${expected}, found ${shown(found)}`);
    this.name = 'RecordFieldError';
  }
}

/** What a record may hold: what rethook writes, with room. */
export const LIMITS = {
  /** pids and tids: Linux's PID_MAX_LIMIT. */
  pid: 4194304,
  /** Hooked calls nested on one thread (0 = outermost). */
  depth: 2 ** 31 - 1,
  /** Timestamps and durations (ns): a 64-bit clock. */
  ns: 2 ** 64,
  /** Counts (calls, nmissed). */
  count: Number.MAX_SAFE_INTEGER,
  /** Integer arguments of an entry (6 registers on x86-64, 8 on arm64). */
  args: 16,
  /** Levels of arrays and objects in one event (typed struct values, fields not known here). */
  nesting: 32,
} as const;

/** A value as a message shows it: short, on one line (the CLI escapes control characters). */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}...` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

type Obj = Record<string, unknown>;

const HEX = /^0x[0-9a-f]{1,16}$/;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function object(v: unknown, field: string): Obj {
  if (!isObject(v)) throw new RecordFieldError(field, 'an object', v);
  return v;
}

export function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new RecordFieldError(field, 'a string', v);
  return v;
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new RecordFieldError(field, 'true or false', v);
  return v;
}

export function int(v: unknown, field: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RecordFieldError(field, `an integer from ${lo} to ${hi}`, v);
  return v;
}

const pid = (v: unknown, field: string) => int(v, field, 1, LIMITS.pid);
const count = (v: unknown, field: string) => int(v, field, 0, LIMITS.count);

/** ns since some start (or a duration): a number from 0 to 2^64. */
function ns(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= LIMITS.ns)) throw new RecordFieldError(field, 'a number of ns from 0 to 2^64', v);
  return v;
}

function hex(v: unknown, field: string): string {
  if (typeof v !== 'string' || !HEX.test(v)) throw new RecordFieldError(field, 'a hex string (0x and 1 to 16 digits)', v);
  return v;
}

function array(v: unknown, field: string, max = Infinity): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new RecordFieldError(field, max === Infinity ? 'an array' : `an array of at most ${max}`, v);
  return v;
}

function each(v: unknown, field: string, check: (x: unknown, field: string) => unknown, max = Infinity): void {
  const a = array(v, field, max);
  for (let i = 0; i < a.length; i++) check(a[i], `${field}[${i}]`);
}

const orNull = <T>(check: (v: unknown, field: string) => T) => (v: unknown, field: string): T | null => (v === null ? null : check(v, field));
const optional = (o: Obj, k: string, check: (v: unknown, field: string) => unknown) => {
  if (o[k] !== undefined) check(o[k], k);
};

/** Arrays and objects nested at most LIMITS.nesting deep in `v` (checked without deep recursion: it stops there). */
function shallow(v: unknown, field: string, level = 0): void {
  if (typeof v !== 'object' || v === null) return;
  if (level >= LIMITS.nesting) throw new RecordFieldError(field, `at most ${LIMITS.nesting} levels of arrays and objects`, 'more');
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) shallow(v[i], field, level + 1);
  } else {
    for (const k in v) shallow((v as Obj)[k], field, level + 1);
  }
}

/** The top-level fields of an event, each no deeper than LIMITS.nesting. */
export function allShallow(o: Obj): void {
  for (const k in o) shallow(o[k], k, 1);
}

/** An `argv` entry or a `ret`: {name?, type?, value?, error?, truncated?} (value: any JSON, already shallow). */
export function typed(v: unknown, field: string): void {
  const o = object(v, field);
  if (o.name !== undefined) str(o.name, `${field}.name`);
  if (o.type !== undefined) str(o.type, `${field}.type`);
  if (o.error !== undefined) str(o.error, `${field}.error`);
  if (o.truncated !== undefined) bool(o.truncated, `${field}.truncated`);
}

function module(v: unknown, field: string): void {
  const o = object(v, field);
  pid(o.pid, `${field}.pid`);
  str(o.path, `${field}.path`);
  hex(o.start, `${field}.start`);
}

function site(v: unknown, field: string): void {
  const o = object(v, field);
  pid(o.pid, `${field}.pid`);
  ns(o.address, `${field}.address`); // an address: a number from 0 to 2^64, as ns are
  str(o.function, `${field}.function`);
}

const exitCode = orNull((v, field) => int(v, field, -(2 ** 31), 2 ** 31 - 1));
const nullableStr = orNull(str);

/** How a process ended: the end line's `status` (field 'status'), or a process-exit note's own fields (field ''). */
function exitStatus(v: unknown, field: string): void {
  const o = object(v, field);
  const at = (k: string) => (field ? `${field}.${k}` : k);
  pid(o.pid, at('pid'));
  exitCode(o.code, at('code'));
  nullableStr(o.signal, at('signal'));
  if (field) bool(o.detached, at('detached'));
}

/** The first line: checked, and returned as a header. The version is checked by the caller (a newer one has its own message). */
export function checkHeader(o: Obj): RecordHeader {
  allShallow(o);
  int(o.version, 'version', 1, LIMITS.count);
  each(o.command, 'command', str);
  pid(o.pid, 'pid');
  bool(o.attached, 'attached');
  str(o.arch, 'arch');
  ns(o.startTs, 'startTs');
  ns(o.startWallNs, 'startWallNs');
  orNull(ns)(o.overheadNs, 'overheadNs');
  optional(o, 'nestedNs', orNull(ns));
  each(o.patterns, 'patterns', str);
  each(o.modules, 'modules', module);
  optional(o, 'cwd', str);
  optional(o, 'mode', (v: unknown, f: string) => {
    if (v !== 'fast' && v !== 'trap') throw new RecordFieldError(f, `'fast' or 'trap'`, v);
  });
  optional(o, 'tool', str);
  optional(o, 'fallbacks', (v, f) => each(v, f, fallback));
  return o as unknown as RecordHeader;
}

/** A function left in trap mode and why (views/fallbacks.ts). */
function fallback(v: unknown, field: string): void {
  const o = object(v, field);
  str(o.function, `${field}.function`);
  str(o.reason, `${field}.reason`);
}

/** The fields entries and exits share. */
function call(o: Obj): void {
  pid(o.pid, 'pid');
  pid(o.tid, 'tid');
  str(o.function, 'function');
  int(o.depth, 'depth', 0, LIMITS.depth);
  ns(o.ts, 'ts');
  optional(o, 'inherited', bool);
  optional(o, 'goroutine', (v, f) => int(v, f, 0, Number.MAX_SAFE_INTEGER));
}

function checkEntry(o: Obj): EntryEvent {
  call(o);
  hex(o.address, 'address');
  each(o.args, 'args', hex, LIMITS.args);
  optional(o, 'backtrace', (v, f) => each(v, f, str));
  optional(o, 'backtraceReliable', bool);
  optional(o, 'backtraceSources', (v, f) => each(v, f, nullableStr));
  optional(o, 'argv', (v, f) => each(v, f, typed));
  return o as unknown as EntryEvent;
}

function checkExit(o: Obj): ExitEvent {
  call(o);
  bool(o.unwound, 'unwound');
  // Null: the call did not return (records before that carry "0x0" for unwound calls: read as they are).
  if (o.retval !== null || !o.unwound) hex(o.retval, 'retval');
  ns(o.durationNs, 'durationNs');
  optional(o, 'ret', typed);
  optional(o, 'reason', str);
  return o as unknown as ExitEvent;
}

/** Notes the views read fields of; other types need only a string `type` (and shallow values). */
function checkNote(o: Obj): NoteEvent {
  switch (o.type) {
    case 'fork':
      pid(o.pid, 'pid');
      pid(o.parent, 'parent');
      ns(o.ts, 'ts');
      break;
    case 'exec':
      pid(o.pid, 'pid');
      str(o.file, 'file');
      ns(o.ts, 'ts');
      break;
    case 'process-exit':
      exitStatus(o, '');
      optional(o, 'ts', ns);
      break;
    case 'missed':
      count(o.nmissed, 'nmissed');
      int(o.maxActive, 'maxActive', 1, LIMITS.count);
      optional(o, 'message', str);
      optional(o, 'reasons', (r: unknown) => {
        const reasons = object(r, 'reasons');
        for (const k in reasons) count(reasons[k], `reasons[${shown(k)}]`);
      });
      break;
    case 'refused':
    case 'warning':
    case 'fallback':
      str(o.message, 'message');
      optional(o, 'function', str);
      optional(o, 'reason', str);
      break;
    case 'fallbacks':
      str(o.mode, 'mode');
      each(o.fallbacks, 'fallbacks', fallback);
      break;
  }
  // What the filters and markers read of any note, when it is there.
  optional(o, 'pid', pid);
  optional(o, 'tid', pid);
  optional(o, 'ts', ns);
  return o as NoteEvent;
}

/** An event line (not the header, not the end line): checked, and returned as an event. */
export function checkEvent(o: Obj): LineEvent {
  allShallow(o);
  if (o.type === 'entry') return checkEntry(o);
  if (o.type === 'exit') return checkExit(o);
  return checkNote(o);
}

/** The end line: checked, and returned. */
export function checkEnd(o: Obj): RecordEnd {
  allShallow(o);
  ns(o.ts, 'ts');
  each(o.pids, 'pids', pid);
  count(o.calls, 'calls');
  const nmissed = object(o.nmissed, 'nmissed');
  for (const k in nmissed) count(nmissed[k], `nmissed[${shown(k)}]`);
  each(o.functions, 'functions', site);
  orNull(exitStatus)(o.status, 'status');
  return o as unknown as RecordEnd;
}
