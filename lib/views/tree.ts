// The call tree, as a function-graph tracer prints it. A call with no hooked
// call inside it takes one line (`f(args) = ret <time>`); one with nested calls
// opens a block closed by `} = ret <time> /* f */`.
//
// To a file or a pipe, a leaf's entry waits for its exit (per thread) so that
// it can take one line. On a terminal the program also writes to, each event
// is written as it happens (the program is stopped meanwhile), so the lines
// keep their order relative to the program's own output: an entry is written
// at once without its line end, and its exit completes the line when nothing
// else was written in between (as ltrace does).
import { argsText, callLabel, retText, Sink } from './format';
import { memoize } from '../memo';
import { escapeText } from '../symbols/text';
import { fallbackLines, fallbacksOf } from './fallbacks';
import type { Palette } from './colors';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import { EndInfo, formatDuration, RunInfo, View } from './view';

export type TimeColumn = 'none' | 'absolute' | 'relative';

export interface TreeOptions {
  nargs: number;
  backtraces: boolean;
  colors: Palette;
  /** -t: wall-clock time of day; -r: seconds since the start. */
  time: TimeColumn;
  run: RunInfo;
  /** Durations at least this long are highlighted (with colors). */
  slowNs: number;
}

interface Pending {
  head: string | null;
  /** When head was set, in entries: what is pending is written in that order. */
  seq: number;
  suffix: string;
  depth: number;
}

/**
 * Levels of indentation drawn: a call deeper than this is drawn at this
 * level with its depth written (`[5000] f(0x1) = 0x0`), so that a line stays
 * short however deep the recursion (a record may say any depth).
 */
export const INDENT_MAX = 256;

/** Threads' slots kept before those with nothing pending are swept. */
const SWEEP_AT = 1024;

/** An event with the depth a filter shows it at (--caller rebases the tree). */
export type Shown<T> = T & { shownDepth?: number };

export class TreeView implements View {
  /**
   * Buffered mode, per thread: the entry line not written yet (a leaf so far),
   * with its backtrace suffix; head null when there is none. A thread keeps
   * its slot (a Map delete and set per call cost more than the rest of the
   * line); slots of threads with nothing pending are swept once there are many.
   */
  private pending = new Map<number, Pending>();
  private entries = 0;
  /** Terminal mode: the entry written without its line end, if it is the last thing written. */
  private open: { tid: number; depth: number; suffix: string } | null = null;

  /** Names as the lines show them (escaped, colored): made once per function, not at every line. */
  private readonly callShown = memoize((fn: string) => this.o.colors.fn(escapeText(callLabel(fn))));
  private readonly blockShown = memoize((fn: string) => this.o.colors.fn(escapeText(fn)));
  /** The thread column and the indentation of a depth, as often. */
  private readonly tidShown = memoize((tid: number) => `${String(tid).padStart(7)} `);
  private readonly indent = memoize((depth: number) => (depth <= INDENT_MAX ? '  '.repeat(depth) : `${'  '.repeat(INDENT_MAX)}[${depth}] `));

  constructor(private readonly out: Sink, private readonly o: TreeOptions) {}

  private timeCol(ts: number): string {
    if (this.o.time === 'none') return '';
    if (this.o.time === 'relative') return this.o.colors.dim(((ts - this.o.run.startTs) / 1e9).toFixed(6).padStart(12)) + ' ';
    const wall = this.o.run.startWallNs + (ts - this.o.run.startTs);
    const d = new Date(Math.floor(wall / 1e6));
    const p2 = (n: number) => String(n).padStart(2, '0');
    const us = String(Math.floor((wall % 1e9) / 1e3)).padStart(6, '0');
    return this.o.colors.dim(`${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${us}`) + ' ';
  }

  private prefix(ts: number, tid: number, depth: number): string {
    return `${this.timeCol(ts)}${this.tidShown(tid)}${this.indent(depth)}`;
  }

  entry(e: Shown<EntryEvent>): void {
    const depth = e.shownDepth ?? e.depth;
    const head = `${this.prefix(e.ts, e.tid, depth)}${this.callShown(e.function)}(${argsText(e, this.o.nargs)})`;
    let suffix = '';
    if (this.o.backtraces && e.backtrace) {
      suffix = `  <- ${e.backtrace.map((f) => escapeText(f)).join(' <- ')}${e.backtraceReliable === false ? ' (unreliable)' : ''}`;
    }
    if (this.out.sync) {
      this.closeOpen();
      this.out.write(head);
      this.open = { tid: e.tid, depth, suffix };
      return;
    }
    this.flushPending(e.tid);
    let slot = this.pending.get(e.tid);
    if (slot === undefined) {
      if (this.pending.size >= SWEEP_AT) this.sweep();
      this.pending.set(e.tid, (slot = { head: null, seq: 0, suffix: '', depth: 0 }));
    }
    slot.head = head;
    slot.seq = this.entries++;
    slot.suffix = suffix;
    slot.depth = depth;
  }

