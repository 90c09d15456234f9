// The record writer's JS encoder (lib/record/write.ts): varints, chunk
// framing, sites before their first call, one open CALLS chunk per thread,
// and the buffer written out when full. Decoded with test/record-decode.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RecordHeaderV2, RecordWriter, siteShape } from '../../lib/record/write';
import { decodeRecord, varint } from '../record-decode';
import type { CType } from '../../lib/types/model';

const header = (): RecordHeaderV2 => ({
  command: ['prog'], pid: 10, attached: false, arch: 'x64', startTs: 1000, startWallNs: 0, overheadNs: null, mode: 'trap',
  patterns: ['f'], modules: [], cwd: '/', tool: 'rethook test', fallbacks: [], clock: { source: 'monotonic', nsPerTick: 1 },
});

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-write-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writer(name: string): { w: RecordWriter; file: string; close: () => void } {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  return { w: new RecordWriter(fd, header()), file, close: () => fs.closeSync(fd) };
}

const shape = { args: 2, ret: true, fp: false };

test('the header is written at once: magic, version 3, its length and JSON', () => {
  const { file, close } = writer('header');
  const b = fs.readFileSync(file);
  close();
  expect(b.toString('latin1', 0, 8)).toBe('RHRECORD');
  expect(b.readUInt32LE(8)).toBe(3);
  expect(JSON.parse(b.toString('utf8', 16, 16 + b.readUInt32LE(12)))).toEqual(header());
  expect(b.length).toBe(16 + b.readUInt32LE(12));
});

test('argument and return words of every size come back exactly as varints', () => {
  const { w, file, close } = writer('words');
  const words = [0n, 1n, 127n, 128n, 300n, 0xffffffffn, 0x100000000n, (1n << 53n) - 1n, 1n << 53n, 0x7fffffffffffffffn, 0xffffffffffffffffn, -1n];
  const site = w.site(10, 0x1000, 'f', '/bin/prog', null, shape);
  for (let i = 0; i < words.length; i++) {
    w.entry(10, 10, site, 2000 + i, 0, [words[i], 5n], null);
    w.exit(10, 10, site, 2000 + i, 0, words[i], null);
  }
  w.end({ calls: words.length });
  close();
  const rec = decodeRecord(file);
  expect(rec.calls.filter((c) => c.kind === 1).map((c) => c.args![0])).toEqual(words.map((v) => BigInt.asUintN(64, v)));
  expect(rec.calls.filter((c) => c.kind === 2).map((c) => c.ret)).toEqual(words.map((v) => BigInt.asUintN(64, v)));
  expect(rec.end).toEqual({ calls: words.length });
});

test('a varint takes 1 byte below 128, 2 below 16384, and 10 for 2^64 - 1', () => {
  const enc = (v: bigint) => {
    const { w, file, close } = writer(`v${v}`);
    const site = w.site(1, 1, 'f', '', null, { args: 1, ret: false, fp: false });
    w.entry(1, 1, site, 1000, 0, [v], null);
    w.flush();
    close();
    const b = fs.readFileSync(file);
    const at = { p: 16 + b.readUInt32LE(12) };
    at.p += 5 + b.readUInt32LE(at.p + 1); // the SITES chunk
    const len = b.readUInt32LE(at.p + 1);
    expect(b[at.p]).toBe(2);
    // tag, dt, depth, then the word: the rest of the payload after the 16-byte CALLS header.
    const payload = b.subarray(at.p + 5 + 16, at.p + 5 + len);
    const q = { p: 0 };
    expect([varint(payload, q), varint(payload, q), varint(payload, q), varint(payload, q)]).toEqual([1n, 0n, 0n, v]);
    return payload.length - 3;
  };
  expect(enc(127n)).toBe(1);
  expect(enc(128n)).toBe(2);
  expect(enc(16383n)).toBe(2);
  expect(enc(16384n)).toBe(3);
  expect(enc(0xffffffffffffffffn)).toBe(10);
});

