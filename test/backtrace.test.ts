import { Backtrace, Tracer } from '../lib';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { cli, fixture, FIXTURES, trace } from './helpers';

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
  // Then the C library's start code, down to _start (its CFI ends the stack).
  expect(bt.frames[6].symbol).toMatch(/^libc\.so\.6/);
  expect(bt.frames[bt.frames.length - 1].symbol).toMatch(/^recursion\.O0!_start\+0x[0-9a-f]+$/);
  expect(new Set(bt.frames.slice(1, 5).map((f) => f.address)).size).toBe(1); // the same call site, four times
  expect(bt.reliable).toBe(true);
});

test('at -O2 without frame pointers, a backtrace from a function three hooked calls deep is complete and reliable (CFI), with source lines', async () => {
  const traces: Backtrace[] = [];
  const r = await trace(path.join(FIXTURES, 'deep.g-O2'), ['level1', 'level2', 'level3'], {
    handlers: { onEntry: (c) => void (c.function === 'level3' && traces.push(c.backtrace())), onExit: (c) => void (c.function === 'level3' && traces.push(c.backtrace())) },
  });
  expect(r.status.code).toBe(0);
  for (const bt of traces) {
    const names = bt.frames.map((f) => f.symbol.replace(/^[^!]*!/, '').replace(/\+0x[0-9a-f]+$/, ''));
    expect(names.slice(0, 4)).toEqual(['level3', 'level2', 'level1', 'main']);
    expect(names[names.length - 1]).toBe('_start');
    expect(bt.frames[1].source).toBe('deep.c:9'); // level2 calls level3 on line 9
    expect(bt.frames[2].source).toBe('deep.c:10');
    expect(bt.frames[3].source).toBe('deep.c:14');
    expect(bt.reliable).toBe(true);
  }
  // The same return addresses at entry (trampolines on the stack put back) and at exit.
  expect(traces[0].frames.map((f) => f.address)).toEqual(traces[1].frames.map((f) => f.address));
});

(process.arch === 'x64' ? test : test.skip)('the code without frame pointers of the fixtures is indeed so: the frame-pointer walk alone would stop early', () => {
  const d = execFileSync('objdump', ['-d', '--no-show-raw-insn', path.join(FIXTURES, 'deep.g-O2')], { encoding: 'utf8' });
  const level2 = d.slice(d.indexOf('<level2>:'), d.indexOf('<level1>:'));
  expect(level2).not.toMatch(/push\s+%rbp|stp\s+x29/);
});

test('the CLI shows backtraces with --backtrace', () => {
  const r = cli(['trace', '--backtrace', '--format', 'json', '-f', 'add', '--', fixture('calls')]);
  const entry = JSON.parse(r.stderr.split('\n').find((l) => l.includes('"type":"entry"'))!); // (after the first event: how calls are caught)
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
