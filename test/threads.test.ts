import { Tracer } from '../lib';
import { Captured, fixture, MODES, scaled, trace } from './helpers';

describe.each(MODES)('threads (%s mode)', (mode) => {

test('8 threads x 100,000 hooked calls: every entry matched by exactly one exit with its own return value', async () => {
  const per = scaled(100000);
  const out = new Captured();
  const t = await Tracer.spawn(fixture('threads', 'O2'), ['8', String(per)], { stdio: [0, out.fd, 2] });
  const inFlight = new Map<number, bigint>();
  const counts = new Map<number, number>();
  let mismatches = 0;
  t.hook('work', {
    mode,
    onEntry(c) {
      if (inFlight.has(c.tid)) mismatches++; // work() does not nest: one call in flight per thread
      inFlight.set(c.tid, c.args[0] * 1000000n + c.args[1]);
    },
    onExit(c) {
      if (c.unwound || inFlight.get(c.tid) !== c.retval) mismatches++;
      inFlight.delete(c.tid);
      counts.set(c.tid, (counts.get(c.tid) ?? 0) + 1);
    },
  });
  const status = await t.run();
  expect(status.code).toBe(0);
  expect(mismatches).toBe(0);
  expect(inFlight.size).toBe(0);
  expect([...counts.values()]).toEqual(new Array(8).fill(per));
  expect(new Set(counts.keys()).has(t.pid)).toBe(false); // the calls ran on the 8 new threads
  const total = Array.from({ length: 8 }, (_, k) => (k + 1) * 1000000 * per + (per * (per - 1)) / 2).reduce((a, b) => a + b, 0);
  expect(out.text()).toBe(`threads=8 calls=${8 * per} total=${total}\n`);
}, 300000);

test('a thread that exits inside a hooked call has the call flushed as unwound (thread-exit)', async () => {
  const r = await trace(fixture('thread_exit'), 'quit_inside', { mode });
  expect(r.events).toEqual(['> quit_inside 5', '< quit_inside unwound(thread-exit)']);
  expect(r.stdout).toBe('joined=5\n');
});
});
