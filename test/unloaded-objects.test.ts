// dlclose: an unloaded library's breakpoints go with it; a library later
// mapped at the same address is hooked on its own, and its bytes are never
// overwritten with the old library's.
import { cli, fixture, MODES, trace, untraced, VARIANTS } from './helpers';

describe.each(VARIANTS)('%s', (v) => {
  test('a library loaded where a closed one was is hooked, and a forked child of it keeps its own code', async () => {
    const file = fixture('dlclose_main', v);
    const plain = untraced(file);
    expect(plain.stdout).toBe('child=0\na=16 b=22 same_base=1\n');
    const r = await trace(file, ['libreload_a.so:a_*', 'libreload_b.so:b_*']);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status.code).toBe(0);
    expect(r.events).toEqual(['> a_work 5', '< a_work = 16', '> b_work 7', '< b_work = 22']);
  });
});

describe.each(MODES)('%s mode', (mode) => {
  test('a function of a library loaded where a closed one was is shown with its own parameter names and return type', () => {
    const file = fixture('retype_main');
    const plain = untraced(file);
    expect(plain.stdout).toBe('a=4 b=one same_address=1\n'); // the second foo is where the first was
    const r = cli(['trace', '--mode', mode, '-f', 'libretype_*:foo', '--', file]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(plain.status);
    const calls = r.stderr.split('\n').filter((l) => /\bfoo\(/.test(l)).map((l) => l.trim().replace(/^\d+\s+/, '').replace(/ <[^>]*>$/, ''));
    expect(calls).toEqual(['foo(i=1) = 4', 'foo(n=1) = "one"']);
  });
});
