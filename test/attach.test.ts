import { ChildProcess, spawn } from 'child_process';
import { once } from 'events';
import { RethookError, Tracer } from '../lib';
import { CLI, fixture, MODES } from './helpers';

/** Start the spinner untraced and wait until it runs. */
async function startSpinner(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(fixture('spinner', 'O2'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  return { child, output: () => out };
}

async function finish(child: ChildProcess): Promise<number | null> {
  child.kill('SIGUSR1');
  const [code] = await once(child, 'exit');
  return code as number | null;
}

test.each(MODES)('attaches to a running process and all its threads, and detaches with calls in flight on both, leaving it unharmed (%s mode)', async (mode) => {
  const { child, output } = await startSpinner();
  const t = await Tracer.attach(child.pid!);
  const perThread = new Map<number, number>();
  let bad = 0;
  t.hook('tick', {
    mode,
    onEntry: (c) => void (c.data = c.args[0] + 1n),
    onExit: (c) => {
      if (c.retval !== c.data) bad++;
      perThread.set(c.tid, (perThread.get(c.tid) ?? 0) + 1);
    },
  });
  const done = t.run();
  await new Promise((r) => setTimeout(r, 300));
  await t.detach(); // tick sleeps inside: calls are in flight on both threads now
  expect(await done).toEqual({ pid: child.pid, code: null, signal: null, detached: true });
  expect(bad).toBe(0);
  expect(perThread.size).toBe(2);
  await new Promise((r) => setTimeout(r, 100)); // the program runs on untraced through its restored returns
  expect(await finish(child)).toBe(0);
  expect(output()).toBe('ready\ndone 1\n');
});

test.each(MODES)('the CLI attaches with -p and detaches on SIGINT, exiting 0 (%s mode)', async (mode) => {
  const { child, output } = await startSpinner();
  const cli = spawn(process.execPath, [CLI, 'trace', '--mode', mode, '-p', String(child.pid), '-f', 'tick', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let events = '';
  cli.stderr!.on('data', (d) => (events += d));
  while (!events.includes('"exit"')) await new Promise((r) => setTimeout(r, 10));
  cli.kill('SIGINT');
  const [code] = await once(cli, 'exit');
  expect(code).toBe(0);
  expect(events.split('\n').filter(Boolean).every((l) => JSON.parse(l).function === 'tick')).toBe(true);
  await new Promise((r) => setTimeout(r, 100));
  expect(await finish(child)).toBe(0);
  expect(output()).toBe('ready\ndone 1\n');
});

test.each(MODES)('attaching to a program asleep in nanosleep injects its pages from that thread and leaves the sleep to finish (%s mode)', async (mode) => {
  // arm64: the thread's pc is rewound to the interrupted svc, and the kernel
  // turns a syscall resumed there into restart_syscall: an injected mmap
  // written at that pc must not start at it.
  const child = spawn(fixture('sleeper', 'O2'), ['1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 300)); // in usleep now
  const t = await Tracer.attach(child.pid!);
  t.hook('nap', { mode, onExit: () => {} });
  const done = t.run();
  await new Promise((r) => setTimeout(r, 100));
  await t.detach();
  expect(await done).toEqual({ pid: child.pid, code: null, signal: null, detached: true });
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  expect(out).toBe('slept=1500\n');
});

test('attaching to a pid that does not exist is a one-line error', async () => {
  await expect(Tracer.attach(999999999)).rejects.toThrow(new RethookError('no process 999999999'));
  await expect(Tracer.attach(-1)).rejects.toThrow(new TypeError('Expected pid to be a positive integer'));
});
