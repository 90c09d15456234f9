// How a call's arguments and return value are shown: text
// (`lookup(key="alpha", len=5) = 0`) and the typed JSON fields (`argv`,
// `ret`) that sit next to the raw `args` / `retval`. Without a known
// signature, the raw integer registers in hex, as before.
import type { EntryContext, ExitContext } from '../context';
import { memoize } from '../memo';
import type { Signature, TypedValue } from './model';
import { shownName } from './values';

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** What rendering needs of a context (the CLI also renders plain records of calls ended on detach). */
type EntryLike = Pick<EntryContext, 'args'> & { values?: TypedValue[] | null; signature?: Signature | null };
type ExitLike = Pick<ExitContext, 'retval' | 'unwound'> & { returnValue?: TypedValue | null; filled?: TypedValue[] | null };

function valuesOf(c: EntryLike): TypedValue[] | null {
  try {
    return c.values ?? null;
  } catch {
    return null; // a plain record, or a context whose values cannot be had
  }
}

function returnOf(c: ExitLike): TypedValue | null {
  try {
    return c.returnValue ?? null;
  } catch {
    return null;
  }
}

/**
 * What a call's entry is rendered from, read from the context once (its
 * values are read from the tracee) and kept as plain data: text and JSON are
 * both made from it, the text only if a text view shows the call.
 */
export function entryParts(c: EntryLike): EntryLike {
  return { args: c.args, values: valuesOf(c), signature: c.signature ?? null };
}

function filledOf(c: ExitLike): TypedValue[] | null {
  try {
    return c.filled ?? null;
  } catch {
    return null;
  }
}

/** What a call's exit is rendered from, read once (as entryParts). */
export function exitParts(c: ExitLike): ExitLike {
  return { retval: c.retval, unwound: c.unwound, returnValue: returnOf(c), filled: filledOf(c) };
}

function variadicOf(c: EntryLike): boolean {
  return !!c.signature?.variadic;
}

/** `key="alpha", len=5` (typed), or the first `nargs` integer registers in hex. */
export function argsText(c: EntryLike, nargs: number): string {
  const vs = valuesOf(c);
  if (!vs) return c.args.slice(0, nargs).map(hex).join(', ');
  // Concatenated, not mapped and joined: this runs at every call.
  let s = '';
  for (let i = 0; i < vs.length; i++) s += `${i ? ', ' : ''}${vs[i].name ? `${shownName(vs[i].name!)}=` : ''}${vs[i].text}`;
  return variadicOf(c) ? `${s}${vs.length ? ', ' : ''}...` : s;
}

/**
 * `= 0`, `= 1.5`, `= "text"`; '' for a void function; `= 0x…` when the type
 * is not known; then the buffers the call filled in: `= 4 [str="hi-3"]`.
 */
export function returnText(c: ExitLike): string {
  const r = returnOf(c);
  if (c.retval === null) return '';
  const ret = !r ? `= ${hex(c.retval)}` : r.kind === 'void' ? '' : `= ${r.text}`;
  const f = filledOf(c);
  if (!f?.length) return ret;
  const filled = `[${f.map((v) => `${v.name ? `${shownName(v.name)}=` : ''}${v.text}`).join(', ')}]`;
  return ret ? `${ret} ${filled}` : filled;
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
  const r = returnOf(c);
  return r ? jsonTyped(r) : undefined;
}

/** The `filled` field of an exit event: the buffers the call wrote, read at its return; undefined when none or not known. */
export function filledJson(c: ExitLike): Record<string, unknown>[] | undefined {
  if (c.unwound) return undefined;
  const f = filledOf(c);
  return f?.length ? f.map(jsonTyped) : undefined;
}

/**
 * A function's name as a call shows it: a demangled C++ name without its
 * parameter list and qualifiers (`Parser::parse_factor(int) const` ->
 * `Parser::parse_factor`), so the arguments follow it once.
 */
export const callName: (fn: string) => string = memoize(stripParams);

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
