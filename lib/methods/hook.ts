// Tracer.hook: validate, then plant (engine/planting.ts).
import { addHook } from '../engine/planting';
import type { Session } from '../engine/session';
import { programDying } from '../engine/stop-loop';
import { Hook, HookHandlers, validateHandlers } from '../hook';
import { validatePattern } from '../symbols/patterns';

export function hookFunctions(s: Session, pattern: unknown, handlers?: HookHandlers): Hook {
  const list = Array.isArray(pattern) ? pattern : [pattern];
  if (list.length === 0 || list.some((p) => typeof p !== 'string' && typeof p !== 'number'))
    throw new TypeError('Expected the pattern to be a string, a number or an array of them');
  for (const p of list) if (typeof p === 'string') validatePattern(p); // a bad pattern is a TypeError naming it
  const h = validateHandlers(handlers);
  s.checkUsable();
  try {
    return addHook(s, list as (string | number)[], h);
  } catch (e) {
    // Its memory went away under us: the program is being killed; its end follows (run()).
    if (e instanceof Error && programDying(s, s.pid)) Object.assign(e, { dying: true });
    throw e;
  }
}
