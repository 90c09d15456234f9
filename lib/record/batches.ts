// Tracer.batches: a hook's calls as CallBatches (lib/record/batch.ts), one
// thread's rows at a time in typed-array columns, through an async iterator:
// for consumers that count, sum or store calls in bulk (no object per call
// reaches them). Built for now over the per-call handlers: each call's
// context is copied into its thread's columns, and a thread's batch is handed
// on when it is full, every flushMs, and at the end. valuesOf gives one row's
// typed values when a consumer wants them.
import type { EntryContext, ExitContext } from '../context';
import type { ExitStatus } from '../engine/session';
import type { Hook, HookHandlers } from '../hook';
import { locateArgs } from '../types/abi';
import type { CType, Signature, TypedValue } from '../types/model';
import { CallRegisters, readArgs, readReturn } from '../types/values';
import { CallBatch, Kind, SiteInfo, UNWIND_REASONS, UnwindReasonName } from './batch';

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

// ---- one row's typed values, from the columns ----

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

/**
 * Row `row`'s typed values, by its site's signature: from the row's `extra`
 * (`argv`, `ret`) when it carries them, else read from its words and the
 * strings attached to it. UNWOUND rows have none. Shared with the record
 * reader: sites as the record's SITES give them.
 */
export function valuesOf(batch: CallBatch, row: number, sites: readonly SiteInfo[]): RowValues {
  const site = sites[batch.site[row]];
  const sig = (site?.signature ?? null) as Signature | null;
  const att = batch.attached.get(row);
  const kind = batch.kind[row];
  if (kind === Kind.Entry) {
    const argv = att?.extra?.argv;
    if (argv !== undefined) return { args: argv as TypedValue[], ret: null };
    if (!sig) return { args: null, ret: null };
    const at = batch.argsAt[row];
    const words = Array.from(batch.args.subarray(at, at + site.args));
    const strings = att?.strings;
    const read = (addr: number | bigint, len: number): Buffer | null => {
      if (!strings) return null;
      const a = BigInt(addr);
      for (const [reg, bytes] of strings) {
        const start = words[reg];
        if (start !== undefined && a >= start && a < start + BigInt(bytes.length)) {
          const off = Number(a - start);
          return bytes.subarray(off, off + len);
        }
      }
      return null;
    };
    const regs: CallRegisters = { ints: words, fp: () => null, sp: 0, read };
    return { args: readArgs(sig, regs), ret: null };
  }
  if (kind === Kind.Exit) {
    const ret = att?.extra?.ret;
    if (ret !== undefined) return { args: null, ret: ret as TypedValue };
    if (!sig?.ret) return { args: null, ret: null };
    const regs: CallRegisters = { ints: [batch.retval[row]], fp: () => null, sp: 0, read: () => null };
    return { args: null, ret: readReturn(sig.ret, regs) };
  }
  return { args: null, ret: null };
}

// ---- columns, per thread ----

function emptyBatch(pid: number, tid: number, rows: number, words: number): CallBatch {
  return {
    pid, tid, length: 0,
    kind: new Uint8Array(rows), site: new Uint32Array(rows), ts: new Float64Array(rows), depth: new Uint32Array(rows),
    reason: new Uint8Array(rows), retval: new BigUint64Array(rows), argsAt: new Uint32Array(rows),
    args: new BigUint64Array(words), fpWord: new BigUint64Array(rows), attached: new Map(),
  };
}

/** Where each thread's rows collect, and the batches waiting for the consumer. */
class Collector {
  private readonly filling = new Map<number, { b: CallBatch; words: number }>();
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

  /** The next row of thread `tid`'s batch (handing the batch on first if it is full). */
  private row(pid: number, tid: number, words: number): { b: CallBatch; r: number; w: number } {
    let f = this.filling.get(tid);
    if (f && (f.b.length === this.rows || f.words + words > f.b.args.length)) {
      this.flush(tid);
      f = undefined;
    }
    if (!f) {
      const reuse = this.spare.pop();
      const b = reuse ?? emptyBatch(pid, tid, this.rows, this.rows * 8);
      b.pid = pid;
      b.tid = tid;
      b.length = 0;
      b.attached = new Map();
      this.filling.set(tid, (f = { b, words: 0 }));
    }
    const r = f.b.length++;
    const w = f.words;
    f.words += words;
    return { b: f.b, r, w };
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
    b.retval[r] = c.retval === null ? 0n : BigInt.asUintN(64, c.retval);
    b.fpWord[r] = 0n;
    b.argsAt[r] = 0;
    const sig = site.signature as Signature | null;
    if (!c.unwound && sig?.ret && !planOf(sig).retInWord) b.attached.set(r, { extra: { ret: c.returnValue } });
  }

  /** Hands thread `tid`'s rows on (or every thread's). */
  flush(tid?: number): void {
    const tids = tid === undefined ? [...this.filling.keys()] : [tid];
    for (const t of tids) {
      const f = this.filling.get(t);
      if (!f) continue;
      this.filling.delete(t);
      if (f.b.length) this.ready.push(f.b);
      else this.spare.push(f.b);
    }
    if (this.ready.length) this.onReady();
  }

  giveBack(b: CallBatch): void {
    if (this.spare.length < 8) this.spare.push(b);
  }
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
  let ended = false;
  let failure: { error: unknown } | null = null;
  let started = false;
  let handedOut: CallBatch | null = null;
  let timer: NodeJS.Timeout | null = null;
  const hook = hookFn({
    mode: options.mode, maxActive: options.maxActive, returnMode: options.returnMode, capture: options.capture,
    args: options.args, ret: options.ret, prototypes: options.prototypes,
    onEntry: (ctx) => collector.entry(ctx),
    onExit: (ctx) => collector.exit(ctx),
  } as HookHandlers);
  const finish = () => {
    if (timer) clearInterval(timer);
    timer = null;
    collector.flush();
    ended = true;
    wake();
  };
  const start = () => {
    if (started) return;
    started = true;
    timer = setInterval(() => collector.flush(), flushMs);
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
