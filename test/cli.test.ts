import { spawn } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli, CLI as CLI_PATH, fixture, procState, scratchDir, timeBound, untraced, VARIANTS, waitForState, waitUntil } from './helpers';

describe.each(VARIANTS)('the traced program behaves as untraced (%s)', (v) => {
  test.each([
    ['calls', 'add'],
    ['recursion', 'fact'],
    ['tailcall', '*er'],
    ['longjmp', 'deep*'],
    ['override', 'compute*'],
    ['selftrap', 'work'],
    ['cxxnames', 'geo::*'],
  ])('%s with -f %s: same stdout, stderr and exit status', (name, pattern) => {
    const plain = untraced(fixture(name, v));
    const events = path.join(scratchDir(), 'events');
    const traced = cli(['trace', '-f', pattern, '-o', events, '--', fixture(name, v)]);
    expect(traced).toEqual(plain);
    expect(fs.readFileSync(events, 'utf8')).not.toBe('');
  });
});

test('exits with the program exit code', () => {
  expect(cli(['trace', '-f', 'add', '-o', '/dev/null', '--', fixture('calls')]).status).toBe(7);
});

test('exits with 128+signal when a signal ends the program', () => {
  const r = cli(['trace', '-f', 'fail', '-o', '/dev/null', '--', fixture('crash')]);
  expect(r.status).toBe(128 + 6);
  expect(r.stderr).toMatch(/^about to abort\nrethook: process \d+ was killed by SIGABRT\n$/);
});

test('prints a call tree with arguments, return values and durations', () => {
  const r = cli(['trace', '-f', 'fact', '--args', '1', '--', fixture('recursion')]);
  const lines = r.stderr.trimEnd().split('\n').map((l) => l.replace(/<[\d.]+ [mun]?s>/, '<T>').replace(/^\s*\d+ /, ''));
  expect(lines).toEqual([
    'fact(0x5) {',
    '  fact(0x4) {',
    '    fact(0x3) {',
    '      fact(0x2) {',
    '        fact(0x1) = 0x1 <T>',
    '      } = 0x2 <T> /* fact */',
    '    } = 0x6 <T> /* fact */',
    '  } = 0x18 <T> /* fact */',
    '} = 0x78 <T> /* fact */',
  ]);
  expect(r.stdout).toBe('fact(5)=120\n');
});

test('marks unwound calls in the call tree', () => {
  const r = cli(['trace', '-f', 'deep*', '-f', 'after', '--args', '1', '--', fixture('longjmp')]);
  const lines = r.stderr.trimEnd().split('\n').map((l) => l.replace(/<[\d.]+ [mun]?s>/, '<T>').replace(/^\s*\d+ /, ''));
  expect(lines).toEqual([
    'deep(0x29) {',
    '  deeper(0x2a) unwound (longjmp) <T>',
    '} unwound (longjmp) <T> /* deep */',
    'after(0x2a) = 0x54 <T>',
  ]);
});

test('writes one JSON object per event with stable field names', () => {
  const out = path.join(scratchDir(), 'events.json');
  const r = cli(['trace', '--format', 'json', '-o', out, '-f', 'add', '--', fixture('calls')]);
  expect(r.status).toBe(7);
  const all = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(all).toHaveLength(8);
  // First, how calls are caught: by default fast, and add (at -O0) is patched, none left in trap mode.
  expect(Object.keys(all[0])).toEqual(['type', 'mode', 'fallbacks']);
  expect(all[0]).toEqual({ type: 'fallbacks', mode: 'fast', fallbacks: [] });
  expect(all[7]).toEqual({ type: 'process-exit', pid: all[1].pid, code: 7, signal: null });
  const events = all.slice(1, 7);
  const [entry, exit] = events;
  expect(Object.keys(entry)).toEqual(['type', 'pid', 'tid', 'function', 'address', 'depth', 'args', 'ts']);
  expect(entry).toMatchObject({ type: 'entry', function: 'add', depth: 0 });
  expect(entry.args.slice(0, 2)).toEqual(['0x0', '0xa']);
  expect(entry.address).toMatch(/^0x[0-9a-f]+$/);
  expect(entry.pid).toBe(entry.tid);
  expect(Object.keys(exit)).toEqual(['type', 'pid', 'tid', 'function', 'depth', 'retval', 'unwound', 'durationNs', 'ts']);
  expect(exit).toMatchObject({ type: 'exit', function: 'add', depth: 0, retval: '0xa', unwound: false });
  expect(exit.durationNs).toBeGreaterThan(0);
  expect(events.map((e) => e.retval ?? e.args[0])).toEqual(['0x0', '0xa', '0x1', '0xb', '0x2', '0xc']);
});

