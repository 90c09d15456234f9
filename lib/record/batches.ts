// Tracer.batches: a hook's calls as CallBatches (lib/record/batch.ts), one
// thread's rows at a time in typed-array columns, through an async iterator:
// for consumers that count, sum or store calls in bulk (no object per call
// reaches them). A thread's batch is handed on when it is full, every
// flushMs, and at the end; valuesOf gives one row's typed values when a
// consumer wants them (rendered as replay renders them: record/events.ts).
//
// Where the rows come from:
//   - fast mode: the hook only records (write.ts recordingHandlers), so the
//     addon transcodes the rings straight into a record kept in memory
//     (fast/record-drain.ts), read back as it is written (live.ts) into the
//     columns, as live `trace -c` does: no context per call. Functions left in
//     trap mode (and any process whose calls also go to another hook) take the
//     writer's JS encoder, from their contexts, into the same record;
//   - trap mode: each call's context is copied into its thread's columns
//     (a trap-mode call stops the thread anyway; its values, read then, are
//     kept whole).
import type { EntryContext, ExitContext } from '../context';
import type { ExitStatus } from '../engine/session';
import type { Hook, HookHandlers } from '../hook';
import { arch } from '../native';
import { Clock } from '../fast/clock';
import { locateArgs } from '../types/abi';
import type { CType, Signature, TypedValue } from '../types/model';
import { monotonicNs, wallNs } from '../views/view';
import { CallBatch, Kind, SiteInfo, UNWIND_REASONS, UnwindReasonName } from './batch';
import { Attached, entryValues, exitValue } from './events';
import { LiveRecordReader } from './live';
import { recordingHandlers, RecordWriter } from './write';

export interface BatchesOptions {
  /** How calls are caught, as hook()'s (default 'trap'). */
  mode?: 'trap' | 'fast';
  /** As hook()'s. */
  maxActive?: number;
  returnMode?: HookHandlers['returnMode'];
  capture?: HookHandlers['capture'];
  args?: HookHandlers['args'];
  ret?: HookHandlers['ret'];
  prototypes?: HookHandlers['prototypes'];
  /** Rows a batch holds at most (default 4096). */
  rows?: number;
  /** A thread's rows wait at most this long before their batch is handed on (default 50 ms). */
  flushMs?: number;
}

/** One row's values, read by its site's signature: an entry's arguments, an exit's return value (null when not known). */
export interface RowValues {
  args: TypedValue[] | null;
  ret: TypedValue | null;
}

/** An async iterator of a hook's calls as batches, with the hook and the sites the rows name. */
export interface CallBatchStream extends AsyncIterableIterator<CallBatch> {
  readonly hook: Hook;
  /** By id (a row's `site`): the function, its process and address, its signature. Grows as functions are first called. */
  readonly sites: readonly SiteInfo[];
  /** The typed values of row `row` of `batch` (valid while the batch is: until the next step of the loop). */
  valuesOf(batch: CallBatch, row: number): RowValues;
}

// ---- one row's typed values ----

/**
 * Row `row`'s typed values, by its site's signature: from the row's `extra`
 * (`argv`, `ret`: trap mode's values, read at the call, when its words do not
 * hold them) when it carries them, else rendered from its words, its
 * floating-point word and the strings captured at the call, as replay renders
 * a record's (record/events.ts). UNWOUND rows have none. Shared with the
 * record reader: sites as the record's SITES give them.
 */
export function valuesOf(batch: CallBatch, row: number, sites: readonly SiteInfo[]): RowValues {
  const site = sites[batch.site[row]];
  const att = batch.attached.get(row) as Attached | undefined;
  const kind = batch.kind[row];
  if (kind === Kind.Entry) {
    const argv = att?.extra?.argv;
    if (argv !== undefined) return { args: argv as TypedValue[], ret: null };
    if (!site?.signature) return { args: null, ret: null };
    const at = batch.argsAt[row];
    return { args: entryValues(batch, row, site, Array.from(batch.args.subarray(at, at + site.args)), att), ret: null };
  }
  if (kind === Kind.Exit) {
    const ret = att?.extra?.ret;
    if (ret !== undefined) return { args: null, ret: ret as TypedValue };
    return { args: null, ret: site ? exitValue(batch, row, site, batch.retval[row]) : null };
  }
  return { args: null, ret: null };
}

// ---- trap mode's rows: which values travel in the words ----

