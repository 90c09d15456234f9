// The binary record (format version 2) as `rethook record` writes it, in fast
// mode (rings transcoded by the addon) and in trap mode (the JS encoder):
// decoded here with a minimal decoder (test/record-decode.ts), the calls are
// exact: sites, kinds, depth order, argument and return words, strings and
// floating-point words.
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, scratchDir } from './helpers';
import { DecodedCall, decodeRecord } from './record-decode';

const PROTOS = 'int add(int a, int b);\nint greet(const char *who);\ndouble scale(double x);\nint depth(int n);\nlong tiny(long x);\n';

function record(mode: 'fast' | 'trap', name: string, patterns: string[], args: string[] = [], variant = 'O0', protos = true) {
  const dir = scratchDir();
  const file = path.join(dir, `${name}-${mode}.rethook`);
  const protoFile = path.join(dir, 'protos.h');
  fs.writeFileSync(protoFile, PROTOS);
  const r = cli(['record', '--mode', mode, ...(protos ? ['--prototypes', protoFile] : []), '-o', file, ...patterns.flatMap((p) => ['-f', p]), '--', fixture(name, variant), ...args]);
  return { r, rec: decodeRecord(file) };
}

const fnOf = (rec: ReturnType<typeof decodeRecord>, c: DecodedCall) => rec.sites[c.site].function;
const f64 = (b: Buffer | undefined) => b!.readDoubleLE(0);

describe.each(['fast', 'trap'] as const)('%s mode', (mode) => {
  test('a record of calls with known arguments holds each call exactly: sites, kinds, argument and return words, the string and the double', () => {
    const { r, rec } = record(mode, 'calls', ['add', 'greet', 'scale']);
    expect(r.status).toBe(7);
    expect(rec.header).toMatchObject({ mode, patterns: ['add', 'greet', 'scale'], fallbacks: [], clock: { source: mode === 'fast' ? (process.arch === 'arm64' ? 'cntvct' : 'tsc') : 'monotonic' } });
    expect(rec.sites.map((s) => [s.function, s.args, s.ret, s.fp]).sort()).toEqual([['add', 2, true, false], ['greet', 1, true, false], ['scale', 0, true, true]]);
    const shown = rec.calls.map((c) => [c.kind, fnOf(rec, c), c.depth, c.args?.map(Number), c.ret === undefined ? undefined : Number(BigInt.asIntN(32, c.ret))]);
    expect(shown).toEqual([
      [1, 'add', 0, [0, 10], undefined], [2, 'add', 0, undefined, 10],
      [1, 'add', 0, [1, 10], undefined], [2, 'add', 0, undefined, 11],
      [1, 'add', 0, [2, 10], undefined], [2, 'add', 0, undefined, 12],
      [1, 'greet', 0, [expect.any(Number)], undefined], [2, 'greet', 0, undefined, 'hello, world\n'.length],
      [1, 'scale', 0, [], undefined], [2, 'scale', 0, undefined, expect.any(Number)],
    ]);
    expect(rec.calls[6].strings).toEqual([[0, 'world\0']]);
    expect(f64(rec.calls[8].fp)).toBe(4.0);
    expect(f64(rec.calls[9].fp)).toBe(10.0);
    // Times go forward, and the END says what ran.
    for (let i = 1; i < rec.calls.length; i++) expect(rec.calls[i].ts).toBeGreaterThanOrEqual(rec.calls[i - 1].ts);
    expect(rec.calls[0].ts).toBeGreaterThanOrEqual(rec.header.startTs as number);
    expect(rec.end).toMatchObject({ calls: 5, status: { code: 7, signal: null, detached: false } });
    expect(rec.notes).toEqual([expect.objectContaining({ type: 'process-exit', code: 7 })]);
  });

  test('nested calls come in depth order: entries 0 to 9, then exits 9 to 0', () => {
    const { rec } = record(mode, 'nested', ['depth']);
    const order = rec.calls.map((c) => `${c.kind === 1 ? 'E' : 'X'}${c.depth}`);
    expect(order).toEqual([...Array(10).keys()].map((d) => `E${d}`).concat([...Array(10).keys()].reverse().map((d) => `X${d}`)));
    expect(rec.calls.filter((c) => c.kind === 1).map((c) => Number(c.args![0]))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(rec.calls.filter((c) => c.kind === 2).map((c) => Number(c.ret))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

// uftrace's record of the same loop takes 32 bytes per call (no arguments).
test('a tight loop of a tiny function takes at most 16 bytes per call with its signature known, at most 36 with its 6 argument registers all kept', () => {
  const n = 100000;
  const bare = record('fast', 'loop', ['tiny'], [String(n)], 'O2', false);
  const typed = record('fast', 'loop', ['tiny'], [String(n)], 'O2', true);
  for (const { rec } of [bare, typed]) {
    expect(rec.calls.filter((c) => c.kind === 1)).toHaveLength(n);
    expect(rec.calls.filter((c) => c.kind === 2)).toHaveLength(n);
  }
  expect(typed.rec.calls.slice(0, 4).map((c) => [c.kind, c.args?.map(Number), c.ret === undefined ? undefined : Number(c.ret)]))
    .toEqual([[1, [0], undefined], [2, undefined, 1], [1, [1], undefined], [2, undefined, 0]]);
  expect(bare.rec.bytes / n).toBeLessThanOrEqual(process.arch === 'arm64' ? 44 : 36);
  expect(typed.rec.bytes / n).toBeLessThanOrEqual(16);
});
