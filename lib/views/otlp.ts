// `--otlp URL`: each call as an OpenTelemetry span, sent by OtlpExporter.
// The parent of a span is the enclosing hooked call on the same thread. A
// trace is one outermost call and what it called: each call that begins with
// no hooked call in flight on its thread starts a trace (a trace per process
// would be one unreadable trace of millions of spans). Typed arguments and
// the return value are attributes, as the JSON view renders them (argv, ret);
// a call that did not return has status ERROR and rethook.unwound.reason.
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { EntryEvent, ExitEvent } from '../events';
import { EndInfo, RunInfo, View } from './view';
import { AttributeValue, exportLine, OtlpExporter, SpanRecord, tracesUrl } from './otlp-export';
import { commandOf, exeOf } from '../symbols/procfs';

interface Typed {
  name?: string;
  type?: string;
  value?: unknown;
  error?: string;
  truncated?: boolean;
}

interface Open {
  depth: number;
  function: string;
  traceId: string;
  spanId: string;
  parentId: string;
  ts: number;
  attributes: Record<string, AttributeValue>;
}

/** A typed value as an attribute: numbers, strings and booleans as they are, anything else as its JSON. */
function attributeOf(v: Typed): AttributeValue {
  const x = v.value;
  let a: AttributeValue = typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean' ? x : JSON.stringify(x ?? null);
  if (v.error) a = `${String(a)} <${v.error}>`;
  return a;
}

/** The attributes of a call's arguments: rethook.arg.NAME (or .N) per typed argument, else the raw registers. */
function argAttributes(e: EntryEvent, into: Record<string, AttributeValue>): void {
  const argv = (e as unknown as { argv?: Typed[] }).argv;
  if (!argv) {
    into['rethook.args'] = e.args;
    return;
  }
  argv.forEach((v, i) => {
    const key = `rethook.arg.${v.name || i}`;
    into[key] = attributeOf(v);
    if (v.type) into[`${key}.type`] = v.type;
    if (v.truncated) into[`${key}.truncated`] = true;
  });
}

export class OtlpView implements View {
  private readonly exporter: OtlpExporter;
  private readonly stacks = new Map<number, Open[]>();
  /** Ids: a random prefix per run and a counter (unique, never zero, no syscall per call). */
  private readonly prefix = randomBytes(8).toString('hex');
  private next = 1;
  /** Wall clock of run.startTs, as [s, ns]: each ts is placed by its distance from startTs (exact to the ns). */
  private readonly base: [number, number];
  private finished: Promise<void> | null = null;

  /** `live`: the processes are running here (their command lines are read from /proc; host.name is this host's). */
  constructor(url: string, private readonly run: RunInfo, version: string, private readonly live: boolean) {
    this.exporter = new OtlpExporter(tracesUrl(url), (pid) => this.resourceOf(pid), version);
    const wall = run.startWallNs || Date.now() * 1e6;
    this.base = [Math.floor(wall / 1e9), Math.round(wall % 1e9)];
  }

  private resourceOf(pid: number): Record<string, AttributeValue> {
    const first = pid === this.run.pid && this.run.command.length > 0;
    const command = first ? this.run.command : this.live ? commandOf(pid) : [];
    const exe = first ? this.run.command[0] : this.live ? exeOf(pid) || command[0] || '' : '';
    const r: Record<string, AttributeValue> = { 'service.name': 'rethook', 'process.pid': pid };
    // A record replayed: made on a host that may not be this one, and its processes are gone.
    if (this.live) r['host.name'] = os.hostname();
    if (exe) r['process.executable.name'] = path.basename(exe);
    if (command.length) {
      r['process.command_line'] = command.join(' ');
      r['process.command_args'] = command;
    }
    return r;
  }

  private id(hexDigits: 16 | 32): string {
    const n = (this.next++).toString(16).padStart(16, '0');
    return hexDigits === 16 ? n : this.prefix + n;
  }

  private wall(ts: number): [number, number] {
    const ns = this.base[1] + (ts - this.run.startTs);
    const s = Math.floor(ns / 1e9);
    return [this.base[0] + s, ns - s * 1e9];
  }

  entry(e: EntryEvent): void {
    let st = this.stacks.get(e.tid);
    if (!st) this.stacks.set(e.tid, (st = []));
    while (st.length && st[st.length - 1].depth >= e.depth) st.pop(); // entries whose exits were never seen
    const parent = st[st.length - 1];
    const attributes: Record<string, AttributeValue> = { 'thread.id': e.tid, 'code.function.name': e.function, 'rethook.depth': e.depth };
    if (e.goroutine !== undefined) attributes['rethook.goroutine'] = e.goroutine;
    argAttributes(e, attributes);
    st.push({ depth: e.depth, function: e.function, traceId: parent ? parent.traceId : this.id(32), spanId: this.id(16), parentId: parent ? parent.spanId : '', ts: e.ts, attributes });
  }

  exit(e: ExitEvent): void {
    const st = this.stacks.get(e.tid) ?? [];
    while (st.length && st[st.length - 1].depth > e.depth) st.pop();
    const top = st[st.length - 1];
    let open: Open;
    if (top && top.depth === e.depth && top.function === e.function) open = st.pop()!;
    else {
      // Its entry was not seen (inherited by a fork, or began before an attach): a span of its own trace, timed from its duration.
      open = { depth: e.depth, function: e.function, traceId: this.id(32), spanId: this.id(16), parentId: '', ts: e.ts - e.durationNs,
        attributes: { 'thread.id': e.tid, 'code.function.name': e.function, 'rethook.depth': e.depth, 'rethook.inherited': true } };
    }
    const a = open.attributes;
    a['rethook.duration_ns'] = e.durationNs;
    const ret = (e as unknown as { ret?: Typed }).ret;
    if (e.unwound) {
      a['rethook.unwound'] = true;
      a['rethook.unwound.reason'] = e.reason ?? 'unknown';
    } else if (ret) {
      if (ret.type !== 'void') a['rethook.return'] = attributeOf(ret);
      if (ret.type) a['rethook.return.type'] = ret.type;
    } else if (e.retval !== null) a['rethook.retval'] = e.retval;
    const span: SpanRecord = {
      traceId: open.traceId, spanId: open.spanId, parentId: open.parentId, name: e.function,
      start: this.wall(open.ts), end: this.wall(open.ts + e.durationNs), attributes: a,
      error: e.unwound ? `unwound: ${e.reason ?? 'unknown'}` : null, pid: e.pid,
    };
    this.exporter.add(span);
  }

  note(): void {}

  end(_info: EndInfo): void {
    this.finished ??= this.exporter.finish().then((totals) => {
      const line = exportLine(this.exporter.url, totals);
      if (line) process.stderr.write(line + '\n');
    });
  }

  /** Resolves once the last spans went out (or FINAL_MS ran out) and the line about failures, if any, was said. */
  settled(): Promise<void> {
    return this.finished ?? Promise.resolve();
  }
}
