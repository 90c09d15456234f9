// Tail jumps across modes: in fast mode, a function the planner refuses falls
// back to trap mode; fast calls and fallback calls that tail-jump into each
// other share one frame and return once, innermost first (tailjump.S).
import { fixture, trace, untraced, VARIANTS } from './helpers';

/** Each program calls its chain's head with 0, 1, 2; every call of the chain returns what its innermost one does. */
async function chain(program: string, fns: string[], fallback: string, arg: (i: number) => number, result: (i: number) => number): Promise<void> {
  const file = fixture(program.split('.')[0], program.split('.')[1]);
  const r = await trace(file, fns, { mode: 'fast' });
  expect(r.hook.fellBack.map((w) => w.split(':')[0])).toEqual([fallback]);
  const plain = untraced(file);
  expect({ code: r.status.code, signal: r.status.signal }).toEqual({ code: plain.status, signal: plain.signal });
  expect(r.stdout).toBe(plain.stdout);
  expect(r.events).toEqual([0, 1, 2].flatMap((i) => [
    ...fns.map((f, k) => `> ${f} ${k ? arg(i) : i}`),
    ...[...fns].reverse().map((f) => `< ${f} = ${result(i)}`),
  ]));
}

describe.each(VARIANTS)('tail jumps across fast mode and its trap-mode fallback (%s)', (v) => {
  test('a fast function tail-jumping into a fallback that tail-jumps into a fast one returns once through all three, in order, with no SIGTRAP', async () => {
    await chain(`tailjump_chain.${v}`, ['fa', 'tb', 'fc'], 'tb', (i) => i + 1, (i) => i + 103);
  });

  test('fast functions tail-jumping into a fallback return through all of them, with no false longjmp', async () => {
    await chain(`tailjump_short.${v}`, ['fd', 'fe', 'te'], 'te', (i) => i + 1, (i) => 2 * (i + 1));
  });
});
