// The recorder's clock (the cycle counter: rdtsc / cntvct_el0, one counter
// for every CPU and process on the machine) converted to CLOCK_MONOTONIC ns,
// from pairs of readings the addon takes back to back. The rate is measured
// over a 20 ms window from the clock's creation, settled when first needed
// (the first records: the program has run meanwhile, so start-up does not wait
// for it), and refined as time passes.
import { fast } from '../native';

const FIRST_WINDOW_NS = 20_000_000n;

export class Clock {
  private static instance: Clock | null = null;
  private c0: bigint;
  private t0: bigint;
  /** ns per cycle, as a float (its error is what the last window allows); 0 until first needed. */
  private rate = 0;
  /** c0 in halves, to convert readings without bigints. */
  private readonly hi0: number;
  private readonly lo0: number;
  /** [c0 hi, c0 lo, t0 ns, rate] for native converters (fast.transcode), kept up to date. */
  readonly factors = new Float64Array(4);

  static shared(): Clock {
    return (Clock.instance ??= new Clock());
  }

  private constructor() {
    [this.c0, this.t0] = fast.clock();
    this.hi0 = Number(this.c0 >> 32n);
    this.lo0 = Number(this.c0 & 0xffffffffn);
    this.factors.set([this.hi0, this.lo0, Number(this.t0), this.rate]);
  }

  /** The first rate: over at least FIRST_WINDOW_NS since the clock was made (waiting out what is left of it). */
  private settle(): number {
    let [c, t] = fast.clock();
    while (t - this.t0 < FIRST_WINDOW_NS) [c, t] = fast.clock();
    return (this.rate = Number(t - this.t0) / Number(c - this.c0 || 1n));
  }

  /** Take a new pair: the longer the window, the better the rate. */
  refine(): void {
    if (!this.rate) return; // not settled yet: settle() will take a window as long
    const [c, t] = fast.clock();
    if (t - this.t0 > FIRST_WINDOW_NS) this.rate = Number(t - this.t0) / Number(c - this.c0 || 1n);
    this.factors[3] = this.rate;
  }

  /** Cycles (hi, lo halves) to monotonic ns. */
  ns(hi: number, lo: number): bigint {
    const d = (hi - this.hi0) * 0x100000000 + (lo - this.lo0);
    return this.t0 + BigInt(Math.round(d * (this.rate || this.settle())));
  }

  /** A duration in ns between two readings. */
  between(hi0: number, lo0: number, hi1: number, lo1: number): bigint {
    return BigInt(Math.max(0, Math.round(((hi1 - hi0) * 0x100000000 + (lo1 - lo0)) * (this.rate || this.settle()))));
  }
}
