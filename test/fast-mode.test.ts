// What only fast mode has to prove: patching under threads that sit in the
// patched bytes, rings that overflow without losing a record, attaching and
// detaching under load, and a program that outlives a SIGKILLed tracer.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { once } from 'events';
import { EntryContext, Tracer } from '../lib';
import { cli, CLI, fixture, procState, scaled, scratchDir, trace, waitForProgress, waitForState } from './helpers';
import { timeBound, waitUntil } from './time-bound';

const SIGUSR1 = 'SIGUSR1';

/** What a test left running is ended after it, pass or fail. */
const leftovers: (() => void)[] = [];
afterEach(() => leftovers.splice(0).forEach((end) => end()));

/**
 * Start a fixture untraced and wait until it says "ready". It is not our
 * child (a shell starts it in the background and exits): Node's own
 * waitpid for its children would otherwise take the ptrace stops meant for
 * the tracer in this same process. Its output goes to a file.
 */
async function startUntraced(name: string, args: string[] = [], variant = 'O2'): Promise<{ pid: number; output: () => string; ended: () => Promise<void> }> {
  const file = path.join(scratchDir(), 'out');
  const sh = spawnSync('sh', ['-c', `"$0" "$@" >${file} 2>&1 & echo $!`, fixture(name, variant), ...args], { encoding: 'utf8' });
  const pid = Number(sh.stdout.trim());
  leftovers.push(() => {
    // Still running after its test (it failed or timed out): it would load the machine for the tests after it.
    try {
      if (fs.readlinkSync(`/proc/${pid}/exe`) === fixture(name, variant)) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  const output = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  while (!output().includes('ready')) await new Promise((r) => setTimeout(r, 10));
  const ended = async () => {
    while (fs.existsSync(`/proc/${pid}`) && procState(pid) !== 'Z') await new Promise((r) => setTimeout(r, 10));
  };
  return { pid, output, ended };
}

/** Until no thread of `pid` has a tracer (detach lets go of a thread busy in the kernel a moment later). */
async function untraced(pid: number): Promise<boolean> {
  for (const end = Date.now() + timeBound(10000); Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
    let traced = false;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      if (!/^TracerPid:\s+0$/m.test(st)) traced = true;
    }
    if (!traced) return true;
  }
  return false;
}

const x86test = process.arch === 'x64' ? test : test.skip;

x86test('a thread blocked inside the bytes being patched continues from their copy in the stub, and later calls are recorded', async () => {
  const { pid, output, ended } = await startUntraced('patch_window');
  expect(await waitForState(pid, 'S')).toBe('S'); // in pause(), its pc right after blocker's syscall
  const t = await Tracer.attach(pid);
  const events: string[] = [];
  const hook = t.hook('blocker', {
    mode: 'fast',
    onEntry: (c) => void events.push(`> blocker ${c.args[0]}`),
    onExit: (c) => void events.push(`< blocker = ${c.retval === BigInt(pid) ? 'pid' : c.retval}`),
  });
  expect(hook.fellBack).toEqual([]);
  const done = t.run();
  // Patched and resumed: back in pause() (stopped by us it is 't').
  expect(await waitForState(pid, 'S')).toBe('S');
  process.kill(pid, SIGUSR1);
  await waitUntil('its getpid line', () => output().includes('getpid'));
  await t.detach(); // before it exits: its parent (this process) would reap it under the tracer
  expect((await done).detached).toBe(true);
  process.kill(pid, SIGUSR1);
  await ended();
  expect(output()).toBe('ready\npause=-4 getpid=3/3\n');
  // The paused call's entry happened before the patch: only the three getpid calls are seen.
  expect(events).toEqual(['> blocker 39', '< blocker = pid', '> blocker 39', '< blocker = pid', '> blocker 39', '< blocker = pid']);
});

test('a string argument is copied at the call: the value shown is what the call saw, not what the buffer holds later', async () => {
  const seen: unknown[] = [];
  const r = await trace(fixture('string_reuse'), 'say', {
    mode: 'fast',
    handlers: { args: ['str s'], ret: 'int', capture: { strings: [0] }, onEntry: (c: EntryContext) => void seen.push(c.arg('s')) },
  });
  expect(r.hook.fellBack).toEqual([]);
  expect(r.stdout).toBe('total=18\n');
  expect(seen).toEqual(['call-0', 'call-1', 'call-2']);
  expect(r.events).toEqual(['> say ' + r.events[0].split(' ')[2], '< say = 6', r.events[2], '< say = 6', r.events[4], '< say = 6']);
});

test('the CLI in fast mode shows string arguments as the call saw them', () => {
  const res = cli(['trace', '--mode', 'fast', '-f', 'say(str s) -> int', '--', fixture('string_reuse')]);
  expect(res.status).toBe(0);
  expect(res.stdout).toBe('total=18\n');
  expect(res.stderr).toContain('say(s="call-0") = 6');
  expect(res.stderr).toContain('say(s="call-1") = 6');
  expect(res.stderr).toContain('say(s="call-2") = 6');
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
        sum += c.retval!;
      },
    },
  });
  expect(r.status.code).toBe(0);
  expect(entries).toBe(calls);
  expect(exits).toBe(calls);
  expect(r.stdout).toBe(`calls=${calls} sum=${sum}\n`);
});

