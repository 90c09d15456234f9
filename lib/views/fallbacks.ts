// The functions a run left in trap mode and why (fast mode could not patch
// them, or an option needs the thread stopped at the call): said at the
// start of every output, grouped by reason, bounded.
import { escapeText } from '../symbols/text';

/** A function in trap mode and why: `{ function: 'add', reason: 'too short (4 bytes)' }`. */
export interface Fallback {
  function: string;
  reason: string;
}

/**
 * The note every output starts with (JSON: `{"type":"fallbacks",...}`): how
 * the calls are caught (`mode`: what the hook asked for) and the functions in
 * trap mode when that is not what was asked.
 */
export interface FallbacksNote {
  type: 'fallbacks';
  mode: 'fast' | 'trap';
  fallbacks: Fallback[];
}

/** Names listed per reason; the rest are counted. */
export const NAMES_SHOWN = 10;
/** Reasons listed, one line each; the rest are counted. */
export const REASONS_SHOWN = 10;

/** A reason as a group: details that differ per function (`(4 bytes)`, `at +0x1c`, `at 0x5555...`) left out. */
export function reasonGroup(reason: string): string {
  return reason.replace(/\s*\([^)]*\d[^)]*\)/g, '').replace(/ at \+?0x[0-9a-f]+/g, '').trim();
}

/** Fallbacks grouped by reason, in the order first seen, each function once per group. */
export function groupFallbacks(list: readonly Fallback[]): { reason: string; functions: string[] }[] {
  const groups = new Map<string, Set<string>>();
  for (const f of list) {
    const key = reasonGroup(f.reason);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Set()));
    g.add(f.function);
  }
  return [...groups].map(([reason, fns]) => ({ reason, functions: [...fns] }));
}

/**
 * The lines (without `rethook: ` and newline) that name the functions in trap
 * mode, one per reason: `2 functions in trap mode (too short): add, sub`.
 * Escaped (names and reasons come from the program); at most NAMES_SHOWN
 * names a line and REASONS_SHOWN lines, the rest counted.
 */
export function fallbackLines(list: readonly Fallback[]): string[] {
  const groups = groupFallbacks(list);
  const lines = groups.slice(0, REASONS_SHOWN).map((g) => {
    const n = g.functions.length;
    const names = g.functions.slice(0, NAMES_SHOWN).map(escapeText).join(', ');
    const more = n > NAMES_SHOWN ? ` and ${n - NAMES_SHOWN} more` : '';
    return `${n} function${n === 1 ? '' : 's'} in trap mode (${escapeText(g.reason)}): ${names}${more}`;
  });
  if (groups.length > REASONS_SHOWN) {
    const rest = groups.slice(REASONS_SHOWN).reduce((a, g) => a + g.functions.length, 0);
    lines.push(`${rest} more function${rest === 1 ? '' : 's'} in trap mode for ${groups.length - REASONS_SHOWN} other reasons`);
  }
  return lines;
}

/** The fallbacks a note carries (a `fallbacks` note's list, a `fallback` note's function), or none. */
export function fallbacksOf(e: { type: string; [k: string]: unknown }): Fallback[] {
  if (e.type === 'fallbacks' && Array.isArray(e.fallbacks)) return e.fallbacks as Fallback[];
  if (e.type === 'fallback' && typeof e.function === 'string' && typeof e.reason === 'string') return [{ function: e.function, reason: e.reason }];
  return [];
}
