// The live call tree written by the addon from a record's plain chunks
// (lib/record/tree-lines.ts, native/record/tree_lines.h): byte for byte what
// the tree view writes from the same calls decoded into events.
import * as fs from 'fs';
import * as path from 'path';
import { ColumnTree } from '../../lib/record/tree-lines';
import { LiveRecordReader } from '../../lib/record/live';
import { Sink } from '../../lib/views/format';
import { TreeView } from '../../lib/views/tree';
import { palette } from '../../lib/views/colors';
import { RecordBuilder, LOOKUP_SIG, WORD_SIGS, wordCallsRecord } from '../record-v2-encoder';
import { scratchDir } from '../helpers';

let seed = 7;
const rand = (n: number) => (((seed = (seed * 1103515245 + 12345) % 2 ** 31) >>> 8) % n);
const WORDS = [0n, 1n, 0xffn, 0x100n, 0x7ffcba1b6ac8n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn];
type Rec = Parameters<RecordBuilder['calls']>[3][number];

/** The tree ColumnTree writes of `bytes` read live: the addon writing the plain chunks, or (native false) every chunk decoded into events. */
function tree(bytes: Buffer, native: boolean, pieces: number, nargs = 3): { text: string; nativeChunks: number } {
  const file = path.join(scratchDir(), `tree-${native}-${pieces}-${nargs}.txt`);
  const fd = fs.openSync(file, 'w');
  const sink = new Sink(fd, false);
  const view = new TreeView(sink, { nargs, backtraces: true, colors: palette(false), time: 'none', slowNs: 1e6,
    run: { command: [], pid: 1, startTs: 0, startWallNs: 0, overheadNs: null } });
  expect(view.plainLines).toBe(true);
  const lines = new ColumnTree(sink, view, nargs);
  const reader = new LiveRecordReader(native ? lines.handlers : { ...lines.handlers, callsChunk: undefined });
  const step = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += step) {
    reader.take(bytes.subarray(at, at + step));
    lines.buffered();
  }
  lines.closeAll(2 ** 41, 'exit');
  view.end({ endTs: 2 ** 41, nmissed: new Map(), cut: false, status: null });
  fs.closeSync(fd);
  return { text: fs.readFileSync(file, 'utf8'), nativeChunks: lines.nativeChunks };
}

test('the addon writes the tree the events make, byte for byte: leaves on one line, blocks, unwound calls, unmatched exits, deep calls, typed chunks among them', () => {
  const r = new RecordBuilder();
  r.site({ function: 'plain6', args: 6, ret: true }, { function: 'noret', args: 1, ret: false }, { function: 'ns::f<int>(int, char const*)', args: 2, ret: true, fp: true },
    { function: 'typed', address: '0x401100', args: 2, ret: true, signature: LOOKUP_SIG }, { function: 'esc\u001b[31m\u00e9', args: 0, ret: true },
    { function: 'mix', args: 6, ret: true, signature: WORD_SIGS.mix }, { function: 'nothing', args: 6, ret: true, signature: WORD_SIGS.nothing },
    { function: 'unknownRet', args: 6, ret: true, signature: WORD_SIGS.unknownRet });
  const state = new Map<number, { ts: number; open: number[] }>();
  let typedChunks = 0;
  for (let c = 0; c < 60; c++) {
    const tid = 11 + (c % 3);
    const st = state.get(tid) ?? { ts: 2 ** 40 + tid, open: [] };
    state.set(tid, st);
    const recs: Rec[] = [];
    const base = st.ts;
    const typed = c % 7 === 3;
    const deep = c === 10; // past the 256 levels drawn
    for (let i = 0; i < 400; i++) {
      st.ts += rand(3) === 0 ? rand(3e6) : rand(2000);
      if (st.open.length === 0 || (deep ? st.open.length < 300 : rand(2) && st.open.length < 20)) {
        const site = typed && rand(3) === 0 ? 3 : [0, 1, 2, 4, 5, 6, 7][rand(7)];
        recs.push({ kind: 'entry', site, ts: st.ts, depth: st.open.length, args: Array.from({ length: 6 }, () => WORDS[rand(WORDS.length)]), fp: 0.5 });
        st.open.push(site);
      } else if (rand(40) === 0) {
        recs.push({ kind: 'exit', site: 1, ts: st.ts, depth: st.open.length + 3 }); // an exit whose entry was not seen
      } else {
        const site = st.open.pop()!;
        const held = rand(4) === 0 ? rand(30) : undefined;
        if (rand(10) === 0) recs.push({ kind: 'unwound', site, ts: st.ts, depth: st.open.length, reason: rand(7), held });
        else recs.push({ kind: 'exit', site, ts: st.ts, depth: st.open.length, ret: WORDS[rand(WORDS.length)], fp: 1.5, held });
      }
    }
    if (recs.some((x) => x.site === 3)) typedChunks++;
    r.calls(100, tid, base, recs);
  }
  const bytes = r.bytes();
  const viaAddon = tree(bytes, true, 1);
  expect(viaAddon.nativeChunks).toBe(60 - typedChunks); // every chunk but those with a typed call
  expect(viaAddon.text).toBe(tree(bytes, false, 1).text);
  expect(tree(bytes, true, 7).text).toBe(tree(bytes, false, 7).text);
  expect(tree(bytes, true, 1, 6).text).toBe(tree(bytes, false, 1, 6).text);
  const text = viaAddon.text;
  expect(text).toMatch(/^ {5}1[123] {3}plain6\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+\) \{$/m); // a block opened
  expect(text).toMatch(/^ {5}1[123] +\} = 0x[0-9a-f]+ <[\d.]+ [num]?s> \/\* plain6 \*\/$/m); // and closed
  expect(text).toMatch(/^ {5}1[123] +noret\(0x[0-9a-f]+\) = 0x0 <[\d.]+ [num]?s>$/m); // a leaf on one line
  expect(text).toMatch(/unwound \(thread-exit\)/);
  expect(text).toMatch(/ {512}\[29\d\] /); // deeper than drawn
  expect(text).toContain('ns::f<int>('); // a C++ name without its parameters on a call line
  expect(text).toContain('/* ns::f<int>(int, char const*) */'); // with them at a block's end
  expect(text).toContain('esc\\e[31m\u00e9('); // escaped
  expect(text).toMatch(/typed\(key=0x[0-9a-f]+ <unreadable>, len=-?\d+\)/); // a typed call, rendered by the tree from its event
});

