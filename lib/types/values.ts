// Typed values of a call: the bytes of each argument or return value taken
// from where the calling convention put them (abi.ts), then read as their
// type. Never throws for the program's data: a pointer that cannot be read
// becomes its address with `error: 'unreadable'`.
import { Location, locateArgs, locateReturn, usesFp } from './abi';
import { STRING_MAX } from './model';
import type { CType, Signature, TypedValue } from './model';
import { memoize } from '../memo';
import { decodeName, escapeC, escapeText } from '../symbols/text';

/** A stopped thread's registers and memory, as a call's values need them. */
export interface CallRegisters {
  /** Integer registers in calling-convention order (args at entry; [ret0, ret1] at return). */
  ints: readonly bigint[];
  /** xmm0-7 / v0-7, 16 bytes each, read only when needed. */
  fp(): Buffer | null;
  /** The stack pointer at the function's first instruction (stack arguments). */
  sp: number;
  read(addr: number | bigint, len: number): Buffer | null;
  /** Where a result returned in memory is (the hidden pointer taken at entry); undefined: not known, not read. */
  result?: bigint;
  /** Bytes of a string read at most (the hook's stringMax); STRING_MAX when not given. */
  stringMax?: number;
}

export { STRING_MAX, STRING_MAX_LIMIT } from './model';

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** The bytes a location holds, or null when they cannot be read. */
function gather(loc: Location, r: CallRegisters): Buffer | null {
  const parts: Buffer[] = [];
  for (const p of loc) {
    if (p.src === 'int') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(r.ints[p.reg] ?? 0n);
      parts.push(b.subarray(0, p.bytes));
    } else if (p.src === 'fp') {
      const fp = r.fp();
      if (!fp) return null;
      parts.push(fp.subarray(p.reg * 16, p.reg * 16 + p.bytes));
    } else if (p.src === 'stack') {
      const b = r.read(r.sp + p.offset, p.bytes);
      if (!b) return null;
      parts.push(b);
    } else if (p.src === 'result') {
      if (r.result === undefined) return null;
      const b = r.read(r.result, p.bytes);
      if (!b) return null;
      parts.push(b);
    } else if (p.src === 'byref') {
      const b = r.read(r.ints[p.reg] ?? 0n, p.bytes);
      if (!b) return null;
      parts.push(b);
    } else return null;
  }
  return Buffer.concat(parts);
}

function readInt(b: Buffer, off: number, size: number, signed: boolean): bigint {
  switch (size) {
    case 1: return BigInt(signed ? b.readInt8(off) : b.readUInt8(off));
    case 2: return BigInt(signed ? b.readInt16LE(off) : b.readUInt16LE(off));
    case 4: return BigInt(signed ? b.readInt32LE(off) : b.readUInt32LE(off));
    default: return signed ? b.readBigInt64LE(off) : b.readBigUInt64LE(off);
  }
}

/** v as a number when that is exact. (One conversion, not two BigInt comparisons: beyond 2^53 it rounds to an unsafe number.) */
const asNumber = (v: bigint): number | bigint => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
};

/** A double as people write it: `1.5`, `2.0`, `-0.25`, `1e+300`, `nan`, `inf`. */
export function formatDouble(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (!Number.isFinite(d)) return d > 0 ? 'inf' : '-inf';
  const s = String(d);
  return /[.eE]/.test(s) ? s : s + '.0';
}

/** A character as C writes it: 'a', '\\n', '\\0', '\\x80'. */
function charText(n: number): string {
  const named: Record<number, string> = { 0: '\\0', 9: '\\t', 10: '\\n', 13: '\\r', 0x27: "\\'", 0x5c: '\\\\' };
  if (named[n]) return `'${named[n]}'`;
  return n >= 0x20 && n < 0x7f ? `'${String.fromCharCode(n)}'` : `'\\x${n.toString(16).padStart(2, '0')}'`;
}

/** Bytes as UTF-8, undecodable bytes kept as U+DC80+byte (as names are: symbols/text.ts). */
function decode(b: Buffer): string {
  const s = b.toString('utf8');
  return s.includes('\ufffd') ? decodeName(b, 0, b.length) : s;
}

/** A NUL-terminated string of at most stringMax bytes; null when its first byte cannot be read. */
function readString(r: CallRegisters, addr: bigint): { s: string; truncated: boolean } | null {
  const max = r.stringMax ?? STRING_MAX;
  const first = Math.min(max + 1, 4096 - Number(addr & 4095n));
  let b = r.read(addr, first);
  if (!b) return null;
  let z = b.indexOf(0);
  if (z < 0 && first < max + 1) {
    const rest = r.read(addr + BigInt(first), max + 1 - first);
    if (rest) {
      b = Buffer.concat([b, rest]);
      z = b.indexOf(0);
    }
  }
  if (z >= 0 && z <= max) return { s: decode(b.subarray(0, z)), truncated: false };
  return { s: decode(b.subarray(0, Math.min(b.length, max))), truncated: true };
}

