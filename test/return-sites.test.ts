// Returns caught at their return site (the instruction after the call), for
// code that must see its real return address; and the trampoline default.
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, scratchDir, trace, untraced, VARIANTS } from './helpers';

describe.each(VARIANTS)('%s', (v) => {
  test('a hooked setjmp returns once through its hook and three more times by longjmp, as untraced', async () => {
    const r = await trace(fixture('setjmp_twice', v), '_setjmp');
    expect(r.stdout).toBe('r=3 returns=4\n');
    expect(r.status.code).toBe(3);
    // The C library's start code calls _setjmp once before main (its cancellation buffer).
    expect(r.events).toEqual([expect.stringMatching(/^> _setjmp \d+$/), '< _setjmp = 0', expect.stringMatching(/^> _setjmp \d+$/), '< _setjmp = 0']);
  });

  test('dlsym(RTLD_NEXT) sees its real caller when hooked', async () => {
    const r = await trace(fixture('dlsym_next', v), 'dlsym', { nargs: 0 });
    expect(r.stdout).toBe('found puts\n');
    expect(r.status.code).toBe(0);
    expect(r.events[0]).toBe('> dlsym');
    expect(r.events[1]).toMatch(/^< dlsym = -?\d+$/);
    expect(r.events[1]).not.toBe('< dlsym = 0');
  });

  test('returnMode site hooks recursive calls with every entry matched by its own exit', async () => {
    const r = await trace(fixture('recursion', v), 'fact', { returnMode: 'site' });
    expect(r.events).toEqual([
      '> fact 5', '> fact 4', '> fact 3', '> fact 2', '> fact 1',
      '< fact = 1', '< fact = 2', '< fact = 6', '< fact = 24', '< fact = 120',
    ]);
    expect(r.stdout).toBe(untraced(fixture('recursion', v)).stdout);
  });

  test('tail calls caught at their return site end together, innermost first', async () => {
    const site = await trace(fixture('tailcall', v), '*er', { returnMode: 'site' });
    const tramp = await trace(fixture('tailcall', v), '*er', { returnMode: 'trampoline' });
    expect(site.events).toEqual(tramp.events);
    expect(site.stdout).toBe(tramp.stdout);
  });

  test('a vfork child returning through a hooked call lands where its parent would, and the parent sees its calls', async () => {
    for (const mode of ['auto', 'trampoline', 'site'] as const) {
      const r = await trace(fixture('vfork_inflight', v), ['launch', 'vfork', 'child_work'], { returnMode: mode });
      expect(r.stdout).toBe('child exit=42\n');
      expect(r.events).toEqual(['> launch 41', expect.stringMatching(/^> vfork/), expect.stringMatching(/^< vfork = \d+$/), expect.stringMatching(/^< launch = \d+$/)]);
    }
  });

  test('a followed vfork child reports the calls it inherited in flight as inherited exits', () => {
    const out = path.join(scratchDir(), `vfork-${v}.jsonl`);
    const r = cli(['trace', '--follow-fork', '--format', 'json', '-o', out, '-f', 'launch', '-f', 'child_work', '--', fixture('vfork_inflight', v)]);
    expect(r.stdout).toBe('child exit=42\n');
    expect(r.status).toBe(0);
    const evs = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const parent = evs.find((e) => e.type === 'entry' && e.function === 'launch').pid;
    const child = evs.filter((e) => e.pid !== parent && (e.type === 'entry' || e.type === 'exit'));
    // The child runs child_work and exits inside launch, which it inherited in flight from its parent.
    expect(child.map((e) => [e.type, e.function, e.unwound ?? null, e.reason ?? null, e.inherited ?? false])).toEqual([
      ['entry', 'launch', null, null, true],
      ['entry', 'child_work', null, null, false],
      ['exit', 'child_work', false, null, false],
      ['exit', 'launch', true, 'thread-exit', true],
    ]);
    expect(evs.filter((e) => e.pid === parent && e.inherited)).toEqual([]);
  });
});

test('a user hook on the C++ unwinder does not undo what rethook puts back: exceptions still work', () => {
  const plain = untraced(fixture('exceptions'));
  const r = cli(['trace', '-o', '/dev/null', '-f', '_Unwind_RaiseException', '-f', 'thrower*', '--', fixture('exceptions')]);
  expect(r).toEqual(plain);
});

test('--return-mode rejects an unknown mode before starting anything', () => {
  const r = cli(['trace', '--return-mode', 'sideways', '-f', 'add', '--', fixture('calls')]);
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')[0]).toBe("rethook: --return-mode expects auto, trampoline or site, got 'sideways'");
});
