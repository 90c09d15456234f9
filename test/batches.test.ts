// tracer.batches(): a hook's calls as CallBatches (one thread's rows, typed-array
// columns). In both modes, the rows equal what per-call handlers see of the
// same program (its run is deterministic): kinds, functions, depths, argument
// words (those the signature has) and return words, typed values (valuesOf),
// unwound calls and their reasons. Fast mode's come from the rings, with no
// context made per call.
import { Tracer } from '../lib';
import type { CallBatch, CallBatchStream, EntryContext, ExitContext, TypedValue } from '../lib';
import { Summary, UNWIND_REASONS } from '../lib';
import { contextsMade } from '../lib/context';
import { siteShape } from '../lib/record/write';
import type { Signature } from '../lib/types/model';
import { Captured, fixture, Mode, MODES } from './helpers';

/** One call row as both sides show it. */
type Row = [kind: 'entry' | 'exit' | 'unwound', fn: string, depth: number, words: string, values: string, reason: string];
/** Argument and return words, pointers (which ASLR moves between the two runs) as `ptr`. */
const words = (ws: Iterable<bigint>) => Array.from(ws, (w) => (w >= 1n << 32n ? 'ptr' : String(w))).join(' ');
/**
 * The first two argument words a call has by its signature: a known plain
 * signature's integer parameters (what a fast-mode row carries; the registers
 * past them hold no argument), else two.
 */
const argWords = (sig: Signature | null | undefined) => siteShape(sig ?? null, 2).args;
const text = (v: TypedValue[] | TypedValue | null | undefined) => (v == null ? '' : Array.isArray(v) ? v.map((x) => x.text).join(', ') : v.text);

interface Options {
  args?: string[];
  prototypes?: string;
  capture?: { strings: 'auto' };
}

/** Each thread's rows, in order, as per-call handlers see them; and the program's output. */
async function perCall(name: string, patterns: string[], mode: Mode, o: Options): Promise<{ threads: Row[][]; stdout: string }> {
  const out = new Captured();
  const t = await Tracer.spawn(fixture(name), o.args ?? [], { stdio: [0, out.fd, 2] });
  const byTid = new Map<number, Row[]>();
  const push = (tid: number, r: Row) => (byTid.get(tid) ?? byTid.set(tid, []).get(tid)!).push(r);
  const hook = t.hook(patterns, {
    mode, prototypes: o.prototypes, capture: o.capture,
    onEntry: (c: EntryContext) => void push(c.tid, ['entry', c.function, c.depth, words(c.args.slice(0, argWords(c.signature))), text(c.values), '']),
    onExit: (c: ExitContext) => void push(c.tid, [c.unwound ? 'unwound' : 'exit', c.function, c.depth, c.unwound ? '0' : words([c.retval!]), c.unwound ? '' : text(c.returnValue), c.reason ?? '']),
  } as never);
  await t.run();
  expect(hook.nmissed).toBe(0);
  return { threads: [...byTid.values()], stdout: out.text() };
}

/** The same from tracer.batches(), with what the batches themselves must satisfy. */
async function batched(name: string, patterns: string[], mode: Mode, o: Options, rows: number): Promise<{ threads: Row[][]; stdout: string; batches: number; summary: Summary }> {
  const out = new Captured();
  const t = await Tracer.spawn(fixture(name), o.args ?? [], { stdio: [0, out.fd, 2] });
  const stream: CallBatchStream = t.batches(patterns, { mode, prototypes: o.prototypes, capture: o.capture, rows });
  const byTid = new Map<number, Row[]>();
  let batches = 0;
  const summary = new Summary();
  for await (const b of stream) {
    for (const s of stream.sites) summary.site(s.id, s);
    summary.addBatch(b);
    batches++;
    expect(b.length).toBeGreaterThan(0);
    expect(b.length).toBeLessThanOrEqual(rows);
    const list = byTid.get(b.tid) ?? byTid.set(b.tid, []).get(b.tid)!;
    for (let i = 0; i < b.length; i++) {
      if (i) expect(b.ts[i]).toBeGreaterThanOrEqual(b.ts[i - 1]);
      list.push(rowOf(stream, b, i));
    }
  }
  expect(stream.hook.nmissed).toBe(0);
  // A summary fed the batches counts every call the rows have.
  const calls = [...byTid.values()].flat().filter((r) => r[0] !== 'entry').length;
  expect(summary.rows().reduce((n, r) => n + r.calls, 0)).toBe(calls);
  return { threads: [...byTid.values()], stdout: out.text(), batches, summary };
}