  exit(e: Shown<ExitEvent>): void {
    const depth = e.shownDepth ?? e.depth;
    const c = this.o.colors;
    const outcome = e.unwound ? c.unwound(`unwound (${escapeText(String(e.reason))})`) : c.enabled ? colorRet(retText(e), c.ret) : retText(e);
    const t = `<${formatDuration(e.durationNs)}>`;
    const time = e.durationNs >= this.o.slowNs ? c.slow(t) : t;
    if (this.out.sync) {
      if (this.open && this.open.tid === e.tid && this.open.depth === depth) {
        this.out.write(` ${outcome ? outcome + " " : ""}${time}${this.open.suffix}\n`);
        this.open = null;
        return;
      }
      this.closeOpen();
    } else {
      const p = this.pending.get(e.tid);
      if (p !== undefined && p.head !== null && p.depth === depth) {
        this.out.write(`${p.head} ${outcome ? outcome + " " : ""}${time}${p.suffix}\n`);
        p.head = null;
        return;
      }
      this.flushPending(e.tid);
    }
    this.out.write(`${this.prefix(e.ts, e.tid, depth)}} ${outcome ? outcome + " " : ""}${time} /* ${this.blockShown(e.function)} */\n`);
  }

  note(e: NoteEvent, text: string): void {
    this.flushAll();
    const c = this.o.colors;
    if (e.type === 'fork' || e.type === 'exec' || (e.type === 'process-exit' && e.pid !== this.o.run.pid)) {
      // Markers in the tree: a process of the run came, changed its image, or went.
      const ts = typeof e.ts === 'number' ? e.ts : this.o.run.startTs;
      const what = e.type === 'fork' ? `process ${e.pid} forked from ${e.parent}`
        : e.type === 'exec' ? `process ${e.pid} executed ${escapeText(String(e.file ?? 'a new image'))}`
        : `process ${e.pid} ${e.signal ? `killed by ${escapeText(String(e.signal))}` : `exited with ${e.code}`}`;
      this.out.write(`${this.timeCol(ts)}${String(e.pid).padStart(7)} ${c.marker(`=== ${what} ===`)}\n`);
      return;
    }
    if (e.type === 'fallbacks') {
      for (const line of fallbackLines(fallbacksOf(e))) this.out.write(`rethook: ${line}\n`);
      return;
    }
    if (text) this.out.write(`rethook: ${escapeText(text)}\n`);
  }

  /** Buffered, with no colors or time column: the lines record/tree-lines.ts writes from a record's bytes. */
  get plainLines(): boolean {
    return !this.out.sync && !this.o.colors.enabled && this.o.time === 'none';
  }

  /**
   * Buffered mode: thread `tid`'s entry line not written yet (a leaf so far),
   * with its depth; null when there is none. For a writer of the same lines
   * from a record's bytes (record/tree-lines.ts, never with backtraces),
   * which takes it up and hands its own back (setPending).
   */
  pendingOf(tid: number): { head: string; depth: number } | null {
    const p = this.pending.get(tid);
    return p !== undefined && p.head !== null ? { head: p.head, depth: p.depth } : null;
  }

  /** Thread `tid`'s pending entry line is now `head` at `depth` (null: none; what was pending was written by the caller). */
  setPending(tid: number, head: string | null, depth = 0): void {
    let slot = this.pending.get(tid);
    if (slot === undefined) {
      if (head === null) return;
      if (this.pending.size >= SWEEP_AT) this.sweep();
      this.pending.set(tid, (slot = { head: null, seq: 0, suffix: '', depth: 0 }));
    }
    slot.head = head;
    slot.seq = this.entries++;
    slot.suffix = '';
    slot.depth = depth;
  }

  /** Lines written by others (the end-of-run line, the summary) go after what is pending. */
  flushAll(): void {
    this.closeOpen();
    const waiting = [...this.pending].filter(([, p]) => p.head !== null).sort((a, b) => a[1].seq - b[1].seq);
    for (const [tid] of waiting) this.flushPending(tid);
  }

  end(_info: EndInfo): void {
    this.flushAll();
    this.out.flush();
  }

  private closeOpen(): void {
    if (!this.open) return;
    this.out.write(` {${this.open.suffix}\n`);
    this.open = null;
  }

  private flushPending(tid: number): void {
    const p = this.pending.get(tid);
    if (p === undefined || p.head === null) return;
    this.out.write(`${p.head} {${p.suffix}\n`);
    p.head = null;
  }

  private sweep(): void {
    for (const [tid, p] of this.pending) if (p.head === null) this.pending.delete(tid);
  }
}

/** `= value` with the value colored; '' (a void function) stays ''. */
function colorRet(text: string, paint: (s: string) => string): string {
  if (!text) return '';
  return text.startsWith('= ') ? `= ${paint(text.slice(2))}` : paint(text);
}
