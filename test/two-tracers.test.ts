import { Tracer } from '../lib';
import { Captured, fixture } from './helpers';

test('two tracers in one Node process trace two programs at once, each event to its own', async () => {
  const runOne = async (n: number) => {
    const out = new Captured();
    const t = await Tracer.spawn(fixture('loop', 'O2'), [String(n)], { stdio: [0, out.fd, 2] });
    let exits = 0;
    t.hook('tiny', { onExit: () => void exits++ });
    const status = await t.run();
    return { status, exits, out: out.text() };
  };
  const [a, b] = await Promise.all([runOne(3000), runOne(2000)]);
  expect([a.exits, b.exits]).toEqual([3000, 2000]);
  expect([a.status.code, b.status.code]).toEqual([0, 0]);
  expect(a.out).toBe(`${Array.from({ length: 3000 }, (_, i) => i ^ 1).reduce((x, y) => x + y, 0)}\n`);
});
