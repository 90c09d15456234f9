// Fast mode loses no call silently: every call is traced, or counted in the
// hook's nmissed with the reason named.
import { fixture, scaled, timeBound, trace } from './helpers';

test('in fast mode, every call of 1,000 threads alive at once is traced', async () => {
  const threads = scaled(1000), calls = 20;
  const r = await trace(fixture('many_threads', 'O2'), 'work', { mode: 'fast', args: [String(threads), String(calls)] });
  expect(r.stdout).toBe(`threads=${threads} calls=${threads * calls} wrong=0\n`);
  expect(r.status).toMatchObject({ code: 0 });
  expect(r.events.filter((e) => e.startsWith('< work = ')).length).toBe(threads * calls);
  expect(r.hook.nmissed).toBe(0);
}, timeBound(120000));

test('in fast mode, calls deeper than the node stack run unhooked and count as missed for their depth', async () => {
  const depth = scaled(100000);
  const r = await trace(fixture('deep_recursion', 'O2'), 'down', { mode: 'fast', args: [String(depth)] });
  expect(r.stdout).toBe(`depth=${depth} returned=${depth} wrong=0\n`);
  const traced = r.events.filter((e) => e.startsWith('< down = ')).length;
  // The outermost 1,024 calls are traced, each with its own return value; the deeper ones are counted.
  expect(traced).toBe(Math.min(1024, depth + 1));
  expect(r.events.filter((e) => e.startsWith('< down = ')).slice(-1)[0]).toBe(`< down = ${depth}`);
  expect(r.hook.nmissed).toBe(depth + 1 - traced);
  expect(Object.fromEntries(r.hook.nmissedByReason)).toEqual(depth + 1 > traced ? { depth: depth + 1 - traced } : {});
}, timeBound(120000));
