import { Tracer } from '../lib';
import { Captured, fixture, MODES, pause, procState, trace, untraced, waitForState } from './helpers';

const CASES = MODES.flatMap((mode) => ['O0', 'O2'].map((v) => [mode, v] as const));

describe.each(CASES)('signals (%s mode, %s)', (mode, v) => {
  test.each(['nested', 'altstack', 'altstack-high'])(
    'a hooked call in a signal handler (%s) while another is in flight on the thread',
    async (which) => {
      const r = await trace(fixture('signals', v), ['outer_work', 'in_handler'], { args: [which], mode });
      expect(r.stdout).toBe(untraced(fixture('signals', v), [which]).stdout);
      expect(r.events).toEqual([
        '> outer_work 1', '> in_handler 10', '< in_handler = 100', '< outer_work = 2',
        '> outer_work 5', '> in_handler 10', '< in_handler = 100', '< outer_work = 6',
      ]);
    },
  );

  test('a handler that leaves by siglongjmp ends the interrupted hooked call as unwound', async () => {
    const r = await trace(fixture('signals', v), ['outer_work', 'in_handler'], { args: ['siglongjmp'], mode });
    expect(r.stdout).toBe('siglongjmp r=100 after=6\n');
    expect(r.events).toEqual([
      '> outer_work 1', '> in_handler 10', '< in_handler = 100', '< outer_work unwound(longjmp)',
      '> outer_work 5', '> in_handler 10', '< in_handler = 100', '< outer_work = 6',
    ]);
  });
});

test.each(MODES)('SIGSTOP stops the program (group-stop) until SIGCONT, as untraced (%s mode)', async (mode) => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('signals'), ['stop'], { stdio: [0, out.fd, 2] });
  const seen: bigint[] = [];
  t.hook('in_handler', { mode, onExit: (c) => void seen.push(c.retval!) });
  const done = t.run();
  expect(['t', 'T']).toContain(await waitForState(t.pid, 'tT', 2000));
  // The scenario: a moment in which nothing may resume it.
  await pause(100);
  expect(['t', 'T']).toContain(procState(t.pid)); // still stopped: the tracer did not resume it
  expect(seen).toEqual([]);
  process.kill(t.pid, 'SIGCONT');
  expect((await done).code).toBe(0);
  expect(seen).toEqual([40n]);
  expect(out.text()).toBe('stopping\nresumed work=40\n');
});
