// -f patterns: `[module:]glob`, glob matching, and "did you mean".
import type { FunctionSymbol, Module } from './modules';

/** A parsed -f pattern: `[module:]glob`. C++ names may contain `::`. */
export interface Pattern {
  text: string;
  module: RegExp | null;
  moduleText: string | null;
  fn: RegExp;
  isGlob: boolean;
}

export function parsePattern(text: string): Pattern {
  const m = /^([^:]+):(?!:)(.+)$/.exec(text);
  const moduleText = m ? m[1] : null;
  const fnText = m ? m[2] : text;
  return {
    text,
    moduleText,
    module: moduleText ? globToRegExp(moduleText, true) : null,
    fn: globToRegExp(fnText, false),
    isGlob: /[*?[]/.test(fnText),
  };
}

export function globToRegExp(glob: string, isModule: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += '[' + glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  // A module given as "libz.so" also names "libz.so.1".
  return new RegExp(isModule ? `^${re}(\\..*)?$` : `^${re}$`);
}

export function moduleMatches(p: Pattern, mod: Module): boolean {
  return !p.module || p.module.test(mod.name);
}

/** Functions of `mod` the pattern names: raw, demangled, or demangled without its parameters. */
export function matchFunctions(p: Pattern, mod: Module): FunctionSymbol[] {
  if (!moduleMatches(p, mod)) return [];
  const out: FunctionSymbol[] = [];
  for (const f of mod.functions()) {
    if (p.fn.test(f.name) || p.fn.test(f.rawName)) out.push(f);
    else if (f.name !== f.rawName) {
      const paren = f.name.indexOf('(');
      if (paren > 0 && p.fn.test(f.name.slice(0, paren))) out.push(f);
    }
  }
  return out;
}

/** Up to three names close to `wanted` (edit distance), for "did you mean". */
export function closeNames(wanted: string, names: Iterable<string>): string[] {
  const w = wanted.replace(/^[^:]+:(?!:)/, '').replace(/[*?[\]]/g, '');
  const limit = Math.max(2, Math.floor(w.length / 3));
  const scored: [number, string][] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n) || Math.abs(n.length - w.length) > limit) continue;
    seen.add(n);
    const d = editDistance(w, n, limit);
    if (d <= limit) scored.push([d, n]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  return scored.slice(0, 3).map((s) => s[1]);
}

function editDistance(a: string, b: string, limit: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]);
    }
    if (rowMin > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length];
}