/** A type read from one integer register alone (no memory): the writer's "plain" scalars. */
function inRegister(t: CType): boolean {
  return (t.k === 'int' || t.k === 'ptr' || t.k === 'bool' || t.k === 'enum') && t.s <= 8;
}
const isCString = (t: CType) => t.k === 'ptr' && !!t.to && t.to.k === 'int' && !!t.to.c && /\bchar$/.test(t.to.n);

/** How a site's values travel: in the words (and strings), or as typed values in the row's `extra`. */
interface Plan {
  /** Arguments from the words: each parameter in one integer register, of a plain type or a C string. */
  argsInWords: boolean;
  /** The C string parameters (by index) and their registers: their bytes ride in `attached.strings`. */
  strings: { param: number; reg: number }[];
  /** The return value from the return word. */
  retInWord: boolean;
}

const plans = new WeakMap<Signature, Plan>();
function planOf(sig: Signature): Plan {
  let p = plans.get(sig);
  if (!p) {
    const locs = locateArgs(sig);
    const strings: { param: number; reg: number }[] = [];
    let argsInWords = !sig.variadic;
    sig.params.forEach((param, i) => {
      const part = locs[i]?.length === 1 ? locs[i][0] : null;
      if (!part || part.src !== 'int' || !inRegister(param.type)) argsInWords = false;
      else if (isCString(param.type)) strings.push({ param: i, reg: part.reg });
    });
    const retInWord = sig.ret === null || sig.ret.k === 'void' || (inRegister(sig.ret) && !isCString(sig.ret));
    plans.set(sig, (p = { argsInWords, strings, retInWord }));
  }
  return p;
}

// ---- columns, per thread ----

function emptyBatch(pid: number, tid: number, rows: number, words: number): CallBatch {
  return {
    pid, tid, length: 0,
    kind: new Uint8Array(rows), site: new Uint32Array(rows), ts: new Float64Array(rows), depth: new Uint32Array(rows),
    reason: new Uint8Array(rows), retval: new BigUint64Array(rows), argsAt: new Uint32Array(rows),
    args: new BigUint64Array(words), fpWord: new BigUint64Array(rows), held: new Float64Array(rows), attached: new Map(),
  };
}

/** Where each thread's rows collect, and the batches waiting for the consumer. */
class Collector {
  private readonly open = new Map<number, { b: CallBatch; words: number }>();
  /** Batches the consumer gave back (the step after it got them): their columns are used again. */
  private readonly spare: CallBatch[] = [];
  readonly ready: CallBatch[] = [];
  readonly sites: SiteInfo[] = [];
  private readonly siteIds = new Map<number, Map<number, number>>();
  constructor(private readonly rows: number, private readonly onReady: () => void) {}

  siteOf(c: EntryContext | ExitContext): SiteInfo {
    let byAddress = this.siteIds.get(c.pid);
    if (!byAddress) this.siteIds.set(c.pid, (byAddress = new Map()));
    const id = byAddress.get(c.address);
    if (id !== undefined) return this.sites[id];
    const sig = c.signature;
    const site: SiteInfo = {
      id: this.sites.length, pid: c.pid, function: c.function, address: BigInt(c.address), module: '',
      args: c.args.length, ret: sig?.ret?.k !== 'void', fp: false, signature: sig,
    };
    byAddress.set(c.address, site.id);
    this.sites.push(site);
    return site;
  }

  /** Thread `tid`'s batch being filled, and its argument words used (a new one if none). */
  private filling(pid: number, tid: number): { b: CallBatch; w: number } {
    let f = this.open.get(tid);
    if (!f) {
      const b = this.spare.pop() ?? emptyBatch(pid, tid, this.rows, this.rows * 8);
      b.pid = pid;
      b.tid = tid;
      b.length = 0;
      b.attached = new Map();
      this.open.set(tid, (f = { b, words: 0 }));
    }
    return { b: f.b, w: f.words };
  }

  private used(tid: number, words: number): void {
    this.open.get(tid)!.words += words;
  }

  /** The next row of thread `tid`'s batch (handing the batch on first if it is full). */
  private row(pid: number, tid: number, words: number): { b: CallBatch; r: number; w: number } {
    let f = this.filling(pid, tid);
    if (f.b.length === this.rows || f.w + words > f.b.args.length) {
      this.flush(tid);
      f = this.filling(pid, tid);
    }
    const r = f.b.length++;
    this.used(tid, words);
    return { b: f.b, r, w: f.w };
  }