/**
 * A C string: a pointer to plain char, or to a const character type by
 * another name (`const unsigned char *`, as sqlite3_column_text returns;
 * libxml2's `const xmlChar *`). A byte buffer (`uint8_t *`, `unsigned char *`
 * written to) stays an address.
 */
const isString = (t: CType) =>
  t.k === 'ptr' && !!t.to && t.to.k === 'int' && ((!!t.to.c && /\bchar$/.test(t.to.n)) || (t.to.s === 1 && /^const (?:(?:un)?signed )?\w*char$/i.test(t.to.n)));
/** A string the function may write (`char *`, `unsigned char *`: its characters not const): an output buffer. */
export const isWritableString = (t: CType) => isString(t) && !/^const\b|\bconst$/.test(t.to!.n);
/** Parameters whose values are bits, shown in hex: flags, oflag, mask, prot. */
const looksLikeFlags = (name: string | null) => !!name && flagNames(name);
/** A name from debug information or a record (a member's, an enumerator's, a parameter's) as text shows it: escaped, made once. */
export const shownName = memoize((name: string) => escapeText(name));
const flagNames = memoize((name: string) => /^(o?flags?|.*_flags?|.*mask|prot)$/i.test(name));

/** libstdc++'s std::string (basic_string<char>): its characters at _M_dataplus._M_p, _M_string_length of them. */
const isStdString = (t: CType) => t.s === 32 && !!t.m && t.m.length >= 2 &&
  t.m[0].n === '_M_dataplus' && t.m[0].o === 0 && t.m[1].n === '_M_string_length' && t.m[1].o === 8 && /^(std::)?(string|basic_string<char[,>])/.test(t.n);

function stdString(b: Buffer, off: number, t: CType, name: string | null, r: CallRegisters): TypedValue {
  const p = b.readBigUInt64LE(off), len = b.readBigUInt64LE(off + 8);
  const max = r.stringMax ?? STRING_MAX;
  const want = len > BigInt(max) ? max : Number(len);
  const chars = want === 0 ? Buffer.alloc(0) : r.read(p, want);
  if (!chars) return { name, type: t.n, kind: 'str', value: asNumber(p), text: `${hex(p)} <unreadable>`, error: 'unreadable' };
  const s = decode(chars);
  const v: TypedValue = { name, type: t.n, kind: 'str', value: s, text: `"${escapeC(s, '"')}"${want < len ? '...' : ''}` };
  if (BigInt(want) < len) v.truncated = true;
  return v;
}

