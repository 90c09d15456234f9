// Trace viewers. Chrome's trace event format (Perfetto UI, chrome://tracing):
// one complete event ("ph":"X") per call on its process and thread track,
// process and thread names as metadata events, arguments and return values
// as event args (typed, by name: call-values.ts), unwound calls marked. A
// call is drawn from its entry's ts to its exit's (call-values.ts callStart):
// in fast mode its `dur` is its durationNs exactly (in µs, with ns as the
// fraction); in trap mode the span also holds the tracer's holding of the
// thread at its stops, which `args.durationNs` leaves out. Folded stacks (`a;b;c self-ns`) for
// flame graphs (flamegraph.pl, speedscope, inferno).
import * as path from 'path';
import type { Sink } from './format';
import { memoize } from '../memo';
import { escapeText } from '../symbols/text';
import { callStart, callValues } from './call-values';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import { callTime, EndInfo, RunInfo, View } from './view';

/** Per thread, the calls in flight (matched to their exits by depth and name). */
export class Stacks<T extends { depth: number; function: string }> {
  private readonly m = new Map<number, T[]>();
  push(tid: number, f: T): void {
    let st = this.m.get(tid);
    if (!st) this.m.set(tid, (st = []));
    while (st.length && st[st.length - 1].depth >= f.depth) st.pop();
    st.push(f);
  }
  /** The call this exit ends (popped), or null when its entry was never seen. */
  pop(tid: number, e: { depth: number; function: string }): T | null {
    const st = this.m.get(tid);
    if (!st) return null;
    while (st.length && st[st.length - 1].depth > e.depth) st.pop();
    const top = st[st.length - 1];
    if (!top || top.depth !== e.depth || top.function !== e.function) return null;
    return st.pop()!;
  }
  peek(tid: number): T[] {
    return this.m.get(tid) ?? [];
  }
  all(): [number, T[]][] {
    return [...this.m.entries()];
  }
}

const us = (ns: number) => Math.round(ns) / 1000;

export class ChromeView implements View {
  private readonly stacks = new Stacks<EntryEvent>();
  private readonly named = new Set<string>();
  private first = true;

  constructor(private readonly out: Sink, private readonly run: RunInfo) {
    this.out.write('{"traceEvents":[\n');
  }

  private emit(o: object): void {
    this.out.write((this.first ? '' : ',\n') + JSON.stringify(o));
    this.first = false;
  }

  private names(pid: number, tid: number): void {
    if (!this.named.has(`p${pid}`)) {
      this.named.add(`p${pid}`);
      const prog = pid === this.run.pid && this.run.command.length ? path.basename(this.run.command[0]) : 'process';
      this.emit({ name: 'process_name', ph: 'M', pid, tid: pid, args: { name: `${prog} ${pid}` } });
    }
    if (!this.named.has(`t${tid}`)) {
      this.named.add(`t${tid}`);
      this.emit({ name: 'thread_name', ph: 'M', pid, tid, args: { name: tid === pid ? `main thread ${tid}` : `thread ${tid}` } });
    }
  }

  entry(e: EntryEvent): void {
    this.names(e.pid, e.tid);
    this.stacks.push(e.tid, e);
  }

  private complete(name: string, pid: number, tid: number, start: number, durationNs: number, args: Record<string, unknown>, unwound: boolean): void {
    this.emit({ name, cat: unwound ? 'call,unwound' : 'call', ph: 'X', ts: us(start - this.run.startTs), dur: us(Math.max(0, durationNs)), pid, tid, args });
  }

  exit(e: ExitEvent): void {
    this.names(e.pid, e.tid);
    const entry = this.stacks.pop(e.tid, e);
    const args = callValues(entry, e);
    args.durationNs = e.durationNs;
    const start = callStart(e, entry);
    this.complete(e.function, e.pid, e.tid, start, e.ts - start, args, e.unwound);
  }

  note(e: NoteEvent): void {
    if ((e.type === 'fork' || e.type === 'exec' || e.type === 'process-exit') && typeof e.pid === 'number') {
      const ts = typeof e.ts === 'number' ? e.ts : null;
      if (ts !== null) this.emit({ name: e.type, ph: 'i', s: 'p', ts: us(ts - this.run.startTs), pid: e.pid, tid: e.pid, args: e });
    }
  }

  end(info: EndInfo): void {
    // Calls still in flight where the events end (a record cut short): closed at the last timestamp, marked.
    for (const [tid, st] of this.stacks.all()) {
      for (const c of st.reverse()) this.complete(c.function, c.pid, tid, c.ts, info.endTs - c.ts, { ...callValues(c, null), cut: true }, true);
    }
    this.out.write(`\n],"displayTimeUnit":"ns","otherData":${JSON.stringify({
      tool: 'rethook', command: this.run.command.join(' '), pid: this.run.pid, cut: info.cut, overheadNs: this.run.overheadNs,
    })}}\n`);
    this.out.flush();
  }
}

/** A name in a folded stack: escaped as the text output shows it, and no ';' (the separator). */
const foldedName = memoize((fn: string) => escapeText(fn).replace(/;/g, '_'));

/** Folded stacks: `outer;inner self-time-ns`, one line per distinct stack, for flame graphs. */
export class FoldedView implements View {
  private readonly stacks = new Stacks<{ depth: number; function: string; children: number; nested: number }>();
  private readonly weights = new Map<string, number>();
  constructor(private readonly out: Sink, private readonly overheadNs: number | null, private readonly nestedNs: number | null = null) {}
  entry(e: EntryEvent): void {
    this.stacks.push(e.tid, { depth: e.depth, function: e.function, children: 0, nested: 0 });
  }
  exit(e: ExitEvent): void {
    const f = this.stacks.pop(e.tid, e);
    const dur = callTime(e.durationNs, this.overheadNs, f?.nested ?? 0, this.nestedNs);
    const outer = this.stacks.peek(e.tid);
    const key = [...(f ? outer.map((o) => o.function) : []), e.function].map(foldedName).join(';');
    this.weights.set(key, (this.weights.get(key) ?? 0) + Math.max(0, dur - (f?.children ?? 0)));
    if (f && outer.length) {
      outer[outer.length - 1].children += dur;
      outer[outer.length - 1].nested += 1 + f.nested;
    }
  }
  note(): void {}
  end(): void {
    const lines = [...this.weights.entries()].filter(([, w]) => w > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.out.write(lines.map(([k, w]) => `${k} ${Math.round(w)}\n`).join(''));
    this.out.flush();
  }
}
