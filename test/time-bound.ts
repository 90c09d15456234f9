/**
 * A time bound for a test that checks something runs in bounded time (not a
 * speed test): stretched where everything is slower (the arm64 VM under
 * emulation sets RETHOOK_TEST_SCALE).
 */
export function timeBound(ms: number): number {
  const scale = Number(process.env.RETHOOK_TEST_SCALE ?? 1);
  return scale > 0 && scale < 1 ? ms / scale : ms;
}
