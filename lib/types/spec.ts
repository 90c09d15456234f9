// Prototypes written by people: the CLI's `-f 'lookup(str, int) -> int'`,
// `--prototypes FILE` (C-like declarations, one per line), the API's
// `{ args: ['str', 'i32'], ret: 'i32' }`, and the built-in libc table.
//
// A declaration is either C-like, `int lookup(const char *key, int len);`,
// or the short form `lookup(str key, int len) -> int` (`-> RET` optional:
// without it the return type is not given). The name may be a glob
// (`kv_*(str) -> int`). Types are C types (`unsigned long`, `const char *`,
// `struct stat *`, typedefs of the C library) or short names: str, i8..i64,
// u8..u64, int, uint, long, ulong, char, bool, float, double, ptr, hex, oct,
// size_t, void.
import type { CType, Param, Signature } from './model';

const int = (n: string, s: number, sg: boolean, fmt?: 'hex' | 'oct'): CType => (fmt ? { n, k: 'int', s, sg, fmt } : { n, k: 'int', s, sg });
const CHAR: CType = { n: 'char', k: 'int', s: 1, sg: true, c: true };
const VOID: CType = { n: 'void', k: 'void', s: 0 };

/** Short names and the C library's typedefs. */
const NAMED: Record<string, CType> = {
  void: VOID,
  str: { n: 'const char *', k: 'ptr', s: 8, to: { ...CHAR, n: 'const char' } },
  string: { n: 'const char *', k: 'ptr', s: 8, to: { ...CHAR, n: 'const char' } },
  char: CHAR,
  i8: int('int8_t', 1, true), u8: int('uint8_t', 1, false),
  i16: int('int16_t', 2, true), u16: int('uint16_t', 2, false),
  i32: int('int', 4, true), u32: int('unsigned int', 4, false),
  i64: int('long', 8, true), u64: int('unsigned long', 8, false),
  int: int('int', 4, true), uint: int('unsigned int', 4, false),
  long: int('long', 8, true), ulong: int('unsigned long', 8, false),
  bool: { n: 'bool', k: 'bool', s: 1 }, _Bool: { n: '_Bool', k: 'bool', s: 1 },
  float: { n: 'float', k: 'float', s: 4 }, double: { n: 'double', k: 'float', s: 8 },
  ptr: { n: 'void *', k: 'ptr', s: 8, to: VOID }, pointer: { n: 'void *', k: 'ptr', s: 8, to: VOID },
  hex: int('hex', 8, false, 'hex'), hex32: int('hex32', 4, false, 'hex'), oct: int('oct', 4, false, 'oct'),
  size_t: int('size_t', 8, false), ssize_t: int('ssize_t', 8, true), off_t: int('off_t', 8, true), off64_t: int('off64_t', 8, true),
  pid_t: int('pid_t', 4, true), uid_t: int('uid_t', 4, false), gid_t: int('gid_t', 4, false), mode_t: int('mode_t', 4, false, 'oct'),
  time_t: int('time_t', 8, true), clock_t: int('clock_t', 8, true), useconds_t: int('useconds_t', 4, false),
  socklen_t: int('socklen_t', 4, false), clockid_t: int('clockid_t', 4, true), nfds_t: int('nfds_t', 8, false),
  int8_t: int('int8_t', 1, true), uint8_t: int('uint8_t', 1, false), int16_t: int('int16_t', 2, true), uint16_t: int('uint16_t', 2, false),
  int32_t: int('int32_t', 4, true), uint32_t: int('uint32_t', 4, false), int64_t: int('int64_t', 8, true), uint64_t: int('uint64_t', 8, false),
  intptr_t: int('intptr_t', 8, true, 'hex'), uintptr_t: int('uintptr_t', 8, false, 'hex'), ptrdiff_t: int('ptrdiff_t', 8, true),
  sighandler_t: { n: 'sighandler_t', k: 'ptr', s: 8, to: { n: 'function', k: 'fn', s: -1 } },
};

/** Integer types spelled with C keywords (`unsigned long long int`). */
function keywordInt(words: string[]): CType | null {
  const set = words.filter((w) => w !== 'int');
  const unsigned = set.includes('unsigned');
  const rest = set.filter((w) => w !== 'unsigned' && w !== 'signed');
  const key = rest.join(' ');
  const n = (base: string) => (unsigned ? `unsigned ${base}` : words.includes('signed') && base === 'char' ? 'signed char' : base);
  switch (key) {
    case '': return words.length ? int(unsigned ? 'unsigned int' : 'int', 4, !unsigned) : null;
    case 'char': return unsigned || words.includes('signed') ? int(n('char'), 1, !unsigned) : CHAR;
    case 'short': return int(n('short'), 2, !unsigned);
    case 'long': case 'long long': return int(n(key), 8, !unsigned);
    default: return null;
  }
}