  entry(c: EntryContext): void {
    const site = this.siteOf(c);
    const args = c.args;
    const { b, r, w } = this.row(c.pid, c.tid, site.args);
    b.kind[r] = Kind.Entry;
    b.site[r] = site.id;
    b.ts[r] = Number(c.timestampNs);
    b.depth[r] = c.depth;
    b.reason[r] = 0;
    b.held![r] = 0;
    b.retval[r] = 0n;
    b.fpWord[r] = 0n;
    b.argsAt[r] = w;
    for (let i = 0; i < site.args; i++) b.args[w + i] = BigInt.asUintN(64, args[i] ?? 0n);
    const sig = site.signature as Signature | null;
    if (!sig) return;
    const plan = planOf(sig);
    if (!plan.argsInWords) b.attached.set(r, { extra: { argv: c.values } });
    else if (plan.strings.length) {
      // The strings as read at the call (or, in fast mode, as captured): their bytes, with the NUL when read whole.
      const strings = new Map<number, Buffer>();
      const values = c.values ?? [];
      for (const { param, reg } of plan.strings) {
        const v = values[param];
        if (v && typeof v.value === 'string' && !v.error) strings.set(reg, Buffer.from(v.truncated ? v.value : v.value + '\0', 'utf8'));
      }
      if (strings.size) b.attached.set(r, { strings });
    }
  }

  exit(c: ExitContext): void {
    const site = this.siteOf(c);
    const { b, r } = this.row(c.pid, c.tid, 0);
    b.kind[r] = c.unwound ? Kind.Unwound : Kind.Exit;
    b.site[r] = site.id;
    b.ts[r] = Number(c.timestampNs);
    b.depth[r] = c.depth;
    b.reason[r] = c.unwound ? Math.max(0, UNWIND_REASONS.indexOf((c.reason ?? 'other') as UnwindReasonName)) : 0;
    // What the tracer held the thread for during the call, as a record's HELD.
    b.held![r] = Number(c.timestampNs - c.entryTimestampNs - c.durationNs);
    b.retval[r] = c.retval === null ? 0n : BigInt.asUintN(64, c.retval);
    b.fpWord[r] = 0n;
    b.argsAt[r] = 0;
    const sig = site.signature as Signature | null;
    if (!c.unwound && sig?.ret && !planOf(sig).retInWord) b.attached.set(r, { extra: { ret: c.returnValue } });
  }

  /** Hands thread `tid`'s rows on (or every thread's). */
  flush(tid?: number): void {
    const tids = tid === undefined ? [...this.open.keys()] : [tid];
    for (const t of tids) {
      const f = this.open.get(t);
      if (!f) continue;
      this.open.delete(t);
      if (f.b.length) this.ready.push(f.b);
      else this.spare.push(f.b);
    }
    if (this.ready.length) this.onReady();
  }

  /**
   * The rows of a batch the record reader decoded (its columns are reused
   * after this): copied into its thread's batches, in bulk, column by column.
   */
  append(src: CallBatch): void {
    let from = 0;
    while (from < src.length) {
      const { b, w } = this.filling(src.pid, src.tid);
      const at = b.length;
      const n = Math.min(src.length - from, this.rows - at), end = from + n;
      // The decoder's argsAt is every row's start (its words follow its entry's): words of rows [from, end).
      const w0 = src.argsAt[from];
      const words = (end < src.length ? src.argsAt[end] : src.argsAt[end - 1] + (src.kind[end - 1] === Kind.Entry ? this.sites[src.site[end - 1]].args : 0)) - w0;
      if (w + words > b.args.length) {
        // Never while a row carries at most 8 words (a site's argument registers): a batch has room for 8 a row.
        if (at === 0) throw new Error(`batches: ${words} argument words for ${n} rows`);
        this.flush(src.tid);
        continue;
      }
      b.kind.set(src.kind.subarray(from, end), at);
      b.site.set(src.site.subarray(from, end), at);
      b.ts.set(src.ts.subarray(from, end), at);
      b.depth.set(src.depth.subarray(from, end), at);
      b.reason.set(src.reason.subarray(from, end), at);
      if (src.held) b.held!.set(src.held.subarray(from, end), at);
      else b.held!.fill(0, at, at + n);
      b.retval.set(src.retval.subarray(from, end), at);
      b.fpWord.set(src.fpWord.subarray(from, end), at);
      b.args.set(src.args.subarray(w0, w0 + words), w);
      const shift = w - w0;
      for (let i = 0; i < n; i++) b.argsAt[at + i] = src.argsAt[from + i] + shift;
      if (src.attached.size) for (const [r, a] of src.attached) if (r >= from && r < end) b.attached.set(at + r - from, a);
      b.length = at + n;
      this.used(src.tid, words);
      if (b.length === this.rows) this.flush(src.tid);
      from = end;
    }
  }

