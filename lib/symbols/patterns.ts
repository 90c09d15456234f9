// -f patterns: `[module:]glob`, glob matching, and "did you mean".
import type { FunctionSymbol, Module } from './modules';
import { escapeText } from './text';

/** Longest pattern accepted (no symbol name we read is longer than elf.ts's MAX_NAME). */
export const MAX_PATTERN = 4096;

/** A compiled glob: `test` runs in O(name × pattern) at worst, with no backtracking blowup. */
export interface Glob {
  readonly source: string;
  test(s: string): boolean;
}

/** A parsed -f pattern: `[module:]glob`. C++ names may contain `::`. */
export interface Pattern {
  text: string;
  module: Glob | null;
  moduleText: string | null;
  fn: Glob;
  isGlob: boolean;
  /** Bookkeeping for "never matched": some function matched it; some object its module part names was loaded. */
  matched: boolean;
  moduleSeen: boolean;
  /** A pattern kept for objects loaded later: what to add when it never matches (close names, a stripped program). */
  hint?: string;
}

/** A pattern the user wrote that cannot be used: the message names it. */
export class PatternError extends TypeError {}

export function parsePattern(text: string): Pattern {
  if (typeof text !== 'string') throw new PatternError('Expected a pattern to be a string');
  const shown = (t: string) => `'${escapeText(t.length > 60 ? t.slice(0, 60) + '...' : t)}'`;
  if (text.length === 0) throw new PatternError('empty pattern');
  if (text.length > MAX_PATTERN) throw new PatternError(`pattern ${shown(text)} is too long (${text.length} characters; at most ${MAX_PATTERN})`);
  // eslint-disable-next-line no-control-regex
  if (/\x00/.test(text)) throw new PatternError(`pattern ${shown(text)} contains a NUL character`);
  const m = /^([^:]*):(?!:)(.*)$/s.exec(text);
  const moduleText = m ? m[1] : null;
  const fnText = m ? m[2] : text;
  if (m && moduleText === '') throw new PatternError(`pattern ${shown(text)} has an empty object name before ':'`);
  if (m && fnText === '') throw new PatternError(`pattern ${shown(text)} has an empty function name after ':'`);
  const bad = (why: string) => new PatternError(`pattern ${shown(text)}: ${why}`);
  return {
    text,
    moduleText,
    module: moduleText ? compileGlob(moduleText, true, bad) : null,
    fn: compileGlob(fnText, false, bad),
    isGlob: /[*?[]/.test(fnText),
    matched: false,
    moduleSeen: false,
  };
}

/** Check a pattern without keeping it: throws a PatternError (a TypeError) naming it. */
export function validatePattern(text: string): void {
  parsePattern(text);
}

type Token =
  | { kind: 'lit'; ch: string }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'class'; negate: boolean; singles: Set<string>; ranges: [number, number][] };

function tokenize(glob: string, bad: (why: string) => Error): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (out.length && out[out.length - 1].kind === 'star') continue; // runs of * are one *
      out.push({ kind: 'star' });
    } else if (c === '?') out.push({ kind: 'any' });
    else if (c === '[') {
      // [abc], [a-z], [!a]: a ']' right after '[' or '[!' is a member. No ']': a literal '['.
      let j = i + 1;
      const negate = glob[j] === '!';
      if (negate) j++;
      const bodyStart = j;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        out.push({ kind: 'lit', ch: '[' });
        continue;
      }
      const body = [...glob.slice(bodyStart, j)];
      const singles = new Set<string>();
      const ranges: [number, number][] = [];
      for (let k = 0; k < body.length; k++) {
        if (k + 2 < body.length && body[k + 1] === '-') {
          const lo = body[k].codePointAt(0)!, hi = body[k + 2].codePointAt(0)!;
          if (lo > hi) throw bad(`the range '${escapeText(body[k])}-${escapeText(body[k + 2])}' is reversed`);
          ranges.push([lo, hi]);
          k += 2;
        } else singles.add(body[k]);
      }
      out.push({ kind: 'class', negate, singles, ranges });
      i = j;
    } else out.push({ kind: 'lit', ch: c });
  }
  return out;
}

/** One name character (a code point) against one token that consumes exactly one. */
function one(t: Token, ch: string): boolean {
  if (t.kind === 'lit') return t.ch === ch;
  if (t.kind === 'any') return true;
  if (t.kind !== 'class') return false;
  let hit = t.singles.has(ch);
  if (!hit) {
    const cp = ch.codePointAt(0)!;
    hit = t.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  }
  return hit !== t.negate;
}