test('reports calls missed because of --max-active', () => {
  const r = cli(['trace', '--max-active', '2', '-f', 'depth', '--', fixture('nested')]);
  expect(r.stderr).toMatch(/\nrethook: 8 calls ran without a return hook: --max-active 2 calls were already in flight\n$/);
  expect(r.stdout).toBe('depth=9\n');
});

test('passes the program its arguments, and stdin through', () => {
  const r = cli(['trace', '-f', 'tiny', '-o', '/dev/null', fixture('loop'), '5']);
  expect(r.stdout).toBe(String([0, 1, 2, 3, 4].reduce((s, i) => s + (i ^ 1), 0)) + '\n');
  const cat = cli(['trace', '-f', 'read', '-o', '/dev/null', '--', '/bin/cat'], { input: 'through stdin\n' });
  expect(cat.stdout).toBe('through stdin\n');
});

/**
 * Until the program the CLI started sleeps (in its hooked call): a fixed delay
 * is too short where Node takes seconds to start (the arm64 VM).
 */
async function programAsleep(cliPid: number): Promise<void> {
  const asleep = () => fs.readFileSync(`/proc/${cliPid}/task/${cliPid}/children`, 'utf8').split(' ').filter(Boolean).some((k) => procState(Number(k)) === 'S');
  await waitUntil('the program the CLI started to sleep', asleep, timeBound(30000));
}

test('Ctrl-C reaches the program (same process group) and the CLI exits as it did: 128+SIGINT', async () => {
  const child = spawn(process.execPath, [CLI_PATH, 'trace', '-f', 'nap', '-o', '/dev/null', '--', fixture('sleeper'), '5000'], { detached: true, stdio: 'ignore' });
  await programAsleep(child.pid!); // the program is in its sleep, inside a hooked call
  process.kill(-child.pid!, 'SIGINT'); // as the terminal does: to the whole foreground group
  const [code] = await once(child, 'exit');
  expect(code).toBe(130);
});

test('with --detach-on-exit, Ctrl-C detaches: the program never sees the SIGINT and finishes untraced', async () => {
  const dir = scratchDir();
  const out = fs.openSync(path.join(dir, 'out'), 'w');
  const child = spawn(process.execPath, [CLI_PATH, 'trace', '--detach-on-exit', '-f', 'nap', '-o', '/dev/null', '--', fixture('sleeper'), '1500'], {
    detached: true,
    stdio: ['ignore', out, 'ignore'],
  });
  await programAsleep(child.pid!);
  process.kill(-child.pid!, 'SIGINT');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  // The program, detached mid-call, wakes up and returns through its restored return address.
  await waitUntil('its line', () => fs.readFileSync(path.join(dir, 'out'), 'utf8').includes('\n'), timeBound(3000));
  expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).toBe('slept=1500\n');
});

test('SIGTERM after the program has exited, a followed child still traced, gives no stack trace: it goes to that child, and the CLI exits with the program status', async () => {
  const child = spawn(process.execPath, [CLI_PATH, 'trace', '--follow-fork', '-f', 'nap', '-o', '/dev/null', '--', fixture('orphan'), '30000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '', err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = once(child, 'exit');
    // The child says so once its parent, the program, has exited.
    const said = await new Promise<RegExpExecArray>((resolve) =>
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /^orphaned parent=(\d+) child=(\d+)\n/.exec(out);
        if (m) resolve(m);
      }),
    );
    const [program, orphan] = [Number(said[1]), Number(said[2])];
    // Reaped by the tracer: its exit was seen, and its pid may be another process's now.
    expect(await waitForState(program, '', timeBound(10000))).toBeNull();
    const t0 = Date.now();
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
    expect(Date.now() - t0).toBeLessThan(timeBound(10000));
    // The child got the SIGTERM (gone, or a zombie of whoever adopted it), long before its 30 s nap ended.
    expect([null, 'Z']).toContain(await waitForState(orphan, 'Z', timeBound(10000)));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
