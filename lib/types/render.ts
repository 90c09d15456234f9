// How a call's arguments and return value are shown: text
// (`lookup(key="alpha", len=5) = 0`) and the typed JSON fields (`argv`,
// `ret`) that sit next to the raw `args` / `retval`. Without a known
// signature, the raw integer registers in hex, as before.
import type { EntryContext, ExitContext } from '../context';
import type { Signature, TypedValue } from './model';

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** What rendering needs of a context (the CLI also renders plain records of calls ended on detach). */
type EntryLike = Pick<EntryContext, 'args'> & { values?: TypedValue[] | null; signature?: Signature | null };
type ExitLike = Pick<ExitContext, 'retval' | 'unwound'> & { returnValue?: TypedValue | null };

function valuesOf(c: EntryLike): TypedValue[] | null {
  try {
    return c.values ?? null;
  } catch {
    return null; // a plain record, or a context whose values cannot be had
  }
}

function variadicOf(c: EntryLike): boolean {
  return !!c.signature?.variadic;
}

/** `key="alpha", len=5` (typed), or the first `nargs` integer registers in hex. */
export function argsText(c: EntryLike, nargs: number): string {
  const vs = valuesOf(c);
  if (!vs) return c.args.slice(0, nargs).map(hex).join(', ');
  const parts = vs.map((v) => (v.name ? `${v.name}=${v.text}` : v.text));
  if (variadicOf(c)) parts.push('...');
  return parts.join(', ');
}

/** `= 0`, `= 1.5`, `= "text"`; '' for a void function; `= 0x…` when the type is not known. */
export function returnText(c: ExitLike): string {
  let r: TypedValue | null = null;
  try {
    r = c.returnValue ?? null;
  } catch {
    r = null;
  }
  if (!r) return `= ${hex(c.retval)}`;
  return r.kind === 'void' ? '' : `= ${r.text}`;
}

/** A value for JSON: numbers where they fit exactly, strings otherwise; pointers as hex strings, as `args`. */
export function jsonValue(v: TypedValue): unknown {
  if (v.error || v.kind === 'ptr') return typeof v.value === 'number' || typeof v.value === 'bigint' ? hex(v.value) : v.value;
  return plain(v.value);
}

function plain(x: unknown): unknown {
  if (typeof x === 'bigint') return x.toString();
  if (typeof x === 'number' && !Number.isFinite(x)) return String(x);
  if (x && typeof x === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) o[k] = plain(v);
    return o;
  }
  return x;
}

function jsonTyped(v: TypedValue): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (v.name) o.name = v.name;
  o.type = v.type;
  if (v.kind !== 'void') o.value = jsonValue(v);
  if (v.error) o.error = v.error;
  if (v.truncated) o.truncated = true;
  return o;
}

/** The `argv` field of an entry event, or undefined without a signature. */
export function argsJson(c: EntryLike): Record<string, unknown>[] | undefined {
  const vs = valuesOf(c);
  return vs ? vs.map(jsonTyped) : undefined;
}

/** The `ret` field of an exit event, or undefined (unwound, or the type not known). */
export function returnJson(c: ExitLike): Record<string, unknown> | undefined {
  if (c.unwound) return undefined;
  let r: TypedValue | null = null;
  try {
    r = c.returnValue ?? null;
  } catch {
    r = null;
  }
  return r ? jsonTyped(r) : undefined;
}

/**
 * A function's name as a call shows it: a demangled C++ name without its
 * parameter list and qualifiers (`Parser::parse_factor(int) const` ->
 * `Parser::parse_factor`), so the arguments follow it once.
 */
export function callName(fn: string): string {
  let c = callNames.get(fn);
  if (c === undefined) {
    if (callNames.size > 4096) callNames.clear();
    callNames.set(fn, (c = stripParams(fn)));
  }
  return c;
}

const callNames = new Map<string, string>();

function stripParams(fn: string): string {
  let s = fn.replace(/(\s+(const|volatile|&|&&|noexcept))+$/, '');
  if (!s.endsWith(')')) return fn;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(') {
      depth--;
      if (depth === 0) {
        s = s.slice(0, i);
        return s.length ? s : fn;
      }
    }
  }
  return fn;
}
