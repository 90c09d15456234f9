// Live JSON lines written as bytes from a record's columns (lib/record/json-lines.ts):
// its numbers and hex words are byte for byte what the event path writes.
import { Bytes } from '../../lib/record/json-lines';

const written = (f: (b: Bytes) => void): string => {
  const b = new Bytes(16);
  b.room(512);
  f(b);
  return b.buf.toString('latin1', 0, b.pos);
};

test('numbers are written as JSON.stringify writes them, integers past 2^31 and 1e9 included', () => {
  const ns = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 2147483647, 2147483648, 4294967296, 999999999, 1000000000, 1000000001,
    21622652692120, 21622000000005, 21623000000000, 98765432101234, 2 ** 53 - 1, 2 ** 53, 1.5, -3, 1e21];
  for (const n of ns) expect(written((b) => b.num(n))).toBe(JSON.stringify(n));
  // The digits above 1e9 are kept from one number to the next: a changed ts has its own.
  expect(written((b) => (b.num(21622652692120), b.num(21623000000001), b.num(21622652692120)))).toBe('216226526921202162300000000121622652692120');
});

test('words are written as the events write them: 0x and hex digits, no leading zeros', () => {
  const words = [0n, 1n, 0xfn, 0x10n, 0xfffn, 0x1000n, 0xffffffffn, 0x100000000n, 0x7ffcba1b6ac8n, 0x1999999999999999n, 0xffffffffffffffffn, 0x100000001n];
  for (const w of words) expect(written((b) => b.hex(Number(w & 0xffffffffn), Number(w >> 32n)))).toBe('0x' + w.toString(16));
});

test('a word remembered for its slot is written as the events write it, changed or not', () => {
  const words = [0x7ffcba1b6ac8n, 0x7ffcba1b6ac8n, 0x5n, 0x7ffcba1b6ac9n, 0x1999999999999999n, 0x1999999999999999n, 0x100n, 0x100n, 0x1000000000n];
  const line = written((b) => words.forEach((w, i) => (b.word(Number(w & 0xffffffffn), Number(w >> 32n), i % 2), b.buf[b.pos++] = 44)));
  expect(line).toBe(words.map((w) => '0x' + w.toString(16) + ',').join(''));
});

test('argument words are written as the events write them, the words after the first repeated or not', () => {
  const rows = [[5n, 0x7ffcba1b6ac8n, 0n], [6n, 0x7ffcba1b6ac8n, 0n], [7n, 0x7ffcba1b6ac8n, 1n], [7n], [8n, 0x7ffcba1b6ac8n, 1n], [], [9n, 0x7ffcba1b6ac8n]];
  const line = written((b) => rows.forEach((ws) => {
    const a = new Uint32Array(2 + 2 * ws.length);
    ws.forEach((w, i) => ((a[2 + 2 * i] = Number(w & 0xffffffffn)), (a[3 + 2 * i] = Number(w >> 32n))));
    b.args(a, 2, ws.length);
    b.buf[b.pos++] = 124; // |
  }));
  expect(line).toBe(rows.map((ws) => ws.map((w) => `"0x${w.toString(16)}"`).join(',') + '|').join(''));
});

