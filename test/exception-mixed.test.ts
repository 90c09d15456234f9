// A C++ exception through frames of both kinds in fast mode: a patched
// function calls a fallback (a function fast mode cannot patch) that reaches
// a patched function that throws; the exception is caught above all three
// (exception_mixed.cc, exception_mixed.S).
import { fixture, trace, untraced, VARIANTS } from './helpers';

async function throughMixedFrames(file: string): Promise<void> {
  const r = await trace(file, ['catcher', 'outer', 'hop', 'thrower'], { mode: 'fast' });
  expect(r.hook.fellBack.map((w) => w.split(':')[0])).toEqual(['hop']);
  const plain = untraced(file);
  expect({ code: r.status.code, signal: r.status.signal }).toEqual({ code: plain.status, signal: plain.signal });
  expect(r.stdout).toBe(plain.stdout);
  const returned = (i: number) => [
    `> catcher ${i}`, `> outer ${i}`, `> hop ${i}`, `> thrower ${i}`,
    `< thrower = ${i + 10}`, `< hop = ${i + 10}`, `< outer = ${2 * (i + 10)}`, `< catcher = ${2 * (i + 10) + 1}`,
  ];
  expect(r.events.map((e) => e.replace('(int)', ''))).toEqual([
    ...returned(0),
    '> catcher 1', '> outer 1', '> hop 1', '> thrower 1',
    '< thrower unwound(exception)', '< hop unwound(exception)', '< outer unwound(exception)', '< catcher = -1',
    ...returned(2),
  ]);
}

describe.each(VARIANTS)('a C++ exception through fast and fallback frames (%s)', (v) => {
  test('through a fallback that tail-jumps into the thrower: the calls it removes end as unwound by exception, innermost first, and the program runs as untraced', async () => {
    await throughMixedFrames(fixture('exception_mixed', v));
  });

  test('through a fallback with a frame of its own that calls the thrower: the calls it removes end as unwound by exception, innermost first, and the program runs as untraced', async () => {
    await throughMixedFrames(fixture('exception_relay', v));
  });
});
