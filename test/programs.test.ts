import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, FIXTURES, fixture, trace } from './helpers';

test("delivers the program's own SIGTRAPs to it", async () => {
  const r = await trace(fixture('selftrap'), 'work');
  expect(r.events).toEqual(['> work 1', '< work = 2', '> work 2', '< work = 3']);
  expect(r.stdout).toBe('traps=2 s=5\n');
});

test('reports a terminating signal', async () => {
  const r = await trace(fixture('crash'), 'fail', { nargs: 0 });
  // The call in flight when the process died is flushed as unwound.
  expect(r.events).toEqual(['> fail', '< fail unwound(thread-exit)']);
  expect(r.status.signal).toBe('SIGABRT');
  expect(r.status.code).toBeNull();
});

test('plants a hook scoped to a library when dlopen loads it', async () => {
  const r = await trace(fixture('dlopen_main'), 'libplugin.so:plugin_twice', { args: [path.join(FIXTURES, 'libplugin.so')] });
  expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
  expect(r.stdout).toBe('twice=42\n');
});

test('hooks a function of a shared library by name', async () => {
  // Scoped to the C library: the fixture calls printf twice, then strlen once (itself, in greet).
  const formats: string[] = [];
  const modules = new Set<string>();
  const r = await trace(fixture('calls'), 'libc.so.6:printf', {
    nargs: 0,
    handlers: {
      onEntry: (c) => {
        formats.push(c.readCString(c.args[0]));
        // The hooked function lies in the C library's mapping (from /proc/PID/maps).
        const m = fs.readFileSync(`/proc/${c.pid}/maps`, 'utf8').split('\n').map((l) => l.split(/\s+/)).find((f) => {
          const [lo, hi] = (f[0] ?? '').split('-').map((x) => parseInt(x, 16));
          return c.address >= lo && c.address < hi;
        });
        modules.add(path.basename(m?.[5] ?? '?'));
      },
    },
  });
  expect([...modules]).toEqual(['libc.so.6']);
  expect(r.events).toEqual(['> printf', `< printf = ${'hello, world\n'.length}`, '> printf', `< printf = ${'sum=33 scaled=10.00\n'.length}`]);
  expect(formats).toEqual(['hello, %.*s\n', 'sum=%d scaled=%.2f\n']);
  expect(r.stdout).toBe('hello, world\nsum=33 scaled=10.00\n');
  expect(r.status.code).toBe(7);
  // Unscoped, the same calls.
  const p = await trace(fixture('calls'), 'printf', { nargs: 0 });
  expect(p.events).toEqual(r.events);
  // Scoped to a library the program never loads: the hook waits for it and sees none of the C library's calls.
  const other = await trace(fixture('calls'), 'libnothere.so.1:printf', { nargs: 0 });
  expect(other.events).toEqual([]);
  expect(other.status.code).toBe(7);
});

test.each(['O0', 'O2'])('matches C++ functions by their demangled names (%s)', async (v) => {
  const r = await trace(fixture('cxxnames', v), 'geo::area', { nargs: 0 });
  expect(r.events).toEqual(['> geo::area(int, int)', '< geo::area(int, int) = 30', '> geo::area(geo::Point const&)', '< geo::area(geo::Point const&) = 12']);
  const one = await trace(fixture('cxxnames', v), 'geo::area(int, int)', { nargs: 2 });
  expect(one.events).toEqual(['> geo::area(int, int) 5 6', '< geo::area(int, int) = 30']);
});

test('hooks by address, and refuses an address that is not a function start', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('calls', 'O0-nopie'), [], { stdio: [0, out.fd, 2] });
  const seen: bigint[] = [];
  const byName = t.hook('add', { onExit: (c) => void seen.push(c.retval!) });
  const add = byName.functions[0];
  expect(add.address).toBeLessThan(0x1000000); // non-PIE: linked address
  expect(() => t.hook(add.address + 1)).toThrow(`0x${(add.address + 1).toString(16)} is not the start of a known function`);
  // A second hook on the same function shares the breakpoint; both see every call.
  t.hook(add.address, { onExit: (c) => void seen.push(c.retval! * 100n) });
  await t.run();
  expect(seen).toEqual([1000n, 10n, 1100n, 11n, 1200n, 12n]);
  expect(out.text()).toBe('hello, world\nsum=33 scaled=10.00\n');
});

test('keeps the Node event loop running while the program sits in a system call', async () => {
  const t = await Tracer.spawn(fixture('sleeper'), [], { stdio: [0, new Captured().fd, 2] });
  t.hook('nap');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const status = await t.run();
  clearInterval(timer);
  expect(status.code).toBe(0);
  expect(ticks).toBeGreaterThanOrEqual(8);
});

test('hooks an IFUNC (strlen) by asking its resolver which implementation this CPU uses', async () => {
  const seen: string[] = [];
  const r = await trace(fixture('calls'), 'libc.so.6:strlen', {
    nargs: 0,
    handlers: { onEntry: (c) => void seen.push(c.readCString(c.args[0])) },
  });
  expect(seen).toContain('world');
  const i = seen.indexOf('world');
  expect(r.events[2 * i]).toBe('> strlen');
  expect(r.events[2 * i + 1]).toBe('< strlen = 5');
  expect(r.stdout).toBe('hello, world\nsum=33 scaled=10.00\n');
});

test('starts the program with the given arguments, environment and working directory', async () => {
  const out = new Captured();
  const t = await Tracer.spawn('/usr/bin/env', [], { stdio: [0, out.fd, 2], cwd: '/tmp', env: { RETHOOK_TEST: 'yes', PATH: '/usr/bin:/bin' } });
  expect((await t.run()).code).toBe(0);
  expect(out.text().split('\n').sort().filter(Boolean)).toEqual(['PATH=/usr/bin:/bin', 'RETHOOK_TEST=yes']);
  const pwd = new Captured();
  const p = await Tracer.spawn('pwd', [], { stdio: [0, pwd.fd, 2], cwd: '/tmp' });
  expect((await p.run()).code).toBe(0);
  expect(pwd.text()).toBe('/tmp\n');
});