describe('lines the addon writes from plain chunks (native/record/json_lines.h)', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { ColumnJson } = require('../../lib/record/json-lines') as typeof import('../../lib/record/json-lines');
  const { LiveRecordReader } = require('../../lib/record/live') as typeof import('../../lib/record/live');
  const { Sink } = require('../../lib/views/format') as typeof import('../../lib/views/format');
  const { RecordBuilder, LOOKUP_SIG, WORD_SIGS, wordCallsRecord } = require('../record-v2-encoder') as typeof import('../record-v2-encoder');
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const { scratchDir } = require('../helpers') as typeof import('../helpers');

  let seed = 5;
  const rand = (n: number) => (((seed = (seed * 1103515245 + 12345) % 2 ** 31) >>> 8) % n);
  const WORDS = [0n, 1n, 0xffn, 0x100n, 0x7ffcba1b6ac8n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn];

  /** A record (no END: a live one) of random calls on three threads in interleaved chunks: untyped sites, one typed (a chunk with it is decoded). */
  let typedChunks = 0;
  function record(): Buffer {
    const r = new RecordBuilder();
    r.site({ function: 'plain6', args: 6, ret: true }, { function: 'noret', args: 1, ret: false }, { function: 'fp\u00e9"\\', args: 2, ret: true, fp: true },
      { function: 'typed', address: '0x401100', args: 2, ret: true, signature: LOOKUP_SIG },
      { function: 'mix', args: 6, ret: true, signature: WORD_SIGS.mix }, { function: 'nothing', args: 6, ret: true, signature: WORD_SIGS.nothing },
      { function: 'unknownRet', args: 6, ret: true, signature: WORD_SIGS.unknownRet });
    const state = new Map<number, { ts: number; open: number[] }>();
    for (let c = 0; c < 60; c++) {
      const tid = 11 + (c % 3);
      const st = state.get(tid) ?? { ts: 2 ** 40 + tid, open: [] };
      state.set(tid, st);
      const recs: Parameters<typeof r.calls>[3][number][] = [];
      const base = st.ts;
      const typed = c % 7 === 3;
      for (let i = 0; i < 300; i++) {
        st.ts += rand(2000);
        if (st.open.length === 0 || (rand(2) && st.open.length < 20)) {
          const site = typed && rand(3) === 0 ? 3 : [0, 1, 2, 4, 5, 6][rand(6)];
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
    return r.bytes();
  }

  /** The lines ColumnJson writes of `bytes` read live, with the addon writing plain chunks or (native false) every chunk decoded. */
  let taken = 0;
  function lines(bytes: Buffer, native: boolean, pieces: number): string {
    const file = path.join(scratchDir(), `lines-${native}-${pieces}.json`);
    const fd = fs.openSync(file, 'w');
    const sink = new Sink(fd, true);
    const json = new ColumnJson(sink);
    const h = json.handlers;
    const handlers = native ? { ...h, callsChunk: (...a: Parameters<NonNullable<typeof h.callsChunk>>) => {
      const r = h.callsChunk!(...a);
      if (r) taken++;
      return r;
    } } : { ...h, callsChunk: undefined };
    const reader = new LiveRecordReader(handlers);
    const step = Math.ceil(bytes.length / pieces);
    for (let at = 0; at < bytes.length; at += step) {
      reader.take(bytes.subarray(at, at + step));
      json.buffered();
    }
    json.closeAll(2 ** 41, 'exit');
    sink.flush();
    fs.closeSync(fd);
    return fs.readFileSync(file, 'utf8');
  }

  test('are byte for byte the lines written from the decoded columns: threads merged, HELD, unwound, unmatched exits, typed chunks among them', () => {
    const bytes = record();
    const viaAddon = lines(bytes, true, 1);
    expect(taken).toBe(60 - typedChunks); // every chunk but those with a typed call
    expect(viaAddon).toBe(lines(bytes, false, 1));
    expect(lines(bytes, true, 7)).toBe(lines(bytes, false, 7));
    const ls = viaAddon.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; function: string; reason?: string; args?: string[]; ts: number });
    expect(ls.filter((l) => l.type === 'exit' && l.reason).length).toBeGreaterThan(10);
    expect(ls.some((l) => l.function === 'typed')).toBe(true);
    expect(ls.some((l) => l.args?.includes('0xffffffffffffffff'))).toBe(true);
    expect(ls.some((l) => l.function === 'fp\u00e9"\\')).toBe(true);
    // Merged by ts across threads, as dump merges them.
    for (let i = 1; i < ls.length; i++) if (ls[i].ts < ls[i - 1].ts) throw new Error(`line ${i} is out of order`);
  });

  test('typed values that are all words are written by the addon as the JSON view writes them: numbers, big ones as strings, pointers in hex, void', () => {
    const bytes = wordCallsRecord();
    taken = 0;
    const viaAddon = lines(bytes, true, 1);
    expect(taken).toBe(1);
    expect(viaAddon).toBe(lines(bytes, false, 1));
    const ls = viaAddon.trimEnd().split('\n').map((l) => JSON.parse(l) as { argv?: unknown[]; ret?: unknown });
    expect(ls.map((l) => l.argv ?? l.ret ?? null)).toEqual([
      [{ name: 'a', type: 'signed char', value: -1 }, { name: 'b', type: 'short unsigned int', value: 65535 }, { name: 'flags', type: 'int', value: -1 },
        { name: 'mode', type: 'mode_t', value: '18446744073709551615' }, { name: 'on', type: '_Bool', value: true }, { type: 'void *', value: '0x0' }],
      { type: 'long int', value: -1 },
      [{ name: 'a', type: 'signed char', value: 0 }, { name: 'b', type: 'short unsigned int', value: 0 }, { name: 'flags', type: 'int', value: 0 },
        { name: 'mode', type: 'mode_t', value: 0 }, { name: 'on', type: '_Bool', value: false }, { type: 'void *', value: '0x7ffcba1b6ac8' }],
      { type: 'long int', value: 0 },
      [{ name: 'a', type: 'signed char', value: -128 }, { name: 'b', type: 'short unsigned int', value: 32768 }, { name: 'flags', type: 'int', value: -2147483648 },
        { name: 'mode', type: 'mode_t', value: 8 }, { name: 'on', type: '_Bool', value: false }, { type: 'void *', value: '0x1' }],
      { type: 'long int', value: '9223372036854775807' },
      [{ name: 'n', type: 'unsigned int', value: 4294967295 }],
      { type: 'void' },
      [{ name: 'x', type: 'long', value: -1 }],
      null,
    ]);
  });
});
