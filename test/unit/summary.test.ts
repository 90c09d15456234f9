// The Summary (lib/views/summary.ts) in-process: calls fed as numbers
// (site/addCall), as columns (addBatch) and as events (entry/exit) give the
// same rows; self time, unwound calls, calls left open; and its size does not
// grow with the calls it has counted.
import * as v8 from 'v8';
import * as vm from 'vm';
import { Kind, type CallBatch } from '../../lib/record/batch';
import { Summary } from '../../lib/views/summary';

/** One thread's rows as a CallBatch: [kind, site, ts, depth]. */
function batch(tid: number, rows: [Kind, number, number, number][]): CallBatch {
  const n = rows.length;
  const b: CallBatch = {
    pid: 1, tid, length: n, kind: new Uint8Array(n + 3), site: new Uint32Array(n + 3), ts: new Float64Array(n + 3), depth: new Uint32Array(n + 3),
    reason: new Uint8Array(n + 3), retval: new BigUint64Array(n + 3), argsAt: new Uint32Array(n + 3), args: new BigUint64Array(0), fpWord: new BigUint64Array(n + 3), attached: new Map(),
  };
  rows.forEach(([k, s, ts, d], i) => {
    b.kind[i] = k;
    b.site[i] = s;
    b.ts[i] = ts;
    b.depth[i] = d;
  });
  b.kind[n] = Kind.Exit; // past length: never read
  return b;
}

const E = Kind.Entry, X = Kind.Exit, U = Kind.Unwound;
/** outer (site 0) from 0 to 1000 calls inner (site 1) twice (100..300, 400..450); then inner alone 2000..2010. */
const TREE: [Kind, number, number, number][] = [[E, 0, 0, 0], [E, 1, 100, 1], [X, 1, 300, 1], [E, 1, 400, 1], [X, 1, 450, 1], [X, 0, 1000, 0], [E, 1, 2000, 0], [X, 1, 2010, 0]];

function named(o: ConstructorParameters<typeof Summary>[0] = {}): Summary {
  const s = new Summary(o);
  s.site(0, { function: 'outer', pid: 1, address: 0x1000n });
  s.site(1, { function: 'inner', pid: 1, address: 0x2000n });
  return s;
}

test('addCall counts exactly; two sites of one function (two processes) make one row', () => {
  const s = named();
  s.site(7, { function: 'outer', pid: 2 });
  s.addCall(0, 100, 60, false);
  s.addCall(7, 300, 300, true);
  s.addCall(1, 5, 5, false);
  s.addMissed('inner', 2);
  expect(s.rows()).toEqual([
    { function: 'outer', calls: 2, totalNs: 400, selfNs: 360, avgNs: 200, minNs: 100, maxNs: 300, p50Ns: 100, p99Ns: 300, unwound: 1, nmissed: 0 },
    { function: 'inner', calls: 1, totalNs: 5, selfNs: 5, avgNs: 5, minNs: 5, maxNs: 5, p50Ns: 5, p99Ns: 5, unwound: 0, nmissed: 2 },
  ]);
  expect(() => s.addCall(3, 1, 1, false)).toThrow('Summary.addCall: site 3 was not named with site() first');
  expect(() => s.site(-1, { function: 'x' })).toThrow(RangeError);
});

test('addBatch pairs entries and exits: totals and self times of a known tree, the same when the batch is cut anywhere', () => {
  const whole = named();
  whole.addBatch(batch(5, TREE));
  const rows = whole.rows();
  expect(rows.map((r) => [r.function, r.calls, r.totalNs, r.selfNs, r.minNs, r.maxNs])).toEqual([['outer', 1, 1000, 750, 1000, 1000], ['inner', 3, 260, 260, 10, 200]]);
  for (let cut = 1; cut < TREE.length; cut++) {
    const parts = named();
    parts.addBatch(batch(5, TREE.slice(0, cut)));
    parts.addBatch(batch(5, TREE.slice(cut)));
    expect(parts.rows()).toEqual(rows);
  }
  // Less the round trip: each call's total less 5, its self less its children's (already less 5).
  const less = named({ overheadNs: 5 });
  less.addBatch(batch(5, TREE));
  expect(less.rows().map((r) => [r.function, r.totalNs, r.selfNs])).toEqual([['outer', 995, 995 - 195 - 45], ['inner', 245, 245]]);
});