const QUALIFIERS = new Set(['const', 'volatile', 'restrict', '__restrict', 'register']);

/**
 * A type written in C (`const char *`, `unsigned long`, `struct stat *`,
 * `enum color`) or a short name; null when it is not one.
 */
export function parseType(text: string): CType | null {
  const t = text.trim().replace(/\s+/g, ' ');
  if (!t) return null;
  const stars = (t.match(/\*/g) ?? []).length;
  const words = t.replace(/\*/g, ' ').split(' ').filter(Boolean);
  const isConst = words.includes('const');
  const core = words.filter((w) => !QUALIFIERS.has(w));
  let base: CType | null = null;
  if (core[0] === 'struct' || core[0] === 'union') base = { n: `${core[0]} ${core[1] ?? ''}`.trim(), k: core[0], s: -1 };
  else if (core[0] === 'enum') base = { n: `enum ${core[1] ?? ''}`.trim(), k: 'enum', s: 4, sg: false, e: [] };
  else if (core.length === 1 && NAMED[core[0]]) base = NAMED[core[0]];
  else if (core.every((w) => ['unsigned', 'signed', 'short', 'long', 'int', 'char'].includes(w))) base = keywordInt(core);
  else if (core.length === 1 && /^[A-Za-z_]\w*$/.test(core[0])) base = stars ? { n: core[0], k: 'other', s: -1 } : null;
  if (!base) return null;
  if (stars === 0) return isConst && base.k !== 'ptr' ? { ...base, n: `const ${base.n}` } : base;
  // Pointers: a pointer to a character type is a string; anything else is shown as an address.
  let to: CType = isConst ? { ...base, n: `const ${base.n}` } : base;
  let name = to.n;
  for (let i = 0; i < stars; i++) {
    name = `${name}${name.endsWith('*') ? '' : ' '}*`;
    to = i === stars - 1 ? to : { n: name, k: 'ptr', s: 8 };
  }
  return { n: name, k: 'ptr', s: 8, to: stars === 1 ? to : { n: name.slice(0, -1).trim(), k: 'ptr', s: 8 } };
}

/** One parameter as written: `const char *key`, `int`, `str key`, `void (*fn)(int)`. */
function parseParam(text: string, where: string): Param {
  const t = text.trim();
  const fnPtr = /^(.*)\(\s*\*\s*([A-Za-z_]\w*)?\s*\)\s*\((.*)\)$/.exec(t);
  if (fnPtr) return { name: fnPtr[2] ?? null, type: { n: `${fnPtr[1].trim()} (*)(${fnPtr[3].trim()})`, k: 'ptr', s: 8, to: { n: 'function', k: 'fn', s: -1 } } };
  const whole = parseType(t.replace(/\[\s*\d*\s*\]$/, '*'));
  if (whole) return { name: null, type: whole };
  const m = /^(.*?)([A-Za-z_]\w*)\s*(\[\s*\d*\s*\])?$/.exec(t);
  if (m && m[1].trim()) {
    const type = parseType(m[1] + (m[3] ? '*' : ''));
    if (type) return { name: m[2], type };
  }
  throw new TypeError(`${where}: cannot read the type '${t}'`);
}

