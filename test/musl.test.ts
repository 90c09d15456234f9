// Programs built against musl (Alpine's C library) with Debian's musl-gcc,
// dynamically (musl's libc.so is its own dynamic linker: the link map and
// r_debug live in libc.so) and statically: the core return-hooking tests.
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, FIXTURES, trace } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { MUSL_GCC } = require('./build-fixtures');
const HAVE_MUSL = fs.existsSync(MUSL_GCC);
if (!HAVE_MUSL) console.warn(`musl tests skipped: ${MUSL_GCC} is not installed (apt-get install musl-tools)`);
const d = HAVE_MUSL ? describe : describe.skip;

const musl = (name: string, v: string) => path.join(FIXTURES, `${name}.musl-${v}`);

d.each(['dyn', 'dyn-O2', 'static', 'static-O2'])('musl (%s)', (v) => {
  test('hooks calls with their arguments and return values', async () => {
    const r = await trace(musl('calls', v), ['add', 'greet', 'strlen'], { nargs: 2 });
    expect(r.events).toEqual([
      '> add 0 10', '< add = 10', '> add 1 10', '< add = 11', '> add 2 10', '< add = 12',
      expect.stringMatching(/^> greet \d+ /), expect.stringMatching(/^> strlen \d+ /), '< strlen = 5', '< greet = 13',
    ]);
    expect(r.stdout).toBe('hello, world\nsum=33 scaled=10.00\n');
    expect(r.status).toMatchObject({ code: 7, signal: null });
  });

  test('gives every level of a recursion its own return value', async () => {
    const r = await trace(musl('recursion', v), 'fact');
    expect(r.events).toEqual([
      '> fact 5', '> fact 4', '> fact 3', '> fact 2', '> fact 1',
      '< fact = 1', '< fact = 2', '< fact = 6', '< fact = 24', '< fact = 120',
    ]);
    expect(r.stdout).toBe('fact(5)=120\n');
  });

  test("reports frames skipped by musl's longjmp as unwound", async () => {
    const r = await trace(musl('longjmp', v), ['deep', 'deeper', 'after']);
    expect(r.events).toEqual([
      '> deep 41', '> deeper 42', '< deeper unwound(longjmp)', '< deep unwound(longjmp)', '> after 42', '< after = 84',
    ]);
    expect(r.stdout).toBe('jumped=42 after=84\n');
  });

  test('keeps return values apart across threads', async () => {
    const per = new Map<number, number>();
    const r = await trace(musl('threads', v), 'work', {
      args: ['4', '200'],
      handlers: { onExit: (c) => void per.set(c.tid, (per.get(c.tid) ?? 0) + 1) },
    });
    expect(r.stdout).toBe(`threads=4 calls=800 total=${4 * 200 * 0 + (1 + 2 + 3 + 4) * 1000000 * 200 + 4 * (199 * 200) / 2}\n`);
    expect(r.status.code).toBe(0);
    expect([...per.values()]).toEqual([200, 200, 200, 200]);
  });

  test('replaces a return value', async () => {
    const out = new Captured();
    const t = await Tracer.spawn(musl('override', v), [], { stdio: ['inherit', out.fd, 'inherit'] });
    t.hook('check_password', { onExit: (c) => c.setReturnValue(1n) });
    expect((await t.run()).code).toBe(0);
    expect(out.text()).toContain('access=granted\n');
  });

  test('hooks a function of the C library scoped to it', async () => {
    // Dynamic: musl's libc.so (soname libc.so), which is also the dynamic linker. Static: in the program.
    const r = await trace(musl('calls', v), v.startsWith('dyn') ? 'libc.so:strlen' : 'strlen', { nargs: 0 });
    expect(r.events).toEqual(['> strlen', '< strlen = 5']);
  });
});

d.each(['dyn', 'dyn-O2'])('musl dlopen (%s)', (v) => {
  test('plants a hook scoped to a library when dlopen loads it', async () => {
    const r = await trace(musl('dlopen_main', v), 'libplugin-musl.so:plugin_twice', { args: [path.join(FIXTURES, 'libplugin-musl.so')] });
    expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
    expect(r.stdout).toBe('twice=42\n');
  });
});
