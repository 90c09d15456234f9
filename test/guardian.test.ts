// The guardian: when the tracer of an attached process is SIGKILLed (no
// JavaScript runs, nothing is detached), a guardian process takes over the
// moment it dies and puts back every original byte and real return address.
import { ChildProcess, spawn } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import { CLI, fixture, waitForProgress, waitForState } from './helpers';
import { timeBound, waitUntil } from './time-bound';

/** /proc/PID/status ('' once the process is gone). */
function statusOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

/** How long each call sleeps: long enough for the tracer to be killed while it sleeps, on a loaded machine (50 ms was not, beside two VMs) and under emulation. */
const NAP = Math.min(timeBound(250), 2000);

/** Collects a child's stream; `until` resolves once the text so far satisfies `want`. */
function collect(child: ChildProcess, stream: 'stdout' | 'stderr') {
  let text = '';
  const waiters: [(t: string) => boolean, () => void][] = [];
  child[stream]!.on('data', (d) => {
    text += d;
    for (const w of waiters.splice(0)) if (w[0](text)) w[1]();
      else waiters.push(w);
  });
  return {
    get text() {
      return text;
    },
    until: (want: (t: string) => boolean) => new Promise<void>((resolve) => (want(text) ? resolve() : waiters.push([want, resolve]))),
  };
}

/** Attach the CLI to a program with a hooked call in flight, SIGKILL the CLI, then let the program finish. */
async function killTracer(env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const prog = spawn(fixture('slow_calls', 'O2'), [String(NAP)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(prog, 'exit');
  const out = collect(prog, 'stdout');
  await out.until((t) => t.includes('ready\n'));
  const cli = spawn(process.execPath, [CLI, 'trace', '--mode', 'trap', '--format', 'json', '-p', String(prog.pid), '-f', 'slow'], { // trap mode: a thread at the trampoline when the tracer dies (what the guardian rescues)
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env },
  });
  // Two entries seen: a call is in flight with its return address ours.
  await collect(cli, 'stderr').until((t) => t.split('"type":"entry"').length > 2);
  // Into the call's sleep: the thread is not stopped at one of our traps
  // (a thread that is, at the tracer's death, gets its SIGTRAP from the kernel: docs/internals.md).
  // A fixed 15 ms was not enough on a loaded machine (the entries are read late): wait to see it asleep.
  expect(await waitForState(prog.pid!, 'S', timeBound(5000))).toBe('S');
  cli.kill('SIGKILL');
  await once(cli, 'exit');
  // The guardian lets go once it has put everything back; then the call in flight returns and the
  // next one sleeps (without the guardian, the program dies at that return).
  await waitUntil('the guardian to let go', () => !/^TracerPid:\s*[1-9]/m.test(statusOf(prog.pid!)));
  await waitForProgress(prog.pid!, 2);
  prog.kill('SIGUSR1');
  const [code, signal] = await exited;
  return { code, signal, out: out.text };
}

test("an attached program survives its tracer's SIGKILL with a call in flight: the guardian undoes everything", async () => {
  for (let i = 0; i < 3; i++) {
    const r = await killTracer({});
    expect(r).toEqual({ code: 0, signal: null, out: 'ready\ndone right after calls\n' });
  }
}, timeBound(60000));

test('without the guardian the same program dies of SIGTRAP at its return into the trampoline', async () => {
  const r = await killTracer({ RETHOOK_NO_GUARDIAN: '1' });
  expect(r).toEqual({ code: null, signal: 'SIGTRAP', out: 'ready\n' });
}, timeBound(60000));
