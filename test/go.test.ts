// A Go program: its runtime walks goroutine stacks (GC, stack growth), so
// returns are caught at their return sites, and calls are paired per
// goroutine, which moves between threads and whose stack is copied as it grows.
import * as fs from 'fs';
import { Tracer } from '../lib';
import { Captured, fixture, untraced } from './helpers';

const GO = fixture('goroutines', 'go');
const goTest = fs.existsSync(GO) ? test : test.skip; // golang-go not installed (the arm64 VM image has none)

goTest('4 goroutines growing their stacks under GC: every entry is paired with its own exit', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(GO, [], { stdio: ['inherit', out.fd, 'inherit'] });
  const entries = new Map<string, number>();
  const exits = new Map<string, number>();
  const bad: string[] = [];
  const ended = new Set<number>();
  const leafValues: number[] = [];
  let calls = 0;
  t.hook(['main.work', 'main.leaf'], {
    onEntry: (c) => {
      entries.set(c.function, (entries.get(c.function) ?? 0) + 1);
      c.data = ++calls; // each call's own token, handed to its exit
    },
    onExit: (c) => {
      exits.set(c.function, (exits.get(c.function) ?? 0) + 1);
      const token = c.data as number;
      if (c.unwound || token === undefined || ended.has(token)) bad.push(`${c.function} unwound=${c.unwound} token=${token}`);
      ended.add(token);
      if (c.function === 'main.leaf') leafValues.push(Number(c.retval));
    },
  });
  const status = await t.run();
  expect(status).toEqual({ pid: t.pid, code: 0, signal: null, detached: false });
  expect(out.text()).toBe(untraced(GO).stdout);
  expect(bad).toEqual([]);
  expect(Object.fromEntries(entries)).toEqual({ 'main.leaf': 200, 'main.work': 4200 });
  expect(Object.fromEntries(exits)).toEqual({ 'main.leaf': 200, 'main.work': 4200 });
  // Each goroutine calls leaf(0..49): every return value 2*i, four times.
  const want = [...Array(50).keys()].flatMap((i) => [2 * i, 2 * i, 2 * i, 2 * i]).sort((a, b) => a - b);
  expect(leafValues.sort((a, b) => a - b)).toEqual(want);
}, 120000);
