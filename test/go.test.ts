// A Go program: its runtime walks goroutine stacks (GC, stack growth), so
// returns are caught at their return sites, and calls are paired per
// goroutine, which moves between threads and whose stack is copied as it grows.
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, cli, fixture, scratchDir, untraced } from './helpers';

const GO = fixture('goroutines', 'go');
const goTest = fs.existsSync(GO) ? test : test.skip; // golang-go not installed (the arm64 VM image has none)

goTest("4 goroutines growing their stacks under GC: every entry is paired with its own exit, on its goroutine (Go's id, the same at the exit)", async () => {
  const out = new Captured();
  const t = await Tracer.spawn(GO, [], { stdio: ['inherit', out.fd, 'inherit'] });
  const entries = new Map<string, number>();
  const exits = new Map<string, number>();
  const bad: string[] = [];
  const ended = new Set<number>();
  const leafValues: number[] = [];
  let calls = 0;
  const goroutineOf = new Map<number, number | undefined>();
  t.hook(['main.work', 'main.leaf'], {
    onEntry: (c) => {
      entries.set(c.function, (entries.get(c.function) ?? 0) + 1);
      c.data = ++calls; // each call's own token, handed to its exit
      goroutineOf.set(calls, c.goroutine);
    },
    onExit: (c) => {
      exits.set(c.function, (exits.get(c.function) ?? 0) + 1);
      const token = c.data as number;
      if (c.goroutine === undefined || goroutineOf.get(token) !== c.goroutine) bad.push(`${c.function} goroutine ${c.goroutine} at the exit, ${goroutineOf.get(token)} at the entry`);
      if (c.unwound || token === undefined || ended.has(token)) bad.push(`${c.function} unwound=${c.unwound} token=${token}`);
      ended.add(token);
      if (c.function === 'main.leaf') leafValues.push(Number(c.retval));
    },
  });
  const status = await t.run();
  expect(status).toEqual({ pid: t.pid, code: 0, signal: null, detached: false });
  expect(out.text()).toBe(untraced(GO).stdout);
  expect(bad).toEqual([]);
  // The four workers, never the main goroutine (1).
  const goroutines = new Set(goroutineOf.values());
  expect([goroutines.size, goroutines.has(1)]).toEqual([4, false]);
  expect(Object.fromEntries(entries)).toEqual({ 'main.leaf': 200, 'main.work': 4200 });
  expect(Object.fromEntries(exits)).toEqual({ 'main.leaf': 200, 'main.work': 4200 });
  // Each goroutine calls leaf(0..49): every return value 2*i, four times.
  const want = [...Array(50).keys()].flatMap((i) => [2 * i, 2 * i, 2 * i, 2 * i]).sort((a, b) => a - b);
  expect(leafValues.sort((a, b) => a - b)).toEqual(want);
}, 120000);

/**
 * Calls as the CLI's JSON lines show them nest per goroutine: each entry's
 * depth is its goroutine's calls in flight, each exit ends that goroutine's
 * innermost call, and every call returns, except those a worker had in flight
 * when main.main returned (Go exits then: they end with the process, as
 * 'thread-exit', innermost first). Problems found, one line each.
 */
function nestingPerGoroutine(events: { type: string; pid?: number; goroutine?: number; function?: string; depth?: number; unwound?: boolean; reason?: string }[]): string[] {
  const stacks = new Map<string, { function: string; depth: number }[]>();
  const bad: string[] = [];
  let mainReturned = false;
  for (const e of events) {
    if (e.type !== 'entry' && e.type !== 'exit') continue;
    if (typeof e.goroutine !== 'number') {
      bad.push(`${e.type} of ${e.function} without a goroutine`);
      continue;
    }
    const key = `${e.pid}/${e.goroutine}`;
    let st = stacks.get(key);
    if (!st) stacks.set(key, (st = []));
    if (e.type === 'entry') {
      if (e.depth !== st.length) bad.push(`${key}: ${e.function} entered at depth ${e.depth} with ${st.length} calls in flight`);
      st.push({ function: e.function!, depth: e.depth! });
    } else {
      const top = st.pop();
      const ended = !e.unwound || (mainReturned && e.reason === 'thread-exit');
      if (!top || top.function !== e.function || top.depth !== e.depth || !ended) bad.push(`${key}: exit of ${e.function} (depth ${e.depth}, unwound ${e.unwound} ${e.reason}) where ${top?.function} was innermost`);
      if (e.function === 'main.main' && !e.unwound) mainReturned = true;
    }
  }
  for (const [key, st] of stacks) if (st.length) bad.push(`${key}: ${st.map((c) => c.function).join(' > ')} never returned`);
  return bad;
}

for (const mode of ['trap', 'fast'] as const) {
  goTest(`the CLI in ${mode} mode on a Go program: its output, one ${mode === 'fast' ? 'note (why it stays in trap mode)' : 'no note'}, no ELF warning, and goroutine ids in JSON that nest per goroutine`, () => {
    const events = path.join(scratchDir(), `go-${mode}.jsonl`);
    const r = cli(['trace', '--mode', mode, '--format', 'json', '-f', 'main.*', '-o', events, '--', GO]);
    const plain = untraced(GO);
    expect([r.status, r.signal, r.stdout, r.stderr]).toEqual([plain.status, plain.signal, plain.stdout, '']);
    const lines = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const notes = lines.filter((e) => e.type !== 'entry' && e.type !== 'exit' && e.type !== 'process-exit' && e.type !== 'fallbacks'); // (the first event: how calls are caught)
    if (mode === 'fast') {
      expect(notes).toEqual([{ type: 'fallback', function: 'goroutines.go:*', reason: expect.stringMatching(/^it is a Go program/), message: expect.stringMatching(/^in trap mode, not fast: every function of goroutines\.go: it is a Go program: Go's runtime walks goroutine stacks/) }]);
    } else {
      expect(notes).toEqual([]);
    }
    expect(nestingPerGoroutine(lines)).toEqual([]);
    const calls = lines.filter((e) => e.type === 'entry');
    // main.main runs on the main goroutine (Go's goroutine 1); the four workers on four others.
    expect(calls.filter((e) => e.function === 'main.main').map((e) => e.goroutine)).toEqual([1]);
    const workers = new Set(calls.filter((e) => e.function === 'main.leaf').map((e) => e.goroutine));
    expect([workers.size, workers.has(1)]).toEqual([4, false]);
    expect(calls.filter((e) => e.function === 'main.work').length).toBe(4200);
  }, 120000);
}