/** Split a parameter list at top-level commas. */
function splitParams(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

function paramList(text: string, where: string): { params: Param[]; variadic: boolean } {
  const parts = splitParams(text).map((p) => p.trim());
  const variadic = parts.length > 0 && parts[parts.length - 1] === '...';
  if (variadic) parts.pop();
  if (parts.length === 1 && parts[0] === 'void') parts.pop();
  return { params: parts.map((p) => parseParam(p, where)), variadic };
}

export interface Declaration {
  /** The function's name, or a glob (`kv_*`), possibly scoped (`libfoo.so:f`). */
  pattern: string;
  sig: Signature;
}

/**
 * One declaration: `int lookup(const char *key, int len);` or
 * `lookup(str, int) -> int`. A TypeError naming it when it cannot be read.
 */
export function parseDeclaration(text: string, source: Signature['source'] = 'spec'): Declaration {
  const t = text.trim().replace(/;\s*$/, '');
  const where = `prototype '${t.length > 80 ? t.slice(0, 80) + '...' : t}'`;
  const open = t.indexOf('(');
  const close = t.lastIndexOf(')');
  if (open < 0 || close < open) throw new TypeError(`${where}: expected NAME(ARGS)`);
  const after = t.slice(close + 1).trim();
  const before = t.slice(0, open).trim();
  const { params, variadic } = paramList(t.slice(open + 1, close), where);
  let ret: CType | null = null;
  let pattern: string;
  if (after.startsWith('->')) {
    ret = parseType(after.slice(2));
    if (!ret) throw new TypeError(`${where}: cannot read the return type '${after.slice(2).trim()}'`);
    pattern = before;
  } else if (after) {
    throw new TypeError(`${where}: unexpected '${after}' after the arguments`);
  } else {
    // C-like: RET NAME, the name being the last word (it may be a glob or scoped).
    const m = /^(.*?)\s*([^\s*]+)$/.exec(before);
    if (!m) throw new TypeError(`${where}: expected a function name`);
    pattern = m[2];
    if (m[1].trim()) {
      ret = parseType(m[1]);
      if (!ret) throw new TypeError(`${where}: cannot read the return type '${m[1].trim()}'`);
    }
  }
  if (!pattern) throw new TypeError(`${where}: expected a function name`);
  return { pattern, sig: { params, ret, variadic, source } };
}

/** A file of declarations, one per line (`//`, `#` and block comments allowed). */
export function parsePrototypes(text: string, source: Signature['source'] = 'spec', file = 'prototypes'): Declaration[] {
  const out: Declaration[] = [];
  const clean = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  clean.split('\n').forEach((line, i) => {
    const l = line.replace(/\/\/.*$/, '').replace(/^\s*#.*$/, '').trim();
    if (!l) return;
    try {
      out.push(parseDeclaration(l, source));
    } catch (e) {
      throw new TypeError(`${file}:${i + 1}: ${(e as Error).message}`);
    }
  });
  return out;
}

/** The API's `{ args: [...], ret: ... }`: each arg a type, or `{ name, type }`, or `'type name'`. */
export function signatureFromOptions(args: unknown, ret: unknown): Signature {
  if (args !== undefined && !Array.isArray(args)) throw new TypeError('Expected args to be an array of types');
  const params: Param[] = [];
  let variadic = false;
  for (const a of (args ?? []) as unknown[]) {
    if (a === '...') {
      variadic = true;
      continue;
    }
    if (typeof a === 'string') params.push(parseParam(a, 'args'));
    else if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') {
      const { name, type } = a as { name?: unknown; type: string };
      const t = parseType(type);
      if (!t) throw new TypeError(`args: cannot read the type '${type}'`);
      params.push({ name: typeof name === 'string' ? name : null, type: t });
    } else throw new TypeError('Expected each of args to be a type name or { name, type }');
  }
  let r: CType | null = null;
  if (ret !== undefined) {
    if (typeof ret !== 'string' || !(r = parseType(ret))) throw new TypeError(`ret: cannot read the type '${String(ret)}'`);
  }
  return { params, ret: r, variadic, source: 'spec' };
}

/**
 * The CLI's `-f` with a prototype: `lookup(str, int) -> int` gives the
 * pattern `lookup` and its declaration; a plain pattern gives no declaration.
 * An address (`0x1234`, `libfoo.so+0x1234`) never has one.
 */
export function splitFunctionSpec(text: string): { pattern: string; decl: Declaration | null } {
  const t = text.trim();
  const open = t.indexOf('(');
  if (open <= 0 || !/\)\s*(->.*)?$/.test(t)) return { pattern: text, decl: null };
  if (!t.includes('->')) {
    // Without `-> RET` it is a spec only when it cannot be a demangled C++
    // name with its parameters (`geo::area(int, int)`): no `::`, and some
    // argument named or written with a short name (`str`, `i32`, `hex`).
    if (t.includes('::')) return { pattern: text, decl: null };
    let decl: Declaration;
    try {
      decl = parseDeclaration(t, 'spec');
    } catch {
      return { pattern: text, decl: null };
    }
    const words = t.slice(open + 1, t.lastIndexOf(')')).split(/[\s,*]+/);
    const short = words.some((w) => SHORT.has(w));
    if (!short && !decl.sig.params.some((p) => p.name)) return { pattern: text, decl: null };
    return { pattern: decl.pattern, decl };
  }
  const decl = parseDeclaration(t, 'spec');
  return { pattern: decl.pattern, decl };
}

const SHORT = new Set(['str', 'string', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'uint', 'ulong', 'ptr', 'pointer', 'hex', 'hex32', 'oct']);