test('a thread waiting for room in its ring sleeps while a slow handler holds up the drain, rather than spinning', async () => {
  const states: string[] = [];
  const r = await trace(fixture('ring_flood', 'O2'), 'tick', {
    mode: 'fast',
    args: ['100000'], // 200,000 records: far more than a ring holds (16,384)
    handlers: {
      onEntry: (c) => {
        if (states.length) return;
        // Nothing is drained for a second: the ring fills within milliseconds, then the thread waits.
        for (let i = 0; i < 10; i++) {
          const end = Date.now() + 100;
          while (Date.now() < end);
          states.push(procState(c.pid) ?? '?');
        }
      },
    },
  });
  expect(r.status.code).toBe(0);
  expect(r.stdout).toMatch(/^calls=100000 /);
  // Spinning (sched_yield) is always R; sleeping on the ring's tail is S but for a moment every 2 ms.
  expect(states.filter((st) => st === 'S').length).toBeGreaterThanOrEqual(6);
});

test('attaching and detaching 50 times with calls in flight on 8 threads leaves the program unharmed', async () => {
  // It runs until SIGUSR1 (600 s at most: 50 cycles take about a minute here, two under load; the VM stretches both).
  const { pid, output, ended } = await startUntraced('busy_threads', [String(timeBound(600_000) / 1000)], 'O0');
  let seen = 0, bad = 0;
  for (let i = 0; i < 50; i++) {
    if (!fs.existsSync(`/proc/${pid}`)) throw new Error(`the program ended at cycle ${i}: ${JSON.stringify(output())}`);
    const t = await Tracer.attach(pid);
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
    // Calls returned under this tracer: calls are in flight on the threads now.
    const before = seen;
    await waitUntil(`a return in cycle ${i + 1}`, () => seen > before);
    await t.detach();
    expect((await done).detached).toBe(true);
    await untraced(pid); // a thread that could not stop at once is let go a moment later
    // In the arm64 VM a cycle takes tens of seconds: say how far it got.
    if (process.env.RETHOOK_TEST_PROGRESS) process.stderr.write(`[progress] cycle ${i + 1} of 50, ${seen} exits seen\n`);
  }
  expect(seen).toBeGreaterThan(0);
  expect(bad).toBe(0);
  process.kill(pid, SIGUSR1);
  await ended();
  expect(output()).toBe('ready\nthreads=8 ok\n');
}, timeBound(300_000));

test('a program attached in fast mode runs on to a correct end when its tracer is SIGKILLed', async () => {
  const { pid, output, ended } = await startUntraced('busy_threads', [String(timeBound(60_000) / 1000)], 'O0');
  const cli = spawn(process.execPath, [CLI, 'trace', '--mode', 'fast', '--format', 'json', '-p', String(pid), '-f', 'work'], { stdio: ['ignore', 'pipe', 'pipe'] });
  leftovers.push(() => cli.kill('SIGKILL'));
  let events = '';
  cli.stderr!.on('data', (d) => (events += d));
  await waitUntil('an exit event', () => events.includes('"exit"'), timeBound(60_000));
  cli.kill('SIGKILL');
  await once(cli, 'exit');
  await waitForProgress(pid, 8); // it goes on calling work() (one call in 64 sleeps), recording with nobody draining
  // The guardian holds the threads while it undoes our changes (its Node takes seconds to start in the arm64 VM), then lets go.
  expect(await untraced(pid)).toBe(true);
  expect(procState(pid)).not.toBe('t');
  process.kill(pid, SIGUSR1);
  await ended();
  expect(output()).toBe('ready\nthreads=8 ok\n');
}, timeBound(60_000)); // the CLI takes a minute to start and attach in the arm64 VM
