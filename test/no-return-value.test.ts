// A call that did not return has no return value: calls still in flight at
// a detach end `unwound` with reason 'detach' and `"retval": null` (the field
// is kept, so that readers find it on every exit) in JSON and in a record,
// whose views read it; in the API, ctx.retval and ctx.returnValue are null
// for every unwound call.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { readRecord } from '../lib/record/read';
import type { SiteInfo } from '../lib/record/batch';
import { Captured, CLI, fixture, MODES, scratchDir, waitForState } from './helpers';
import { timeBound } from './time-bound';

/** Long enough that the call is still asleep when the CLI is told to detach (it ends early then: not waited for). */
const NAP = 60000;

/** The JSON lines written to `file` so far. */
function linesOf(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l));
}

/** The pid of the first entry of `fn` in record `file` so far (read as a cut record), or 0. */
function recordedEntry(file: string, fn: string): number {
  if (!fs.existsSync(file) || fs.statSync(file).size < 16) return 0;
  let sites: readonly SiteInfo[] = [];
  let pid = 0;
  readRecord(file, {
    sites: (_a, all) => (sites = all),
    calls: (b) => {
      for (let r = 0; r < b.length && !pid; r++) if (b.kind[r] === 1 && sites[b.site[r]].function === fn) pid = b.pid;
    },
  });
  return pid;
}

/** Until `file` holds an entry of `fn` (the CLI flushes JSON every 20 ms, a record every second): its pid. */
async function entered(file: string, fn: string, cli: ChildProcess, record = false): Promise<number> {
  for (const end = Date.now() + timeBound(20000); Date.now() < end && cli.exitCode === null; ) {
    if (record) {
      const pid = recordedEntry(file, fn);
      if (pid) return pid;
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const e = linesOf(file).find((l) => l.type === 'entry' && l.function === fn);
    if (e) return e.pid as number;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no entry of ${fn} in ${file}`);
}

/** `record` or `trace --format json` of the sleeper with --detach-on-exit, detached by SIGTERM while nap sleeps. */
async function detachedInFlight(cmd: 'trace' | 'record', mode: string, out: string): Promise<void> {
  const args = cmd === 'trace' ? ['trace', '--format', 'json'] : ['record'];
  const cli = spawn(process.execPath, [CLI, ...args, '--mode', mode, '--detach-on-exit', '-o', out, '-f', 'nap', '-f', 'main', '--', fixture('sleeper'), String(NAP)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = await entered(out, 'nap', cli, cmd === 'record');
  expect(await waitForState(pid, 'S', timeBound(10000))).toBe('S'); // asleep in nap's system call
  cli.kill('SIGTERM');
  const [code] = await once(cli, 'exit');
  expect(code).toBe(0);
  process.kill(pid, 'SIGKILL'); // it runs on untraced: no need to wait a minute for it
}

describe.each(MODES)('%s mode', (mode) => {
  test('calls in flight at a detach end unwound with a null retval and no ret in JSON', async () => {
    const out = path.join(scratchDir(), `detach-${mode}.jsonl`);
    await detachedInFlight('trace', mode, out);
    const exits = linesOf(out).filter((l) => l.type === 'exit');
    expect(exits.map((e) => e.function)).toEqual(['nap', 'main']);
    for (const e of exits) {
      expect(e).toMatchObject({ unwound: true, reason: 'detach', retval: null });
      expect('retval' in e).toBe(true);
      expect('ret' in e).toBe(false);
    }
  });

  test('a record keeps the null retval of calls in flight at a detach, and its views read it', async () => {
    const rec = path.join(scratchDir(), `detach-${mode}.rethook`);
    await detachedInFlight('record', mode, rec);
    const dump = spawnSync(process.execPath, [CLI, 'dump', rec], { encoding: 'utf8' });
    expect(dump.status).toBe(0);
    const exits = dump.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'exit');
    expect(exits).toEqual([
      expect.objectContaining({ function: 'nap', unwound: true, reason: 'detach', retval: null }),
      expect.objectContaining({ function: 'main', unwound: true, reason: 'detach', retval: null }),
    ]);
    const replay = spawnSync(process.execPath, [CLI, 'replay', rec], { encoding: 'utf8' });
    expect(replay.status).toBe(0);
    expect(replay.stdout + replay.stderr).toMatch(/} unwound \(detach\)/);
    expect(replay.stdout + replay.stderr).not.toMatch(/= 0x0|= null/);
    const chrome = spawnSync(process.execPath, [CLI, 'dump', '--chrome', rec], { encoding: 'utf8' });
    expect(chrome.status).toBe(0);
    const calls = (JSON.parse(chrome.stdout).traceEvents as { ph: string; name: string; args: Record<string, unknown> }[]).filter((e) => e.ph === 'X');
    expect(calls.map((c) => [c.name, 'retval' in c.args, c.args.unwound])).toEqual([['nap', false, true], ['main', false, true]]);
  });
});

test.each(MODES)('the API gives an unwound call no return value: retval and returnValue are null (%s mode)', async (mode) => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('longjmp'), [], { stdio: [0, out.fd, 2] });
  const seen: [string, boolean, bigint | null, unknown][] = [];
  t.hook('deep*', { mode, onExit: (c) => void seen.push([c.function, c.unwound, c.retval, c.returnValue]) });
  expect((await t.run()).code).toBe(0);
  const unwound = seen.filter((s) => s[1]);
  expect(unwound.length).toBeGreaterThan(0);
  for (const u of unwound) expect(u.slice(2)).toEqual([null, null]);
  for (const r of seen.filter((s) => !s[1])) expect(typeof r[2]).toBe('bigint');
});