test('chunks: a site before its first call, one CALLS chunk per run of a thread, notes in order, END last', () => {
  const { w, file, close } = writer('chunks');
  const f = w.site(10, 0x1000, 'f', '', null, shape);
  w.entry(10, 10, f, 1500, 0, [1n, 2n], null);
  w.entry(10, 11, f, 1600, 0, [3n, 4n], null);
  const g = w.site(10, 0x2000, 'g', '', null, { args: 0, ret: false, fp: true });
  w.entry(10, 11, g, 1700, 1, [], Buffer.from(new Float64Array([2.5]).buffer));
  w.exit(10, 11, g, 1800, 1, null, Buffer.from(new Float64Array([5]).buffer));
  w.note({ type: 'thread-exit', pid: 10, tid: 11, ts: 1850 });
  w.exit(10, 10, f, 1900, 0, 3n, null);
  w.unwound(10, 11, f, 1950, 0, 2);
  w.end({ calls: 3 });
  close();
  const b = fs.readFileSync(file);
  const types: number[] = [];
  for (let p = 16 + b.readUInt32LE(12); p < b.length; p += 5 + b.readUInt32LE(p + 1)) types.push(b[p]);
  expect(types).toEqual([1, 2, 2, 1, 2, 3, 2, 2, 4]);
  const rec = decodeRecord(file);
  expect(rec.sites.map((s) => [s.id, s.function, s.address])).toEqual([[0, 'f', '0x1000'], [1, 'g', '0x2000']]);
  expect(rec.calls.map((c) => [c.tid, c.kind, c.site, c.ts, c.depth])).toEqual([
    [10, 1, 0, 1500, 0], [11, 1, 0, 1600, 0], [11, 1, 1, 1700, 1], [11, 2, 1, 1800, 1], [10, 2, 0, 1900, 0], [11, 3, 0, 1950, 0],
  ]);
  expect(rec.calls[2].fp!.readDoubleLE(0)).toBe(2.5);
  expect(rec.calls[3].fp!.readDoubleLE(0)).toBe(5);
  expect(rec.calls[5].reason).toBe(2);
  expect(rec.notes).toEqual([{ type: 'thread-exit', pid: 10, tid: 11, ts: 1850 }]);
});

test('strings and extra fields follow their entry; a step back in time is written as 0', () => {
  const { w, file, close } = writer('attached');
  const f = w.site(10, 0x1000, 'f', '', null, { args: 1, ret: true, fp: false });
  w.entry(10, 10, f, 5000, 0, [0x1234n], null, [[0, Buffer.from('key\0')]], { backtrace: ['main'] });
  w.exit(10, 10, f, 4000, 0, 0n, null);
  w.end({});
  close();
  const rec = decodeRecord(file);
  expect(rec.calls[0]).toMatchObject({ strings: [[0, 'key\0']], extra: { backtrace: ['main'] }, ts: 5000 });
  expect(rec.calls[1].ts).toBe(5000);
});

test('more than the buffer holds is written out as it fills: chunks stay whole, nothing is lost', () => {
  const { w, file, close } = writer('big');
  const f = w.site(10, 0x1000, 'f', '', null, shape);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    w.entry(10, 10 + (i % 3), f, 2000 + i, 0, [BigInt(i), 0xffffffffffn], null);
    w.exit(10, 10 + (i % 3), f, 2000 + i, 0, BigInt(i), null);
  }
  expect(w.written).toBeGreaterThan(1 << 20); // written while recording, not at the end
  w.end({});
  close();
  const rec = decodeRecord(file);
  expect(rec.calls).toHaveLength(2 * n);
  expect(rec.calls.filter((c) => c.tid === 11 && c.kind === 2).map((c) => Number(c.ret)).slice(0, 3)).toEqual([1, 4, 7]);
});

test("a site's shape: the signature's integer words when it is plain, else every argument register", () => {
  const int: CType = { n: 'int', k: 'int', s: 4 };
  const dbl: CType = { n: 'double', k: 'float', s: 8 };
  const sig = (params: CType[], ret: CType | null, variadic = false) => ({ params: params.map((type) => ({ name: null, type })), ret, variadic, source: 'spec' as const });
  expect(siteShape(null, 6)).toEqual({ args: 6, ret: true, fp: false });
  expect(siteShape(sig([int, int], int), 6)).toEqual({ args: 2, ret: true, fp: false });
  expect(siteShape(sig([dbl], dbl), 6)).toEqual({ args: 0, ret: true, fp: true });
  expect(siteShape(sig([int], { n: 'void', k: 'void', s: 0 }), 6)).toEqual({ args: 1, ret: false, fp: false });
  expect(siteShape(sig([int], int, true), 6)).toEqual({ args: 6, ret: true, fp: false });
  expect(siteShape(sig([int, int, int, int, int, int, int, int, int], int), 8)).toEqual({ args: 8, ret: true, fp: false });
});