function rowOf(s: CallBatchStream, b: CallBatch, i: number): Row {
  const site = s.sites[b.site[i]];
  expect(site.pid).toBe(b.pid);
  const v = s.valuesOf(b, i);
  switch (b.kind[i]) {
    case 1: return ['entry', site.function, b.depth[i], words(b.args.subarray(b.argsAt[i], b.argsAt[i] + Math.min(argWords(site.signature as Signature | null), site.args))), text(v.args), ''];
    case 2: return ['exit', site.function, b.depth[i], words([b.retval[i]]), text(v.ret), ''];
    case 3: return ['unwound', site.function, b.depth[i], '0', '', UNWIND_REASONS[b.reason[i]]];
    default: throw new Error(`row ${i}: kind ${b.kind[i]}`);
  }
}

/** Threads compared as a set: their tids differ between the two runs. */
const asSet = (threads: Row[][]) => threads.map((t) => JSON.stringify(t)).sort();

describe.each(MODES)('%s mode', (mode) => {
  test('calls with typed arguments (ints, a string, a double) come as the handlers see them, values included', async () => {
    const o = { prototypes: 'int add(int a, int b);\nint greet(const char *who);\ndouble scale(double x);', capture: { strings: 'auto' as const } };
    const want = await perCall('calls', ['add', 'greet', 'scale'], mode, o);
    const got = await batched('calls', ['add', 'greet', 'scale'], mode, o, 4096);
    expect(got.stdout).toBe(want.stdout);
    expect(got.threads).toEqual(want.threads);
    expect(got.threads[0].map((r) => r[4]).filter(Boolean)).toEqual(['0, 10', '10', '1, 10', '11', '2, 10', '12', '"world"', '13', '4.0', '10.0']);
    expect(got.batches).toBe(1);
  });

  test('3 threads of 2000 calls: batches of at most 256 rows, each one thread\'s, in order, all the calls', async () => {
    const o = { args: ['3', '2000'] };
    const want = await perCall('threads', ['work'], mode, o);
    const got = await batched('threads', ['work'], mode, o, 256);
    expect(got.stdout).toBe('threads=3 calls=6000 total=12005997000\n');
    expect(asSet(got.threads)).toEqual(asSet(want.threads));
    expect(got.threads.map((t) => t.length)).toEqual([4000, 4000, 4000]);
    expect(got.summary.rows().map((r) => [r.function, r.calls, r.unwound])).toEqual([['work', 6000, 0]]);
    expect(got.batches).toBeGreaterThanOrEqual(3 * Math.ceil(4000 / 256));
  });

  test('longjmp: the calls it unwound are UNWOUND rows with reason longjmp', async () => {
    const want = await perCall('longjmp', ['deep*', 'after'], mode, {});
    const got = await batched('longjmp', ['deep*', 'after'], mode, {}, 4096);
    expect(got.threads).toEqual(want.threads);
    expect(got.threads[0].filter((r) => r[0] === 'unwound').map((r) => [r[1], r[5]])).toEqual([['deeper', 'longjmp'], ['deep', 'longjmp']]);
    expect(Object.fromEntries(got.summary.rows().map((r) => [r.function, [r.calls, r.unwound]]))).toEqual({ deep: [1, 1], deeper: [1, 1], after: [1, 0] });
  });
});

test('in fast mode the rows come from the rings, with no context made per call', async () => {
  const t = await Tracer.spawn(fixture('threads'), ['3', '2000'], { stdio: [0, new Captured().fd, 2] });
  const before = contextsMade.entries;
  const stream = t.batches('work', { mode: 'fast' });
  expect(stream.hook.fellBack).toEqual([]);
  let rows = 0;
  for await (const b of stream) rows += b.length;
  expect(rows).toBe(12000);
  expect(contextsMade.entries - before).toBe(0);
});
