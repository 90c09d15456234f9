// A bounded log-linear histogram of durations (HDR histogram's layout): what
// summaries keep per function instead of every duration. Values below 256 ns
// are counted exactly (1 ns buckets); above, each power of two [2^k, 2^(k+1))
// is cut into 128 equal buckets, so a bucket is at most 1/128 of its values
// wide and a percentile read from it (the bucket's middle) is within 1/256
// (0.4%) of the true one. Values from 2^53 ns (104 days) up share the last
// bucket. The counts live in one Float64Array that grows only to cover the
// powers of two actually seen: 1 KiB per power of two, 47 KiB at the very
// most, however many values are added.

/** Bits of the linear part: 2^SUB_BITS buckets per power of two. */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Values below this are counted exactly. */
const EXACT = 2 * SUB;
/** Powers of two covered: values up to 2^TOP_MAGNITUDE - 1 have their own bucket. */
const TOP_MAGNITUDE = 53;
/** Every bucket index a value can have is below this. */
export const HISTOGRAM_BUCKETS = EXACT + (TOP_MAGNITUDE - SUB_BITS - 1) * SUB;
/** How far a percentile may be from the true one, relative to it (at or above 256 ns; below, within 1 ns). */
export const PERCENTILE_RELATIVE_ERROR = 1 / (2 * SUB);

const TWO_32 = 2 ** 32;

/** floor(log2(n)) of a whole number 1 <= n < 2^53, exactly (Math.log2 rounds near powers of two). */
function magnitude(n: number): number {
  return n < TWO_32 ? 31 - Math.clz32(n) : 63 - Math.clz32(Math.floor(n / TWO_32));
}

/** The bucket of a value in ns (fractions of a ns dropped; negative and NaN count as 0). */
export function bucketOf(v: number): number {
  if (!(v >= 1)) return 0;
  if (v < TWO_32) {
    // The common case in 32-bit integer steps: k = floor(log2(n)), then the top SUB_BITS + 1 bits of n.
    const n = v >>> 0;
    if (n < EXACT) return n;
    const k = 31 - Math.clz32(n);
    return ((k - SUB_BITS - 1) << SUB_BITS) + (n >>> (k - SUB_BITS)) + (EXACT - SUB);
  }
  if (v >= 2 ** TOP_MAGNITUDE) return HISTOGRAM_BUCKETS - 1;
  const n = Math.floor(v);
  const k = magnitude(n);
  return EXACT + (k - SUB_BITS - 1) * SUB + (Math.floor(n / 2 ** (k - SUB_BITS)) - SUB);
}

/** The lowest value of bucket i. */
export function bucketLow(i: number): number {
  if (i < EXACT) return i;
  const r = i - EXACT;
  const k = SUB_BITS + 1 + (r >> SUB_BITS);
  return 2 ** k + (r & (SUB - 1)) * 2 ** (k - SUB_BITS);
}

/** How wide bucket i is (its values are [low, low + width)). */
export function bucketWidth(i: number): number {
  return i < EXACT ? 1 : 2 ** ((i - EXACT) >> SUB_BITS) * 2;
}

/** One power-of-two bucket as bpftrace's hist() shows it: [low, high), the first [0, 1). */
export interface Bucket {
  low: number;
  high: number;
  count: number;
}

export class Histogram {
  /** Counts of buckets [base, base + counts.length). */
  private counts = new Float64Array(0);
  private base = 0;
  count = 0;
  /** The sum of the values added, exact (as doubles add whole numbers below 2^53). */
  sum = 0;
  /** Exact; Infinity while empty. */
  min = Infinity;
  /** Exact; 0 while empty. */
  max = 0;

  add(ns: number): void {
    const i = bucketOf(ns);
    let at = i - this.base;
    if (at < 0 || at >= this.counts.length) at = this.cover(i);
    this.counts[at]++;
    this.count++;
    this.sum += ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
  }

  /** Grows the counts (by whole powers of two) to hold bucket i; its index in them. */
  private cover(i: number): number {
    const low = this.counts.length ? Math.min(this.base, i & ~(SUB - 1)) : i & ~(SUB - 1);
    const high = this.counts.length ? Math.max(this.base + this.counts.length, (i | (SUB - 1)) + 1) : (i | (SUB - 1)) + 1;
    const grown = new Float64Array(Math.min(high, HISTOGRAM_BUCKETS) - low);
    if (this.counts.length) grown.set(this.counts, this.base - low);
    this.counts = grown;
    this.base = low;
    return i - low;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : 0;
  }

  /** Bytes of counts held: at most HISTOGRAM_BUCKETS * 8, however many values were added. */
  get sizeBytes(): number {
    return this.counts.byteLength;
  }

  /**
   * The nearest-rank percentile p (0..100), read from the histogram: the
   * middle of the bucket holding that rank, kept within [min, max] (so p100
   * is the max). Within PERCENTILE_RELATIVE_ERROR of the exact one, or 1 ns
   * below 256 ns. 0 when empty.
   */
  percentile(p: number): number {
    if (!this.count) return 0;
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    let seen = 0;
    for (let at = 0; at < this.counts.length; at++) {
      seen += this.counts[at];
      if (seen >= rank) {
        const i = this.base + at;
        const v = bucketLow(i) + (i < EXACT ? 0 : bucketWidth(i) / 2);
        return Math.min(this.max, Math.max(this.min, v));
      }
    }
    return this.max;
  }

  /** Adds another histogram's values to this one. */
  merge(o: Histogram): void {
    this.addCounts(o.base, o.counts, o);
  }

  /**
   * Adds values counted elsewhere in these buckets (the addon's summaries,
   * native/record/summarize.h): `counts` of buckets [base, base + length),
   * and their count, sum, min and max.
   */
  addCounts(base: number, counts: ArrayLike<number>, o: { count: number; sum: number; min: number; max: number }): void {
    if (!o.count) return;
    if (counts.length) {
      if (base < 0 || base + counts.length > HISTOGRAM_BUCKETS) throw new RangeError(`Histogram.addCounts: buckets ${base} to ${base + counts.length - 1} (0 to ${HISTOGRAM_BUCKETS - 1} exist)`);
      this.cover(base);
      this.cover(base + counts.length - 1);
      for (let at = 0; at < counts.length; at++) this.counts[base + at - this.base] += counts[at];
    }
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }

  /** Each bucket with values, lowest first: its [low, low + width) and count. */
  forEachBucket(f: (low: number, width: number, count: number) => void): void {
    for (let at = 0; at < this.counts.length; at++) {
      if (this.counts[at]) f(bucketLow(this.base + at), bucketWidth(this.base + at), this.counts[at]);
    }
  }

  /**
   * Power-of-two buckets, every one from the lowest used to the highest (as
   * bpftrace's hist()). Exact: each of this histogram's buckets lies inside
   * one power of two.
   */
  log2Buckets(): Bucket[] {
    const byPower = new Map<number, number>();
    this.forEachBucket((low, _w, n) => {
      const k = low < 1 ? -1 : magnitude(low);
      byPower.set(k, (byPower.get(k) ?? 0) + n);
    });
    if (!byPower.size) return [];
    const ks = [...byPower.keys()];
    const lo = Math.min(...ks), hi = Math.max(...ks);
    const buckets: Bucket[] = [];
    for (let k = lo; k <= hi; k++) buckets.push({ low: k < 0 ? 0 : 2 ** k, high: 2 ** (k + 1), count: byPower.get(k) ?? 0 });
    return buckets;
  }
}