/** The value of type `t` in the bytes `b` at `off` (null bytes: not available). */
function decodeValue(b: Buffer | null, off: number, t: CType, name: string | null, r: CallRegisters, depth = 0): TypedValue {
  const type = t.n;
  const size = t.s > 0 ? t.s : 8;
  if (t.k === 'void') return { name, type, kind: 'void', value: undefined, text: '' };
  if (!b || off + Math.min(size, t.k === 'struct' || t.k === 'union' ? 0 : size) > b.length) {
    const agg = t.k === 'struct' || t.k === 'union';
    return { name, type, kind: agg ? 'struct' : 'other', value: null, text: agg ? '{...}' : '?' };
  }
  switch (t.k) {
    case 'int': {
      const v = readInt(b, off, size, t.sg !== false);
      if (t.c && size === 1) return { name, type, kind: 'char', value: Number(v), text: charText(Number(v) & 0xff) };
      const fmt = t.fmt ?? (looksLikeFlags(name) ? 'hex' : undefined);
      const u = BigInt.asUintN(size * 8, v);
      const text = fmt === 'hex' ? hex(u) : fmt === 'oct' ? '0' + u.toString(8) : v.toString();
      return { name, type, kind: 'int', value: asNumber(v), text };
    }
    case 'bool': {
      const v = b[off] !== 0;
      return { name, type, kind: 'bool', value: v, text: String(v) };
    }
    case 'enum': {
      const v = readInt(b, off, size, t.sg === true);
      const n = Number(v);
      const exact = t.e?.find((e) => e[1] === n);
      if (exact) return { name, type, kind: 'enum', value: exact[0], text: shownName(exact[0]) };
      // Flags: a combination of enumerators that are powers of two.
      const bits = (t.e ?? []).filter((e) => e[1] > 0 && (e[1] & (e[1] - 1)) === 0 && (n & e[1]) === e[1]);
      if (n > 0 && bits.reduce((a, e) => a | e[1], 0) === n) {
        const value = bits.map((e) => e[0]).join('|');
        return { name, type, kind: 'enum', value, text: shownName(value) };
      }
      return { name, type, kind: 'enum', value: n, text: String(n) };
    }
    case 'float': {
      if (size !== 4 && size !== 8) return { name, type, kind: 'float', value: null, text: '?' };
      const d = size === 4 ? b.readFloatLE(off) : b.readDoubleLE(off);
      return { name, type, kind: 'float', value: d, text: formatDouble(d) };
    }
    case 'ptr': {
      const p = b.readBigUInt64LE(off);
      if (isString(t)) {
        if (p === 0n) return { name, type, kind: 'str', value: null, text: 'NULL' };
        const s = readString(r, p);
        if (!s) return { name, type, kind: 'str', value: asNumber(p), text: `${hex(p)} <unreadable>`, error: 'unreadable' };
        const v: TypedValue = { name, type, kind: 'str', value: s.s, text: `"${escapeC(s.s, '"')}"${s.truncated ? '...' : ''}` };
        if (s.truncated) v.truncated = true;
        return v;
      }
      return { name, type, kind: 'ptr', value: asNumber(p), text: p === 0n ? 'NULL' : hex(p) };
    }
    case 'struct':
    case 'union': {
      if (isStdString(t)) return stdString(b, off, t, name, r);
      if (!t.m || depth > 0) return { name, type, kind: 'struct', value: null, text: '{...}' };
      const value: { [k: string]: unknown } = {};
      const shown: string[] = [];
      for (const m of t.m) {
        const mv = decodeValue(b, off + m.o, m.t, m.n, r, depth + 1);
        const key = m.n ?? `@${m.o}`;
        value[key] = mv.value;
        if (shown.length < 4) shown.push(`${shownName(key)}=${mv.text}`);
      }
      const more = t.m.length > 4 ? ', ...' : '';
      return { name, type, kind: 'struct', value, text: `{${shown.join(', ')}${more}}` };
    }
    default: {
      const v = size <= 8 ? b.readBigUInt64LE(off) : 0n;
      return { name, type, kind: 'other', value: asNumber(v), text: size <= 8 ? hex(v) : '?' };
    }
  }
}

/** Where a signature's arguments are, computed once per signature. */
const argLocations = new WeakMap<Signature, { locs: Location[]; fp: boolean }>();

/** The integer argument registers that hold C strings (fast mode captures those at the call). */
export function stringRegisters(sig: Signature): number[] {
  const { locs } = locations(sig);
  const out: number[] = [];
  sig.params.forEach((p, i) => {
    const loc = locs[i];
    if (loc && loc.length === 1 && loc[0].src === 'int' && isString(p.type)) out.push(loc[0].reg);
  });
  return out;
}

/**
 * Why fast mode cannot show `sig`'s arguments as they were at the call, or
 * null. Its records hold the integer argument registers and the first
 * floating-point one (8 bytes); an argument on the stack, in another
 * floating-point register or in a caller's copy it points to (a big struct
 * on arm64) would be read when the handler runs, after the call: wrong.
 * Such a function stays in trap mode.
 */
export function unrecordedArgs(sig: Signature): string | null {
  const { locs } = locations(sig);
  for (let i = 0; i < locs.length; i++) {
    for (const p of locs[i]) {
      if (p.src === 'stack') return 'some of its arguments are on the stack, which fast mode does not record';
      // arm64 (AAPCS64): a C struct over 16 bytes goes as a pointer to a copy the caller made; read later, the
      // copy may be gone. (A C++ class passed by invisible reference, on both architectures, keeps fast mode as before.)
      if (p.src === 'byref' && !sig.params[i]?.type.nt) return 'a struct argument is passed by reference to a copy in the caller\'s memory, which fast mode does not record';
      if (p.src === 'fp' && (p.reg > 0 || p.bytes > 8)) return 'it takes more floating-point arguments than fast mode records (one)';
    }
  }
  return null;
}

export function argsNeedFp(sig: Signature): boolean {
  return locations(sig).fp;
}

function locations(sig: Signature): { locs: Location[]; fp: boolean } {
  let l = argLocations.get(sig);
  if (!l) {
    const locs = locateArgs(sig);
    argLocations.set(sig, (l = { locs, fp: usesFp(locs) }));
  }
  return l;
}

/**
 * A scalar in one integer register, read from the register itself (the
 * common case, without a buffer); null for anything else.
 */
