// What only fast mode has to prove: patching under threads that sit in the
// patched bytes, rings that overflow without losing a record, attaching and
// detaching under load, and a program that outlives a SIGKILLed tracer.
import { ChildProcess, spawn } from 'child_process';
import { once } from 'events';
import { Tracer } from '../lib';
import { CLI, fixture, procState, scaled, trace, waitForState } from './helpers';

const SIGUSR1 = 'SIGUSR1';

async function startUntraced(name: string, args: string[] = []): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(fixture(name, 'O2'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  return { child, output: () => out };
}

const x86test = process.arch === 'x64' ? test : test.skip;

x86test('a thread blocked inside the bytes being patched continues from their copy in the stub, and later calls are recorded', async () => {
  const { child, output } = await startUntraced('patch_window');
  expect(await waitForState(child.pid!, 'S')).toBe('S'); // in pause(), its pc right after blocker's syscall
  const t = await Tracer.attach(child.pid!);
  const events: string[] = [];
  const hook = t.hook('blocker', {
    mode: 'fast',
    onEntry: (c) => void events.push(`> blocker ${c.args[0]}`),
    onExit: (c) => void events.push(`< blocker = ${c.retval === BigInt(child.pid!) ? 'pid' : c.retval}`),
  });
  expect(hook.fellBack).toEqual([]);
  const done = t.run();
  await new Promise((r) => setTimeout(r, 100));
  child.kill(SIGUSR1);
  const [code] = await once(child, 'exit');
  await done;
  expect(code).toBe(0);
  expect(output()).toBe('ready\npause=-4 getpid=3/3\n');
  // The paused call's entry happened before the patch: only the three getpid calls are seen.
  expect(events).toEqual(['> blocker 39', '< blocker = pid', '> blocker 39', '< blocker = pid', '> blocker 39', '< blocker = pid']);
});

test('a ring that fills while a handler is slow loses no record: the thread waits for it to be drained', async () => {
  const calls = scaled(200000);
  let entries = 0, exits = 0, sum = 0n, stalled = false;
  const r = await trace(fixture('ring_flood', 'O2'), 'tick', {
    mode: 'fast',
    args: [String(calls)],
    handlers: {
      onEntry: () => {
        entries++;
        if (!stalled) {
          stalled = true; // 200 ms without draining: far more calls than a ring holds are made meanwhile
          const end = Date.now() + 200;
          while (Date.now() < end);
        }
      },
      onExit: (c) => {
        exits++;
        sum += c.retval;
      },
    },
  });
  expect(r.status.code).toBe(0);
  expect(entries).toBe(calls);
  expect(exits).toBe(calls);
  expect(r.stdout).toBe(`calls=${calls} sum=${sum}\n`);
});

test('attaching and detaching 50 times with calls in flight on 8 threads leaves the program unharmed', async () => {
  const { child, output } = await startUntraced('busy_threads');
  let seen = 0, bad = 0;
  for (let i = 0; i < 50; i++) {
    const t = await Tracer.attach(child.pid!);
    const hook = t.hook(['work', 'inner'], {
      mode: 'fast',
      onEntry: (c) => void (c.data = c.args),
      onExit: (c) => {
        seen++;
        const [a, b] = c.data as bigint[];
        if (!c.unwound && c.function === 'inner' && c.retval !== a * 3n) bad++;
        if (!c.unwound && c.function === 'work' && c.retval !== (a * 1000003n + b) * 3n) bad++;
      },
    });
    expect(hook.fellBack).toEqual([]);
    const done = t.run();
    await new Promise((r) => setTimeout(r, 20));
    await t.detach();
    expect((await done).detached).toBe(true);
  }
  expect(seen).toBeGreaterThan(0);
  expect(bad).toBe(0);
  child.kill(SIGUSR1);
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  expect(output()).toBe('ready\nthreads=8 ok\n');
}, 120000);

test('a program attached in fast mode runs on to a correct end when the tracer is SIGKILLed', async () => {
  const { child, output } = await startUntraced('busy_threads');
  const cli = spawn(process.execPath, [CLI, 'trace', '--mode', 'fast', '--format', 'json', '-p', String(child.pid), '-f', 'work'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let events = '';
  cli.stderr!.on('data', (d) => (events += d));
  while (!events.includes('"exit"')) await new Promise((r) => setTimeout(r, 10));
  cli.kill('SIGKILL');
  await once(cli, 'exit');
  await new Promise((r) => setTimeout(r, 300)); // it goes on calling work(), recording with nobody draining
  expect(procState(child.pid!)).not.toBe('t');
  child.kill(SIGUSR1);
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  expect(output()).toBe('ready\nthreads=8 ok\n');
});
