// Output formats of the CLI: an indented call tree (like a function-graph
// tracer) and JSON lines. Field names of the JSON events are stable: other
// tools parse them.
import * as fs from 'fs';
import type { EntryContext, ExitContext } from '../context';
import { escapeText } from '../symbols/text';
import { argsJson, argsText, callName, returnJson, returnText } from '../types/render';

export interface TraceEvents {
  entry(ctx: EntryContext): void;
  exit(ctx: ExitContext): void;
  /** A line about the run itself (missed calls, exit status). */
  note(obj: Record<string, unknown>, text: string): void;
  flush(): void;
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/**
 * Buffered writes to a file descriptor: one syscall per batch of events, not
 * per event. When the reader goes away (EPIPE: `| head`), nothing more is
 * written and `onClosed` runs, once.
 */
export class Sink {
  private buf: string[] = [];
  private size = 0;
  private scheduled = false;
  closed = false;
  onClosed: (() => void) | null = null;
  constructor(private readonly fd: number) {}
  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (!this.buf.length) return;
    const s = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (this.closed) return;
    try {
      fs.writeSync(this.fd, s);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      this.closed = true;
      this.onClosed?.();
    }
  }
}

export function formatDuration(ns: bigint): string {
  const n = Number(ns);
  if (n < 1e3) return `${n} ns`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} us`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} ms`;
  return `${(n / 1e9).toFixed(2)} s`;
}

export class JsonFormat implements TraceEvents {
  constructor(private readonly out: Sink, private readonly backtraces = false) {}
  entry(c: EntryContext): void {
    const o: Record<string, unknown> = {
      type: 'entry', pid: c.pid, tid: c.tid, function: c.function, address: hex(c.address), depth: c.depth,
      args: c.args.map(hex),
    };
    const argv = argsJson(c);
    if (argv) o.argv = argv;
    if (this.backtraces) {
      const bt = c.backtrace();
      o.backtrace = bt.frames.slice(1).map((f) => f.symbol);
      o.backtraceReliable = bt.reliable;
      if (bt.frames.some((f) => f.source)) o.backtraceSources = bt.frames.slice(1).map((f) => f.source ?? null);
    }
    this.out.write(JSON.stringify(o) + '\n');
  }
  exit(c: ExitContext): void {
    const o: Record<string, unknown> = {
      type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: hex(c.retval),
      unwound: c.unwound, durationNs: Number(c.durationNs),
    };
    const ret = returnJson(c);
    if (ret) o.ret = ret;
    if (c.reason) o.reason = c.reason;
    if (c.inherited) o.inherited = true;
    this.out.write(JSON.stringify(o) + '\n');
  }
  note(obj: Record<string, unknown>): void {
    this.out.write(JSON.stringify(obj) + '\n');
  }
  flush(): void {
    this.out.flush();
  }
}

/**
 * The call tree. A call with no hooked call inside it takes one line
 * (`f(args) = ret <time>`); one with nested calls opens a block.
 */
export class TextFormat implements TraceEvents {
  /** Per thread: the entry line not printed yet (a leaf so far), and its backtrace suffix. */
  private pending = new Map<number, string>();
  private suffix = new Map<number, string>();
  constructor(private readonly out: Sink, private readonly nargs: number, private readonly backtraces = false) {}

  /** A function's name as calls show it (C++ without its parameter list), escaped; kept per name. */
  private names = new Map<string, string>();
  private shownName(fn: string): string {
    let n = this.names.get(fn);
    if (n === undefined) this.names.set(fn, (n = escapeText(callName(fn))));
    return n;
  }

  private prefix(tid: number, depth: number): string {
    return `${String(tid).padStart(7)} ${'  '.repeat(depth)}`;
  }

  entry(c: EntryContext): void {
    this.flushPending(c.tid);
    this.pending.set(c.tid, `${this.prefix(c.tid, c.depth)}${this.shownName(c.function)}(${escapeText(argsText(c, this.nargs))})`);
    if (this.backtraces) {
      const bt = c.backtrace();
      this.suffix.set(c.tid, `  <- ${bt.frames.slice(1).map((f) => escapeText(f.source ? `${f.symbol} (${f.source})` : f.symbol)).join(' <- ')}${bt.reliable ? '' : ' (unreliable)'}`);
    }
  }

  exit(c: ExitContext): void {
    const outcome = c.unwound ? `unwound (${escapeText(String(c.reason))})` : returnText(c);
    const time = `<${formatDuration(c.durationNs)}>`;
    const head = this.pending.get(c.tid);
    if (head !== undefined) {
      this.pending.delete(c.tid);
      this.out.write(`${head} ${outcome ? escapeText(outcome) + ' ' : ''}${time}${this.takeSuffix(c.tid)}\n`);
    } else {
      this.out.write(`${this.prefix(c.tid, c.depth)}} ${outcome ? escapeText(outcome) + ' ' : ''}${time} /* ${escapeText(c.function)} */\n`);
    }
  }

  note(_obj: Record<string, unknown>, text: string): void {
    for (const tid of [...this.pending.keys()]) this.flushPending(tid);
    if (text) this.out.write(`rethook: ${escapeText(text)}\n`);
  }

  flush(): void {
    this.out.flush();
  }

  private flushPending(tid: number): void {
    const head = this.pending.get(tid);
    if (head === undefined) return;
    this.pending.delete(tid);
    this.out.write(`${head} {${this.takeSuffix(tid)}\n`);
  }

  private takeSuffix(tid: number): string {
    const s = this.suffix.get(tid) ?? '';
    this.suffix.delete(tid);
    return s;
  }
}