function fromRegister(reg: bigint, t: CType, name: string | null, r: CallRegisters): TypedValue | null {
  const size = t.s > 0 ? t.s : 8;
  if (t.k === 'ptr') {
    const p = BigInt.asUintN(64, reg);
    if (!isString(t)) return { name, type: t.n, kind: 'ptr', value: asNumber(p), text: p === 0n ? 'NULL' : hex(p) };
    if (p === 0n) return { name, type: t.n, kind: 'str', value: null, text: 'NULL' };
    const s = readString(r, p);
    if (!s) return { name, type: t.n, kind: 'str', value: asNumber(p), text: `${hex(p)} <unreadable>`, error: 'unreadable' };
    const v: TypedValue = { name, type: t.n, kind: 'str', value: s.s, text: `"${escapeC(s.s, '"')}"${s.truncated ? '...' : ''}` };
    if (s.truncated) v.truncated = true;
    return v;
  }
  if (t.k === 'int' && !t.c && !t.fmt && size <= 8 && !looksLikeFlags(name)) {
    const v = t.sg !== false ? BigInt.asIntN(size * 8, reg) : BigInt.asUintN(size * 8, reg);
    const value = asNumber(v);
    // A number's text is quicker to make than a BigInt's (small ones are cached), and the same.
    return { name, type: t.n, kind: 'int', value, text: typeof value === 'number' ? String(value) : v.toString() };
  }
  return null;
}

/** The arguments of a call at its function's first instruction. */
export function readArgs(sig: Signature, r: CallRegisters): TypedValue[] {
  const { locs } = locations(sig);
  return sig.params.map((p, i) => {
    const loc = locs[i];
    if (loc.length === 1 && loc[0].src === 'int') {
      const fast = fromRegister(r.ints[loc[0].reg] ?? 0n, p.type, p.name, r);
      if (fast) return fast;
    }
    const b = gather(loc, r);
    // A struct passed by value whose bytes are in memory at a bad address: its address, marked.
    return decodeValue(b, 0, p.type, p.name, r);
  });
}

/** Where a return type's value is, computed once per type (as argLocations). */
const returnLocations = new WeakMap<CType, Location>();

/** The return value once the function returned (r.ints = [first, second] return registers). */
export function readReturn(t: CType, r: CallRegisters): TypedValue {
  let loc = returnLocations.get(t);
  if (!loc) returnLocations.set(t, (loc = locateReturn(t)));
  if (loc.length === 1 && loc[0].src === 'int') {
    const fast = fromRegister(r.ints[0], t, null, r);
    if (fast) return fast;
  }
  const v = decodeValue(loc.length ? gather(loc, r) : Buffer.alloc(0), 0, t, null, r);
  return v;
}

/**
 * How the native line writers (native/record/word_values.h) show a
 * signature's values when every one of them is its register's word: an
 * integer (not a character), a boolean or a pointer that is not a string,
 * each in an integer argument register (at most `argRegs` of them), and a
 * return value of those kinds, void or unknown. The rules are those of
 * fromRegister and decodeValue above, and each value's JSON (`{"name":…,
 * "type":…,"value":`) and text (`name=`) prefixes are made here. null: the
 * values need TypeScript (strings, floats, enums, structs, chars...).
 */
export function wordSignature(sig: Signature, argRegs: number): Buffer | null {
  if (sig.params.length > argRegs || sig.params.length > 255) return null;
  const parts: Buffer[] = [Buffer.from([1, sig.variadic ? 1 : 0, sig.params.length])];
  const bytes = (s: string) => {
    const b = Buffer.from(s);
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return Buffer.concat([n, b]);
  };
  const value = (t: CType | null, name: string | null): Buffer | null => {
    let kind: number, size = 8, signed = 0, fmt = 0;
    if (t === null) kind = 0;
    else if (t.k === 'void') kind = 4;
    else if (t.k === 'int' && !t.c) {
      kind = 1;
      size = t.s > 0 ? t.s : 8;
      if (![1, 2, 4, 8].includes(size)) return null;
      signed = t.sg !== false ? 1 : 0;
      const f = t.fmt ?? (looksLikeFlags(name) ? 'hex' : undefined);
      fmt = f === 'hex' ? 1 : f === 'oct' ? 2 : 0;
    } else if (t.k === 'bool') (kind = 2), (size = 1);
    else if (t.k === 'ptr' && !isString(t)) kind = 3;
    else return null;
    const json = t === null ? '' : kind === 4 ? `{"type":${JSON.stringify(t.n)}}` : `{${name ? `"name":${JSON.stringify(name)},` : ''}"type":${JSON.stringify(t.n)},"value":`;
    return Buffer.concat([Buffer.from([kind, size, signed, fmt]), bytes(json)]);
  };
  for (const p of sig.params) {
    const v = value(p.type, p.name);
    if (!v || p.type.k === 'void') return null;
    parts.push(v, bytes(p.name ? `${shownName(p.name)}=` : ''));
  }
  const ret = value(sig.ret, null);
  if (!ret) return null;
  parts.push(ret);
  return Buffer.concat(parts);
}
