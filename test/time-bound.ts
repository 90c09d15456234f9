/**
 * How much slower everything is here, read in this one place: the arm64 VM
 * (emulation) sets RETHOOK_TEST_SCALE below 1. Loop counts shrink by it
 * (`scaled`), time bounds stretch by it (`timeBound`).
 */
const SCALE = Number(process.env.RETHOOK_TEST_SCALE ?? 1);

/**
 * A time bound for a test that checks something runs in bounded time (not a
 * speed test): stretched where everything is slower.
 */
export function timeBound(ms: number): number {
  return SCALE > 0 && SCALE < 1 ? ms / SCALE : ms;
}

/** A loop count, shrunk where everything is slower. */
export function scaled(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}

/**
 * Poll until `cond()` holds; throw, saying what was awaited, once `ms` (a
 * time bound) has passed without it. For waits on a state the test can see.
 */
export async function waitUntil(what: string | (() => string), cond: () => boolean, ms = timeBound(10000)): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A pause that is the scenario itself (a program left to run a while, a
 * moment in which something must not happen), not a wait for a state:
 * bounded, stretched where everything is slower. Each use says why.
 */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, timeBound(ms)));
}
