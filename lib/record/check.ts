// The JSON parts of a version-2 or 3 record (header, SITES, EXTRA) checked as the
// record is untrusted input (docs/record-format.md): each field's type and
// range, nothing nested deeper than LIMITS.nesting. Notes and the end are
// checked as version 1's lines were (views/record-check.ts). A bad field is a
// RecordFieldError; the reader adds the file and the byte offset.
import type { SiteInfo } from './batch';
import type { CType, Param, Signature } from '../types/model';
import { STRING_MAX_LIMIT } from '../types/model';
import { allShallow, bool, checkHeader, int, LIMITS, object, RecordFieldError, RecordHeader, str, typed } from '../views/record-check';

type Obj = Record<string, unknown>;

/** Version 2's header: version 1's fields, plus the functions left in trap mode and the clock (informational). */
export interface RecordHeaderV2 extends RecordHeader {
  fallbacks: { function: string; reason: string }[];
  clock?: { source: string; nsPerTick: number };
}

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function array(v: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new RecordFieldError(field, `an array of at most ${max}`, v);
  return v;
}

/** The header JSON: version 1's checks (views/record-check.ts), then fallbacks and clock. */
export function checkHeaderV2(o: Obj): RecordHeaderV2 {
  // Version 1 had these in its header line; the binary header has them in its first bytes.
  o.type = 'rethook-record';
  o.version = 2;
  const h = checkHeader(o) as RecordHeaderV2;
  if (o.fallbacks === undefined) o.fallbacks = [];
  const fb = array(o.fallbacks, 'fallbacks', LIMITS.count);
  fb.forEach((f, i) => {
    const x = object(f, `fallbacks[${i}]`);
    str(x.function, `fallbacks[${i}].function`);
    str(x.reason, `fallbacks[${i}].reason`);
  });
  if (o.clock !== undefined) {
    const c = object(o.clock, 'clock');
    str(c.source, 'clock.source');
    if (typeof c.nsPerTick !== 'number' || !(c.nsPerTick >= 0)) throw new RecordFieldError('clock.nsPerTick', 'a number of at least 0', c.nsPerTick);
  }
  return h;
}

const KINDS = new Set(['void', 'int', 'bool', 'float', 'enum', 'ptr', 'struct', 'union', 'array', 'fn', 'other']);
/** Members and enumerators of one type, parameters of one signature: more than any C type rethook reads has. */
const MEMBERS_MAX = 4096;

/** A C type as lib/types/model.ts has it; `level` bounds how deep `to` and members go. */
function ctype(v: unknown, field: string, level = 0): CType {
  const t = object(v, field);
  if (level > 8) throw new RecordFieldError(field, 'a type nested at most 8 deep', 'more');
  str(t.n, `${field}.n`);
  if (typeof t.k !== 'string' || !KINDS.has(t.k)) throw new RecordFieldError(`${field}.k`, 'a kind of C type', t.k);
  int(t.s, `${field}.s`, -1, 2 ** 31 - 1);
  if (t.sg !== undefined) bool(t.sg, `${field}.sg`);
  if (t.c !== undefined) bool(t.c, `${field}.c`);
  if (t.nt !== undefined) bool(t.nt, `${field}.nt`);
  if (t.fmt !== undefined && t.fmt !== 'hex' && t.fmt !== 'oct') throw new RecordFieldError(`${field}.fmt`, `'hex' or 'oct'`, t.fmt);
  if (t.e !== undefined) {
    array(t.e, `${field}.e`, MEMBERS_MAX).forEach((e, i) => {
      const pair = array(e, `${field}.e[${i}]`, 2);
      str(pair[0], `${field}.e[${i}][0]`);
      int(pair[1], `${field}.e[${i}][1]`, -(2 ** 53), 2 ** 53);
    });
  }
  if (t.to !== undefined) ctype(t.to, `${field}.to`, level + 1);
  if (t.m !== undefined) {
    array(t.m, `${field}.m`, MEMBERS_MAX).forEach((m, i) => {
      const x = object(m, `${field}.m[${i}]`);
      if (x.n !== null) str(x.n, `${field}.m[${i}].n`);
      int(x.o, `${field}.m[${i}].o`, 0, 2 ** 31 - 1);
      ctype(x.t, `${field}.m[${i}].t`, level + 1);
    });
  }
  return t as unknown as CType;
}