test('durations are written as the tree writes them, toFixed rounding of decimal ties included', () => {
  const durations = [0, 1, 999, 1000, 1049, 1050, 1250, 1350, 2675, 999949, 999950, 999999, 1e6, 1050000, 1250000, 2675000, 999950000,
    999999999, 1e9, 1005000000, 1125000000, 2675000000, 9995000000, 12345678901234, 2 ** 52 + 1];
  const r = new RecordBuilder();
  r.site({ function: 'leaf', args: 1, ret: true });
  const recs: Rec[] = [];
  let ts = 2 ** 30;
  for (const d of durations) {
    recs.push({ kind: 'entry', site: 0, ts, depth: 0, args: [BigInt(d)] });
    recs.push({ kind: 'exit', site: 0, ts: ts + d, depth: 0, ret: 0n });
    ts += d + 10;
  }
  r.calls(100, 100, 2 ** 30, recs);
  const viaAddon = tree(r.bytes(), true, 1);
  expect(viaAddon.nativeChunks).toBe(1);
  expect(viaAddon.text).toBe(tree(r.bytes(), false, 1).text);
  expect(viaAddon.text).toContain('leaf(0x4e2) = 0x0 <1.3 us>'); // 1.25 is a double: toFixed rounds its tie up
  expect(viaAddon.text.split('\n').filter(Boolean)).toHaveLength(durations.length);
});

test('typed values that are all words are written by the addon as the tree writes them: signed, unsigned, hex by name, octal, bool, NULL, void, variadic', () => {
  const bytes = wordCallsRecord();
  const viaAddon = tree(bytes, true, 1);
  expect(viaAddon.nativeChunks).toBe(1);
  expect(viaAddon.text).toBe(tree(bytes, false, 1).text);
  expect(viaAddon.text.split('\n').filter(Boolean).map((l) => l.replace(/^ +100 /, ''))).toEqual([
    'mix(a=-1, b=65535, flags=0xffffffff, mode=01777777777777777777777, on=true, NULL) = -1 <100 ns>',
    'mix(a=0, b=0, flags=0x0, mode=00, on=false, 0x7ffcba1b6ac8) = 0 <100 ns>',
    'mix(a=-128, b=32768, flags=0x80000000, mode=010, on=false, 0x1) = 9223372036854775807 <100 ns>',
    'nothing(n=4294967295, ...) <100 ns>',
    'unknownRet(x=-1) = 0xffffffffffffffff <100 ns>',
  ]);
});

test("a parameter's name from a hostile signature is escaped on the addon's lines as on the tree's", () => {
  const r = new RecordBuilder();
  const INT = { n: 'int', k: 'int', s: 4, sg: true };
  r.site({ function: 'f', args: 1, ret: true, signature: { params: [{ name: 'k\u001b[2J\n', type: INT }], ret: INT, variadic: false, source: 'spec' } });
  r.calls(100, 100, 2 ** 30, [{ kind: 'entry', site: 0, ts: 2 ** 30, depth: 0, args: [5n] }, { kind: 'exit', site: 0, ts: 2 ** 30 + 10, depth: 0, ret: 1n }]);
  const viaAddon = tree(r.bytes(), true, 1);
  expect(viaAddon.nativeChunks).toBe(1);
  expect(viaAddon.text).toBe('    100 f(k\\e[2J\\n=5) = 1 <10 ns>\n');
  expect(tree(r.bytes(), false, 1).text).toBe(viaAddon.text);
});
