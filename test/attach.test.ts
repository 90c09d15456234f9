import { ChildProcess, spawn } from 'child_process';
import { once } from 'events';
import { RethookError, Tracer } from '../lib';
import { CLI, fixture, MODES, waitForProgress, waitForState, waitUntil } from './helpers';

/** Start the spinner untraced and wait until it runs. */
async function startSpinner(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(fixture('spinner', 'O2'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await waitUntil('the spinner to say ready', () => out.includes('ready'));
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
  // Calls returned on both threads: tick sleeps inside, so calls are in flight on both now.
  await waitUntil('returns of tick on both threads', () => perThread.size === 2);
  await t.detach();
  expect(await done).toEqual({ pid: child.pid, code: null, signal: null, detached: true });
  expect(bad).toBe(0);
  expect(perThread.size).toBe(2);
  await waitForProgress(child.pid!); // the program runs on untraced through its restored returns
  expect(await finish(child)).toBe(0);
  expect(output()).toBe('ready\ndone 1\n');
});

test.each(MODES)('the CLI attaches with -p and detaches on SIGINT, exiting 0 (%s mode)', async (mode) => {
  const { child, output } = await startSpinner();
  const cli = spawn(process.execPath, [CLI, 'trace', '--mode', mode, '-p', String(child.pid), '-f', 'tick', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let events = '';
  cli.stderr!.on('data', (d) => (events += d));
  await waitUntil('an exit event', () => events.includes('"exit"'));
  cli.kill('SIGINT');
  const [code] = await once(cli, 'exit');
  expect(code).toBe(0);
  expect(events.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type !== 'fallbacks').every((e) => e.function === 'tick')).toBe(true); // (the stream's first event says how calls are caught)
  await waitForProgress(child.pid!); // untraced, it runs on
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
  expect(await waitForState(child.pid!, 'S')).toBe('S'); // in usleep now
  const t = await Tracer.attach(child.pid!);
  t.hook('nap', { mode, onExit: () => {} });
  const done = t.run();
  // Hooked and resumed: back in its sleep (stopped by us it is 't').
  expect(await waitForState(child.pid!, 'S')).toBe('S');
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