/** A site's signature (lib/types' Signature) or null. */
function signature(v: unknown, field: string): Signature | null {
  if (v === null || v === undefined) return null;
  const s = object(v, field);
  const params = array(s.params, `${field}.params`, 256).map((p, i): Param => {
    const x = object(p, `${field}.params[${i}]`);
    if (x.name !== null) str(x.name, `${field}.params[${i}].name`);
    ctype(x.type, `${field}.params[${i}].type`);
    if (x.artificial !== undefined) bool(x.artificial, `${field}.params[${i}].artificial`);
    return x as unknown as Param;
  });
  if (s.ret !== null) ctype(s.ret, `${field}.ret`);
  bool(s.variadic, `${field}.variadic`);
  str(s.source, `${field}.source`);
  const sig: Signature = { params, ret: s.ret as CType | null, variadic: s.variadic as boolean, source: s.source as Signature['source'] };
  // The hook's --string-max (strings are shown up to it, as live).
  if (s.stringMax !== undefined) sig.stringMax = int(s.stringMax, `${field}.stringMax`, 0, STRING_MAX_LIMIT);
  return sig;
}

const HEX = /^0x[0-9a-f]{1,16}$/;

/** One entry of a SITES chunk; `id` must be `next` (ids are dense from 0 across the file). */
export function checkSite(v: unknown, i: number, next: number): SiteInfo {
  const f = `[${i}]`;
  const o = object(v, f);
  int(o.id, `${f}.id`, next, next);
  int(o.pid, `${f}.pid`, 1, LIMITS.pid);
  str(o.function, `${f}.function`);
  if (typeof o.address !== 'string' || !HEX.test(o.address)) throw new RecordFieldError(`${f}.address`, 'a hex string (0x and 1 to 16 digits)', o.address);
  str(o.module, `${f}.module`);
  int(o.args, `${f}.args`, 0, LIMITS.args);
  bool(o.ret, `${f}.ret`);
  bool(o.fp, `${f}.fp`);
  return {
    id: next, pid: o.pid as number, function: o.function as string, address: BigInt(o.address), module: o.module as string,
    args: o.args as number, ret: o.ret as boolean, fp: o.fp as boolean, signature: signature(o.signature, `${f}.signature`),
  };
}

/** A SITES payload: an array of sites, ids from `next` on. */
export function checkSites(v: unknown, next: number): SiteInfo[] {
  const a = array(v, 'sites', LIMITS.count);
  allShallow({ sites: a });
  return a.map((s, i) => checkSite(s, i, next + i));
}

/**
 * Fields an EXTRA record adds to its call's event: the event's own fields
 * (what the columns say) are not among them.
 */
const COLUMN_FIELDS = new Set(['type', 'pid', 'tid', 'function', 'address', 'depth', 'args', 'ts', 'retval', 'unwound', 'durationNs', 'reason']);

export function checkExtra(o: unknown): Obj {
  const x = object(o, 'extra');
  allShallow(x);
  for (const k in x) if (COLUMN_FIELDS.has(k)) throw new RecordFieldError(k, 'no such field in EXTRA (the record\'s columns give it)', x[k]);
  const opt = (k: string, check: (v: unknown, f: string) => unknown) => {
    if (x[k] !== undefined) check(x[k], k);
  };
  const each = (check: (v: unknown, f: string) => unknown) => (v: unknown, f: string) => {
    if (!Array.isArray(v)) throw new RecordFieldError(f, 'an array', v);
    v.forEach((e, i) => check(e, `${f}[${i}]`));
  };
  opt('backtrace', each(str));
  opt('backtraceReliable', bool);
  opt('backtraceSources', each((v, f) => (v === null ? null : str(v, f))));
  opt('inherited', bool);
  opt('goroutine', (v, f) => int(v, f, 0, Number.MAX_SAFE_INTEGER));
  opt('argv', each(typed));
  opt('ret', typed);
  opt('argvText', str);
  opt('retText', str);
  return x;
}