/**
 * Glob matching without backtracking blowup: the classic two-pointer
 * algorithm, where a mismatch goes back only to the last star (a match of
 * what follows it earlier can always be extended), so the cost is at most
 * O(name × pattern), and O(name) for patterns without stars.
 */
function globMatch(tokens: Token[], name: string): boolean {
  let ti = 0, ni = 0;
  let starT = -1, starN = 0;
  while (ni < name.length) {
    const t = tokens[ti];
    if (t && t.kind === 'star') {
      starT = ti++;
      starN = ni;
      continue;
    }
    if (t && t.kind === 'lit') {
      // A literal is one UTF-16 unit (a pattern's surrogate pair is two literals).
      if (t.ch === name[ni]) {
        ti++;
        ni++;
        continue;
      }
    } else if (t) {
      // '?' and a class take a whole code point.
      const width = name.codePointAt(ni)! > 0xffff ? 2 : 1;
      if (one(t, name.slice(ni, ni + width))) {
        ti++;
        ni += width;
        continue;
      }
    }
    if (starT < 0) return false;
    ti = starT + 1;
    ni = ++starN;
  }
  while (ti < tokens.length && tokens[ti].kind === 'star') ti++;
  return ti === tokens.length;
}

function compileGlob(glob: string, isModule: boolean, bad: (why: string) => Error): Glob {
  const tokens = tokenize(glob, bad);
  // Every symbol of every object is tested at start-up: literals (`tiny`) and
  // literals then one star (`kv_*`, `*`) are plain string tests, the same
  // answers as globMatch's.
  const lead = tokens.findIndex((t) => t.kind !== 'lit');
  if (lead < 0) {
    const dotted = glob + '.';
    return { source: glob, test: isModule ? (s: string) => s === glob || s.startsWith(dotted) : (s: string) => s === glob };
  }
  if (lead === tokens.length - 1 && tokens[lead].kind === 'star') {
    const prefix = glob.slice(0, lead);
    return { source: glob, test: (s: string) => s.startsWith(prefix) };
  }
  // A module given as "libz.so" also names "libz.so.1": the glob, or the glob then "." and anything.
  const versioned: Token[] | null = isModule ? [...tokens, { kind: 'lit', ch: '.' }, { kind: 'star' }] : null;
  return {
    source: glob,
    test: (s: string) => globMatch(tokens, s) || (versioned !== null && globMatch(versioned, s)),
  };
}

/** The glob `glob` as a matcher (module: also its versioned names). Throws a PatternError when it cannot be used. */
export function globToRegExp(glob: string, isModule: boolean): Glob {
  return compileGlob(glob, isModule, (why) => new PatternError(`pattern '${escapeText(glob)}': ${why}`));
}

/** The module part names this object: by file name (with version suffixes) or by DT_SONAME. */
export function moduleMatches(p: Pattern, mod: Module): boolean {
  return !p.module || p.module.test(mod.name) || (mod.soname != null && p.module.test(mod.soname));
}

/**
 * Functions of `mod` the pattern names: raw, demangled, or demangled without
 * what the pattern leaves out: its parameters (`geo::area` names
 * `geo::area(int, int)`) and its ABI tags (`geo::label` names
 * `geo::label[abi:cxx11](char const*, int)`, `'geo::label(char const*, int)'` too).
 */
export function matchFunctions(p: Pattern, mod: Module): FunctionSymbol[] {
  if (!moduleMatches(p, mod)) return [];
  const out: FunctionSymbol[] = [];
  for (const f of mod.functions()) {
    if (p.fn.test(f.name) || p.fn.test(f.rawName)) out.push(f);
    else if (f.name !== f.rawName && plainNames(f.name).some((n) => p.fn.test(n))) out.push(f);
  }
  return out;
}

const ABI_TAG = /\[abi:[^\]]*\]/g;

/** A demangled name as people write it: without its parameters, without its ABI tags, or both. */
function plainNames(name: string): string[] {
  const paren = name.indexOf('(');
  const base = paren > 0 ? name.slice(0, paren) : null;
  if (!name.includes('[abi:')) return base ? [base] : [];
  const untagged = name.replace(ABI_TAG, '');
  const untaggedParen = untagged.indexOf('(');
  return [...(base ? [base] : []), untagged, ...(untaggedParen > 0 ? [untagged.slice(0, untaggedParen)] : [])];
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

/**
 * Optimal string alignment distance (Damerau-Levenshtein without editing a
 * substring twice): a swap of two neighbours costs 1, so `grete` is 1 from
 * `greet`. Gives limit + 1 as soon as every path exceeds `limit`.
 */
function editDistance(a: string, b: string, limit: number): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
      cur[j] = d;
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > limit) return limit + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length];
}
