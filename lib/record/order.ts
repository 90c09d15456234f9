// One order for the events of a record's threads: by ts, as the views that
// show every thread in one stream want them (the tree, JSON lines). A
// thread's calls are in order in the file, but the CALLS chunks of different
// threads interleave in any order (fast mode drains one ring at a time). A
// window of WINDOW events is held in a heap and the earliest handed on as it
// overflows: threads are merged by ts when they are within the window of each
// other; each thread's own order always stays (ties go in file order). A
// record that shows one thread only for its first events is let through
// unheld (`windowed` false: holding events costs, they outlive the young
// generation), until a second thread comes.

/** Events held to merge threads by ts. */
export const WINDOW = 1 << 16;

export class TsOrder<T> {
  private ts: number[] = [];
  private seq: number[] = [];
  private items: T[] = [];
  private next = 0;
  /** Events are held to be merged; false: they pass straight through (one thread so far). */
  windowed = true;

  constructor(private readonly emit: (item: T) => void, private readonly window = WINDOW) {}

  get size(): number {
    return this.items.length;
  }

  push(ts: number, item: T): void {
    if (!this.windowed && !this.items.length) return this.emit(item);
    const ts_ = this.ts, seq = this.seq, items = this.items;
    let i = items.length;
    ts_.push(ts);
    seq.push(this.next++);
    items.push(item);
    // Up the heap.
    const s = seq[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ts_[p] < ts || (ts_[p] === ts && seq[p] < s)) break;
      ts_[i] = ts_[p];
      seq[i] = seq[p];
      items[i] = items[p];
      i = p;
    }
    ts_[i] = ts;
    seq[i] = s;
    items[i] = item;
    if (items.length > this.window) this.emit(this.pop());
  }

  /** Everything held, in order. */
  drain(): void {
    while (this.items.length) this.emit(this.pop());
  }

  private pop(): T {
    const ts_ = this.ts, seq = this.seq, items = this.items;
    const top = items[0];
    const lastTs = ts_.pop()!, lastSeq = seq.pop()!, lastItem = items.pop()!;
    const n = items.length;
    if (n) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (ts_[c + 1] < ts_[c] || (ts_[c + 1] === ts_[c] && seq[c + 1] < seq[c]))) c++;
        if (lastTs < ts_[c] || (lastTs === ts_[c] && lastSeq < seq[c])) break;
        ts_[i] = ts_[c];
        seq[i] = seq[c];
        items[i] = items[c];
        i = c;
      }
      ts_[i] = lastTs;
      seq[i] = lastSeq;
      items[i] = lastItem;
    }
    return top;
  }
}
