// Programs from Debian's packages, not written here, traced and checked
// against what they produce untraced.
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, MODES, scaled, scratchDir } from './helpers';

const XZ = '/usr/bin/xz';
const PYTHON = '/usr/bin/python3';

describe.each(MODES)('Debian programs (%s mode)', (mode) => {
test('xz compressing with two worker threads: same output, every worker call matched by its exit', async () => {
  // Text that compresses a little, several of xz -1's 3 MiB blocks long (one per worker).
  const dir = scratchDir();
  const input = path.join(dir, 'input');
  const chunks: Buffer[] = [];
  for (let i = 0; i < scaled(80); i++) chunks.push(Buffer.from(crypto.createHash('sha512').update(String(i)).digest('hex').repeat(1000)));
  fs.writeFileSync(input, Buffer.concat(chunks).subarray(0, scaled(8 * 1024 * 1024)));
  // Four blocks whatever RETHOOK_TEST_SCALE made of the input: work for both workers.
  const args = ['-T2', '-1', `--block-size=${Math.ceil(fs.statSync(input).size / 4)}`, '-c', input];
  const expected = spawnSync(XZ, args).stdout;

  const out = new Captured();
  const t = await Tracer.spawn(XZ, args, { stdio: [0, out.fd, 2] });
  const inFlight = new Map<number, number>();
  const exitsByThread = new Map<number, number>();
  let unmatched = 0;
  t.hook('liblzma.so.5:lzma_crc64', {
    mode,
    onEntry: (c) => void inFlight.set(c.tid, (inFlight.get(c.tid) ?? 0) + 1),
    onExit: (c) => {
      if (c.unwound || !inFlight.get(c.tid)) unmatched++;
      inFlight.set(c.tid, inFlight.get(c.tid)! - 1);
      exitsByThread.set(c.tid, (exitsByThread.get(c.tid) ?? 0) + 1);
    },
  });
  const status = await t.run();
  fs.closeSync(out.fd);
  expect(status.code).toBe(0);
  expect(fs.readFileSync(out.file).equals(expected)).toBe(true);
  expect(unmatched).toBe(0);
  expect([...inFlight.values()].every((n) => n === 0)).toBe(true);
  expect(exitsByThread.size).toBeGreaterThanOrEqual(2); // the worker threads
  expect(exitsByThread.has(t.pid)).toBe(false);
}, 120000);

test('python3 loading sqlite3 with dlopen: hooks scoped to libsqlite3 are planted when it is loaded', async () => {
  const script = "import sqlite3; c = sqlite3.connect(':memory:'); print(c.execute('select 6*7').fetchone()[0])";
  const out = new Captured();
  const t = await Tracer.spawn(PYTHON, ['-c', script], { stdio: [0, out.fd, 2] });
  const sql: string[] = [];
  const results: bigint[] = [];
  t.hook('libsqlite3.so.0:sqlite3_prepare_v2', {
    mode,
    // Fast mode reads the string when the handler runs (the statement is still there: Python holds it).
    args: ['ptr db', 'str sql', 'int n', 'ptr stmt', 'ptr tail'],
    capture: { strings: [1] }, // fast mode copies the statement at the call (the program may be gone when the handler runs)
    onEntry: (c) => void sql.push(String(c.arg('sql'))),
    onExit: (c) => void results.push(c.retval!),
  });
  const status = await t.run();
  expect(status.code).toBe(0);
  expect(out.text()).toBe('42\n');
  expect(sql).toContain('select 6*7');
  expect(results.every((r) => r === 0n)).toBe(true); // SQLITE_OK
  expect(results).toHaveLength(sql.length);
});

test('ls with every function of the C library hooked prints exactly what it prints untraced', async () => {
  const args = ['-la', '--time-style=+%s', '/usr/share/doc'];
  const expected = spawnSync('/bin/ls', args, { encoding: 'utf8' }).stdout;
  const out = new Captured();
  const t = await Tracer.spawn('/bin/ls', args, { stdio: [0, out.fd, 2] });
  let entries = 0;
  let exits = 0;
  const hook = t.hook('libc.so.6:*', { mode, onEntry: () => void entries++, onExit: () => void exits++ });
  if (mode === 'fast') expect(hook.functions.length - hook.fellBack.length).toBeGreaterThan(1500); // patched, not trapped
  expect(hook.functions.length).toBeGreaterThan(1500);
  const status = await t.run();
  expect(status.code).toBe(0);
  expect(out.text()).toBe(expected);
  expect(entries).toBeGreaterThan(1000);
  expect(exits).toBe(entries); // ls ends by returning from main: every call has returned
}, 120000);
});
