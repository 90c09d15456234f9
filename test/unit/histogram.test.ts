// The log-linear histogram of durations (lib/views/histogram.ts) against
// sorted arrays: exact counts, sums, min, max and power-of-two buckets;
// percentiles within the stated error; merges; and a size that stays put
// however many values are added.
import { bucketLow, bucketOf, bucketWidth, Histogram, HISTOGRAM_BUCKETS, PERCENTILE_RELATIVE_ERROR } from '../../lib/views/histogram';
import { percentile } from '../../lib/views/summary';

/** A small seeded generator (mulberry32): the same values every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whole ns spread evenly over the powers of ten from 1 ns to 10^12 ns. */
function logUniform(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(10 ** (12 * r())));
}

/** bpftrace's log2 buckets of sorted values, computed from the values themselves. */
function log2Reference(sorted: ArrayLike<number>): { low: number; high: number; count: number }[] {
  const k = (v: number) => (v < 1 ? -1 : Math.floor(Math.log2(v)));
  const lo = k(sorted[0]), hi = k(sorted[sorted.length - 1]);
  const out = [];
  for (let i = lo; i <= hi; i++) out.push({ low: i < 0 ? 0 : 2 ** i, high: 2 ** (i + 1), count: 0 });
  for (let j = 0; j < sorted.length; j++) {
    let i = k(sorted[j]);
    while (sorted[j] >= 2 ** (i + 1)) i++; // Math.log2 rounding next to a power of two
    while (i >= 0 && sorted[j] < 2 ** i) i--;
    out[i - lo].count++;
  }
  return out;
}

const PS = [0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

test('every bucket holds exactly the whole numbers from its low to its low plus width, at most 1/128 of them wide', () => {
  expect(HISTOGRAM_BUCKETS).toBe(256 + 45 * 128);
  let next = 0;
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
    expect(bucketLow(i)).toBe(next); // no gap, no overlap
    expect(bucketOf(bucketLow(i))).toBe(i);
    expect(bucketOf(bucketLow(i) + bucketWidth(i) - 1)).toBe(i);
    if (i >= 256) expect(bucketWidth(i) / bucketLow(i)).toBeLessThanOrEqual(1 / 128);
    next = bucketLow(i) + bucketWidth(i);
  }
  expect(next).toBe(2 ** 53);
  expect([bucketOf(-5), bucketOf(NaN), bucketOf(0.99), bucketOf(2 ** 60)]).toEqual([0, 0, 0, HISTOGRAM_BUCKETS - 1]);
});

test('count, sum, min, max and mean are exact; values below 256 ns have exact percentiles', () => {
  const h = new Histogram();
  expect([h.count, h.percentile(50), h.mean, h.log2Buckets()]).toEqual([0, 0, 0, []]);
  const values = [7, 3, 255, 0, 12, 12, 100, 1];
  for (const v of values) h.add(v);
  const sorted = [...values].sort((a, b) => a - b);
  expect([h.count, h.sum, h.min, h.max, h.mean]).toEqual([8, 390, 0, 255, 390 / 8]);
  for (const p of PS) expect(h.percentile(p)).toBe(percentile(sorted, p));
});

test('on a million random durations from 1 ns to 10^12 ns, percentiles are within 1/256 of the sorted array\'s and log2 buckets equal it', () => {
  const values = logUniform(1_000_000, 1);
  const h = new Histogram();
  for (const v of values) h.add(v);
  const sorted = Float64Array.from(values).sort();
  expect(PERCENTILE_RELATIVE_ERROR).toBe(1 / 256);
  for (const p of PS) {
    const exact = percentile(sorted, p);
    expect(Math.abs(h.percentile(p) - exact)).toBeLessThanOrEqual(Math.max(1, exact * PERCENTILE_RELATIVE_ERROR));
  }
  expect([h.count, h.min, h.max, h.sum]).toEqual([values.length, sorted[0], sorted[sorted.length - 1], values.reduce((a, b) => a + b, 0)]);
  expect(h.log2Buckets()).toEqual(log2Reference(sorted));
});

test('durations crowded in one narrow range keep their percentiles within the error too', () => {
  const r = rng(7);
  const values = Array.from({ length: 100_000 }, () => 40_000 + Math.floor(r() * 2_000)); // 40 to 42 us
  const h = new Histogram();
  for (const v of values) h.add(v);
  const sorted = Float64Array.from(values).sort();
  for (const p of PS) expect(Math.abs(h.percentile(p) - percentile(sorted, p))).toBeLessThanOrEqual(percentile(sorted, p) / 256);
});

test('merging two histograms gives what one histogram of all their values gives', () => {
  const a = logUniform(50_000, 2), b = logUniform(30_000, 3).map((v) => Math.floor(v / 1e6)); // b lower: the window grows down
  const ha = new Histogram(), hb = new Histogram(), all = new Histogram();
  for (const v of a) ha.add(v), all.add(v);
  for (const v of b) hb.add(v), all.add(v);
  ha.merge(hb);
  ha.merge(new Histogram());
  for (const p of PS) expect(ha.percentile(p)).toBe(all.percentile(p));
  expect([ha.count, ha.sum, ha.min, ha.max]).toEqual([all.count, all.sum, all.min, all.max]);
  expect(ha.log2Buckets()).toEqual(all.log2Buckets());
  const empty = new Histogram();
  empty.merge(all);
  expect(empty.log2Buckets()).toEqual(all.log2Buckets());
});

test('10^7 values take no more room than the first ones did: the counts stay within 6016 buckets', () => {
  const h = new Histogram();
  const r = rng(4);
  const values = Float64Array.from({ length: 1_000_000 }, () => Math.floor(2 ** (53 * r())));
  for (let i = 0; i < 1000; i++) h.add(values[i]);
  const first = h.sizeBytes;
  expect(first).toBeLessThanOrEqual(HISTOGRAM_BUCKETS * 8);
  for (let round = 0; round < 10; round++) for (let i = 0; i < values.length; i++) h.add(values[i]);
  expect(h.count).toBe(1e7 + 1000);
  expect(h.sizeBytes).toBe(first);
  // Values that stay in a few powers of two take only those.
  const narrow = new Histogram();
  for (let i = 0; i < 1e6; i++) narrow.add(1000 + (i % 3000));
  expect(narrow.sizeBytes).toBe(3 * 128 * 8);
});