  giveBack(b: CallBatch): void {
    if (this.spare.length < 8) this.spare.push(b);
  }
}

/**
 * Fast mode's feed: a record written in memory by the hook's recording
 * handlers (the rings transcoded into it by the addon), decoded buffer by
 * buffer into `collector`'s columns.
 */
function recordFeed(collector: Collector): { handlers: Pick<HookHandlers, 'onEntry' | 'onExit'>; writer: RecordWriter } {
  const reader = new LiveRecordReader({
    sites: (added) => {
      for (const s of added) collector.sites.push(s);
    },
    calls: (b) => collector.append(b),
  });
  // The header is not read back (live.ts skips it): it says what the record is, as `trace -c`'s does.
  const writer = new RecordWriter(reader.take, {
    command: [], pid: 0, attached: false, arch: process.arch, startTs: monotonicNs(), startWallNs: wallNs(), overheadNs: null,
    mode: 'fast', patterns: [], modules: [], cwd: process.cwd(), tool: 'rethook batches', fallbacks: [],
    clock: { source: process.arch === 'arm64' ? 'cntvct' : 'tsc', nsPerTick: Clock.shared().factors[3] },
  });
  return { handlers: recordingHandlers(writer, { backtrace: false, argRegs: arch.args.length, moduleOf: () => '' }), writer };
}

/**
 * Batches are queued as threads fill them (handlers are synchronous: the
 * program is not slowed down to the consumer's pace, so the queue grows if it
 * lags). The first next() lets the program run (run()) if nothing has yet;
 * the stream ends when the program has (after every thread's last rows), or
 * throws what run() rejects with. Leaving the loop early (break) unhooks.
 */
export function batchStream(hookFn: (handlers: HookHandlers) => Hook, run: () => Promise<ExitStatus>, options: BatchesOptions): CallBatchStream {
  const rows = options.rows ?? 4096;
  if (!Number.isInteger(rows) || rows < 1 || rows > 1 << 24) throw new TypeError(`batches: rows must be a whole number from 1 to 16777216, not ${String(options.rows)}`);
  const flushMs = options.flushMs ?? 50;
  if (!(flushMs > 0)) throw new TypeError(`batches: flushMs must be a positive number of milliseconds, not ${String(options.flushMs)}`);
  let waiter: (() => void) | null = null;
  const wake = () => {
    const w = waiter;
    waiter = null;
    w?.();
  };
  const collector = new Collector(rows, wake);
  const record = options.mode === 'fast' ? recordFeed(collector) : null;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let started = false;
  let handedOut: CallBatch | null = null;
  let timer: NodeJS.Timeout | null = null;
  const hook = hookFn({
    mode: options.mode, maxActive: options.maxActive, returnMode: options.returnMode, capture: options.capture,
    args: options.args, ret: options.ret, prototypes: options.prototypes,
    ...(record ? record.handlers : { onEntry: (ctx: EntryContext) => collector.entry(ctx), onExit: (ctx: ExitContext) => collector.exit(ctx) }),
  } as HookHandlers);
  /** Every thread's rows handed on (the record's first: what its buffer holds is decoded into them). */
  const flushAll = () => {
    record?.writer.flush();
    collector.flush();
  };
  const finish = () => {
    if (timer) clearInterval(timer);
    timer = null;
    flushAll();
    ended = true;
    wake();
  };
  const start = () => {
    if (started) return;
    started = true;
    timer = setInterval(flushAll, flushMs);
    timer.unref();
    run().then(finish, (error) => {
      if (!ended) failure = { error };
      finish();
    });
  };
  const stream: CallBatchStream = {
    hook,
    sites: collector.sites,
    valuesOf: (batch, row) => valuesOf(batch, row, collector.sites),
    async next(): Promise<IteratorResult<CallBatch>> {
      start();
      if (handedOut) collector.giveBack(handedOut);
      handedOut = null;
      for (;;) {
        if (collector.ready.length) return { value: (handedOut = collector.ready.shift()!), done: false };
        if (failure) {
          const e = failure.error;
          failure = null;
          throw e;
        }
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((r) => (waiter = r));
      }
    },
    async return(): Promise<IteratorResult<CallBatch>> {
      if (!ended) {
        ended = true;
        hook.unhook();
      }
      if (timer) clearInterval(timer);
      timer = null;
      collector.ready.length = 0;
      wake();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return stream;
}