test('addBatch: UNWOUND rows count as unwound, an exit with no open call is not counted, endOpenCalls ends the rest as unwound', () => {
  const s = named({ perThread: true });
  s.addBatch(batch(5, [[X, 1, 50, 0], [E, 0, 100, 0], [E, 1, 110, 1], [U, 1, 150, 1], [E, 1, 200, 1]]));
  s.addBatch(batch(6, [[E, 1, 0, 0], [X, 1, 30, 0]]));
  expect(s.rows('calls').map((r) => [r.tid, r.function, r.calls, r.unwound])).toEqual([[5, 'inner', 1, 1], [6, 'inner', 1, 0]]);
  s.endOpenCalls(1000);
  expect(s.rows().map((r) => [r.tid, r.function, r.calls, r.totalNs, r.selfNs, r.unwound])).toEqual([
    [5, 'outer', 1, 900, 900 - 40 - 800, 1],
    [5, 'inner', 2, 840, 840, 2],
    [6, 'inner', 1, 30, 30, 0],
  ]);
});

test('a random call tree fed as events (entry/exit) and as columns (addBatch) gives the same rows', () => {
  let seed = 11;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const rows: [Kind, number, number, number][] = [];
  const events: { type: 'entry' | 'exit'; tid: number; function: string; depth: number; durationNs: number; unwound: boolean }[] = [];
  const open: { site: number; ts: number }[] = [];
  let ts = 0;
  for (let i = 0; i < 20_000 || open.length; i++) {
    ts += 1 + rand(5000);
    if (i < 20_000 && (open.length === 0 || (rand(2) && open.length < 30))) {
      const site = rand(4);
      rows.push([E, site, ts, open.length]);
      events.push({ type: 'entry', tid: 9, function: `f${site}`, depth: open.length, durationNs: 0, unwound: false });
      open.push({ site, ts });
    } else {
      const c = open.pop()!;
      const unwound = rand(10) === 0;
      rows.push([unwound ? U : X, c.site, ts, open.length]);
      events.push({ type: 'exit', tid: 9, function: `f${c.site}`, depth: open.length, durationNs: ts - c.ts, unwound });
    }
  }
  const cols = new Summary({ overheadNs: 3 });
  for (let s = 0; s < 4; s++) cols.site(s, { function: `f${s}` });
  for (let at = 0; at < rows.length; at += 1000) cols.addBatch(batch(9, rows.slice(at, at + 1000)));
  const evs = new Summary({ overheadNs: 3 });
  for (const e of events) (e.type === 'entry' ? evs.entry(e) : evs.exit(e));
  expect(evs.rows()).toEqual(cols.rows());
  expect(cols.rows().reduce((n, r) => n + r.calls, 0)).toBe(rows.length / 2);
  expect(cols.histogram('f1').log2Buckets()).toEqual(evs.histogram('f1').log2Buckets());
});

/** Heap and array buffers in use after a full collection. */
function bytesInUse(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('two million calls take no more room than the first ten thousand did', () => {
  const s = new Summary({ perThread: true });
  for (let k = 0; k < 8; k++) s.site(k, { function: `f${k}` });
  let x = 1;
  const feed = (n: number) => {
    for (let i = 0; i < n; i++) {
      x = (x * 48271) % 2147483647;
      const d = x % 1e9; // up to 1 s: every power of two below it
      s.addCall(x & 7, d, d >> 1, (x & 63) === 0, 100 + (x & 3));
    }
  };
  feed(10_000);
  const before = bytesInUse();
  feed(2_000_000);
  const after = bytesInUse();
  expect(s.rows().reduce((n, r) => n + r.calls, 0)).toBe(2_010_000);
  // 32 rows, each with its fixed-size histogram; keeping every duration would be 16 MB.
  expect(after - before).toBeLessThan(1 << 20);
});
