import { Backtrace, Tracer } from '../lib';
import { cli, fixture, trace } from './helpers';

test('a backtrace replaces trampolines with the real return addresses and is reliable with frame pointers', async () => {
  const traces: Backtrace[] = [];
  await trace(fixture('recursion', 'O0'), 'fact', { handlers: { onExit: (c) => void (c.retval === 1n && traces.push(c.backtrace())) } });
  const [bt] = traces;
  // fact(1) returns into fact(2), which returns (through our trampoline, three
  // times) into fact(3), fact(4), fact(5), then main, then the C library.
  const names = bt.frames.map((f) => f.symbol.replace(/^[^!]*!/, ''));
  expect(names[0]).toBe('fact+0x0');
  for (const n of names.slice(1, 5)) expect(n).toMatch(/^fact\+0x[0-9a-f]+$/);
  expect(names[5]).toMatch(/^main\+0x[0-9a-f]+$/);
  expect(bt.frames[0].symbol).toBe('recursion.O0!fact+0x0');
  expect(bt.frames).toHaveLength(7);
  expect(bt.frames[6].symbol).toMatch(/^libc\.so\.6/);
  expect(new Set(bt.frames.slice(1, 5).map((f) => f.address)).size).toBe(1); // the same call site, four times
  expect(bt.reliable).toBe(true);
});

// x86-64 only: GCC for arm64 keeps frame records in non-leaf functions even at -O2.
(process.arch === 'x64' ? test : test.skip)('a backtrace through code without frame pointers is marked unreliable', async () => {
  const traces: Backtrace[] = [];
  await trace(fixture('recursion', 'O2'), 'fact', { handlers: { onExit: (c) => void (c.retval === 1n && traces.push(c.backtrace())) } });
  expect(traces[0].frames[0].symbol).toBe('recursion.O2!fact+0x0');
  expect(traces[0].reliable).toBe(false);
});

test('the CLI shows backtraces with --backtrace', () => {
  const r = cli(['trace', '--backtrace', '--format', 'json', '-f', 'add', '--', fixture('calls')]);
  const entry = JSON.parse(r.stderr.split('\n')[0]);
  expect(entry.backtrace[0]).toMatch(/^calls\.O0!main\+0x[0-9a-f]+$/);
  expect(entry.backtraceReliable).toBe(true);
});

test('tracer.backtrace(tid) gives the same stack from inside a handler, and refuses a thread not stopped in one', async () => {
  const r0: { tracer: Tracer | null } = { tracer: null };
  let same = false;
  let pid = 0;
  const r = await trace(fixture('recursion', 'O0'), 'fact', {
    setup: (t) => {
      pid = t.pid;
      r0.tracer = t;
    },
    handlers: {
      onEntry: (c) => {
        if (c.args[0] === 2n) same = JSON.stringify(c.backtrace()) === JSON.stringify(r0.tracer!.backtrace(c.tid));
      },
    },
  });
  expect(same).toBe(true);
  expect(() => r.tracer.backtrace(pid)).toThrow(`thread ${pid} is not stopped in a handler`);
});
