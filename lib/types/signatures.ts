// Which signature a hooked function has: a user's spec (the hook's `args` /
// `ret`, its `prototypes`, the CLI's `-f 'f(str) -> int'` and --prototypes)
// over its debug information (DWARF, through the addon) over the built-in
// libc prototypes. Looked up once per function and kept.
import type { NativeTracer } from '../native';
import type { FunctionSymbol, Module } from '../symbols/modules';
import { moduleMatches, parsePattern, Pattern } from '../symbols/patterns';
import type { CType, Param, Signature } from './model';
import { builtinPrototype } from './prototypes';
import type { Declaration } from './spec';

/**
 * GCC's clones (`f.isra.0`, `f.constprop.0`, `f.part.0`) take other
 * arguments than the function they were made from: no signature fits them.
 */
const CLONE = /\.(isra|constprop|part|cold|clone)\.\d+/;

interface DwarfJsonParam {
  n: string | null;
  t: CType;
  a?: boolean;
}

const dwarfCache = new WeakMap<Module, Map<number, Signature | null>>();

/** The signature debug information gives the function, or null. */
export function dwarfSignature(nat: NativeTracer, fn: FunctionSymbol): Signature | null {
  const m = fn.module as Module | null;
  if (!m || !m.path.startsWith('/')) return null;
  let cache = dwarfCache.get(m);
  if (!cache) dwarfCache.set(m, (cache = new Map()));
  const hit = cache.get(fn.address);
  if (hit !== undefined) return hit;
  let sig: Signature | null = null;
  try {
    const json = nat.debugSignature(m.path.replace(/ \(deleted\)$/, ''), fn.address - m.bias);
    if (json) {
      const o = JSON.parse(json) as { params: DwarfJsonParam[]; ret: CType; va: boolean };
      // GCC lists `__in_chrg` among a destructor's parameters; none of its clones (D0, D1, D2) takes it.
      const params: Param[] = o.params.filter((p) => !(p.a && p.n === '__in_chrg'))
        .map((p) => (p.a ? { name: p.n, type: p.t, artificial: true } : { name: p.n, type: p.t }));
      sig = { params, ret: o.ret, variadic: o.va, source: 'dwarf' };
    }
  } catch {
    sig = null; // unreadable debug information is no reason to stop tracing
  }
  cache.set(fn.address, sig);
  return sig;
}

/** The signature of `fn` without a user's spec: DWARF, else the built-in prototypes. */
export function defaultSignature(nat: NativeTracer, fn: FunctionSymbol): Signature | null {
  if (CLONE.test(fn.rawName)) return null;
  return dwarfSignature(nat, fn) ?? builtinPrototype(fn.name);
}

/** A spec over what the function otherwise has: a spec without `-> RET` keeps the other's return type. */
export function overlay(spec: Signature, base: Signature | null): Signature {
  if (spec.ret || !base) return spec;
  return { ...spec, ret: base.ret };
}

/** Declarations by pattern (`lookup`, `kv_*`, `libfoo.so:f`), first match wins. */
export class SpecTable {
  private readonly entries: { pattern: Pattern; sig: Signature; at: { module: Pattern | null; off: number } | null }[];
  constructor(decls: readonly Declaration[]) {
    this.entries = decls.map((d) => {
      // An address (`0x1139`, `libfoo.so+0x1139`): the function at that link-time address.
      const a = /^(?:(.+)\+)?0x([0-9a-fA-F]+)$/.exec(d.pattern);
      const at = a ? { module: a[1] ? parsePattern(`${a[1]}:x`) : null, off: parseInt(a[2], 16) } : null;
      return { pattern: parsePattern(d.pattern), sig: d.sig, at };
    });
  }
  get size(): number {
    return this.entries.length;
  }
  find(fn: FunctionSymbol): Signature | null {
    for (const e of this.entries) {
      if (e.at) {
        const m = fn.module as Module | null;
        if (m && fn.address - m.bias === e.at.off && (!e.at.module || moduleMatches(e.at.module, m))) return e.sig;
        continue;
      }
      if (e.pattern.module && (!fn.module || !moduleMatches(e.pattern, fn.module))) continue;
      if (e.pattern.fn.test(fn.name) || e.pattern.fn.test(fn.rawName) || e.pattern.fn.test(fn.name.replace(/\(.*$/, ''))) return e.sig;
    }
    return null;
  }
}
