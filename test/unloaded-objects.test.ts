// dlclose: an unloaded library's breakpoints go with it; a library later
// mapped at the same address is hooked on its own, and its bytes are never
// overwritten with the old library's.
import { fixture, trace, untraced, VARIANTS } from './helpers';

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
