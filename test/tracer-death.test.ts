import { spawn } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI, fixture, procState, scratchDir, threadsReturned } from './helpers';
import { timeBound } from './time-bound';

function alive(pid: number): boolean {
  const st = procState(pid);
  return st !== null && st !== 'Z';
}

/** Until `cond` holds (the CLI takes seconds to start and trace in the arm64 VM: time-bound). */
async function until(cond: () => boolean, ms = timeBound(10000)): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a program the CLI started dies with the tracer when the tracer is SIGKILLed', async () => {
  const cli = spawn(process.execPath, [CLI, 'trace', '--format', 'json', '-f', 'tick', '--', fixture('spinner', 'O2')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let events = '';
  cli.stderr!.on('data', (d) => (events += d));
  await until(() => events.includes('"exit"'));
  const pid = JSON.parse(events.split('\n').find((l) => l.includes('"pid"'))!).pid as number; // (the first event, how calls are caught, has none)
  expect(alive(pid)).toBe(true);
  cli.kill('SIGKILL');
  await once(cli, 'exit');
  await until(() => !alive(pid));
}, timeBound(60000));

test('a program SIGKILLed mid-trace: the CLI exits 128+9, and every event from before is in the output', async () => {
  const out = path.join(scratchDir(), 'events');
  const cli = spawn(process.execPath, [CLI, 'trace', '--format', 'json', '-o', out, '-f', 'tick', '--', fixture('spinner', 'O2')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  cli.stderr!.on('data', (d) => (stderr += d));
  await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('"exit"'));
  const pid = JSON.parse(fs.readFileSync(out, 'utf8').split('\n').find((l) => l.includes('"pid"'))!).pid as number;
  // Calls returned on both threads: calls are in flight on both now (tick sleeps inside).
  await until(() => threadsReturned(out) === 2);
  process.kill(pid, 'SIGKILL');
  const [code] = await once(cli, 'exit');
  expect(code).toBe(137);
  const events = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(events[events.length - 1]).toEqual({ type: 'process-exit', pid, code: null, signal: 'SIGKILL' });
  // Every entry has its exit: returned, or flushed as unwound when the threads died.
  const open = new Map<number, number>();
  for (const e of events.slice(0, -1)) {
    if (e.type !== 'entry' && e.type !== 'exit') continue;
    open.set(e.tid, (open.get(e.tid) ?? 0) + (e.type === 'entry' ? 1 : -1));
    if (e.type === 'exit' && e.unwound) expect(e.reason).toBe('thread-exit');
  }
  expect([...open.values()].every((n) => n === 0)).toBe(true);
  expect(stderr).toBe(`rethook: process ${pid} was killed by SIGKILL\n`);
}, timeBound(60000));
