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
