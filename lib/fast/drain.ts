// Delivering what the recorder wrote: each thread's ring is read in order,
// and each record becomes the handlers' call, as in trap mode but shortly
// after the fact, in batches. An entry's handlers run first and keep their
// ctx.data; the exit (or unwound) record of the same call gets it back. A
// thread's records are always delivered before any ptrace stop of that
// thread is handled (an exit, an exec, a fork), so the order is kept.
import { CallInfo, ContextHost, EntryContext, ExitContext } from '../context';
import { RethookError } from '../errors';
import type { Hook } from '../hook';
import { arch, fast } from '../native';
import type { Proc } from '../engine/traced';
import type { TypedCall } from '../types/model';
import type { UnwindReason } from '../rethook';
import { argsNeedFp } from '../types/values';
import { defaultSignature } from '../types/signatures';
import { fail } from '../engine/ending';
import { callHandler } from '../engine/handlers';
import type { Session } from '../engine/session';
import type { FastArena, ThreadBlock } from './arena';
import type { FastProc, FastSite, PendingCall } from './fast-proc';
import { fastOf } from './fast-proc';
import { drainToRecord, recordEnds, recordOnlyWriter } from './record-drain';

const L = fast.layout;
const NARGS = arch.args.length;
// The record's fields, as plain constants: the loop below reads them per record.
const { KIND_ENTRY, KIND_UNWOUND, KIND_STRING, R_TSC, R_SP, R_RET, R_REGS, R_FP, R_DEPTH, STRING_MAX } = L;
/** Deeper than any node stack: a record that says so was written over. */
const MAX_DEPTH = 1 << 20;
/** Records between two stores of the ring's tail (a waiting thread goes on sooner). */
const TAIL_EVERY = 256;

/** Deliver every record waiting in every process (or only `proc`'s, or only one thread's). Returns how many. */
export function drainFast(s: Session, only?: { proc: Proc; tid?: number }): number {
  // A handler may detach (which drains first) or hook: records being delivered are not delivered again.
  if (delivering.has(s)) return 0;
  delivering.add(s);
  try {
    return drainAll(s, only);
  } finally {
    delivering.delete(s);
  }
}
const delivering = new WeakSet<Session>();

function drainAll(s: Session, only?: { proc: Proc; tid?: number }): number {
  let n = 0;
  for (const proc of only ? [only.proc] : s.table.allProcesses()) {
    const fp = fastOf(proc);
    if (!fp) continue;
    // Hooks that only record: the rings go into the record with no object per call.
    const w = recordOnlyWriter(s, fp);
    for (const b of [...fp.arena.blocks.values()]) {
      if (only?.tid !== undefined && b.tid !== only.tid) continue;
      n += w ? drainToRecord(fp, b, w, (tid, what) => damaged(fp, tid, what)) : drainBlock(s, fp, b);
      if (s.status) return n;
    }
    if (only?.tid === undefined) noteMissed(fp); // a stop's own drain leaves the counters to the next full one (or the thread's end)
  }
  return n;
}

function drainBlock(s: Session, fp: FastProc, b: ThreadBlock): number {
  const a = fp.arena;
  const ring = a.pending(b);
  if (!ring) {
    // The program wrote over its ring's head or tail: what is in it is lost.
    a.resync(b);
    damaged(fp, b.tid, 'its ring\'s head and tail make no ring');
    return 0;
  }
  const [first, head] = ring;
  let tail = first;
  let stored = first;
  // A vfork child's records on its parent's block are its own (or dropped when it is not followed).
  const lent = fp.lent.get(b.tid);
  if (lent?.drop) tail = head;
  const pid = lent ? lent.pid : fp.proc.pid;
  const tid = lent ? lent.pid : b.tid;
  let stack = fp.inFlight.get(tid);
  if (!stack) fp.inFlight.set(tid, (stack = []));
  const halves = a.halves;
  while (tail < head && !s.status) {
    const off = a.record(b, tail++);
    // The STRING records after an ENTRY are its captured strings.
    let strings: Map<bigint, Buffer> | undefined;
    for (let o = a.record(b, tail); tail < head && halves[o / 4] === KIND_STRING; o = a.record(b, ++tail)) {
      const len = Math.min(a.num(o + R_RET), STRING_MAX);
      (strings ??= new Map()).set(a.words[(o + R_SP) / 8], Buffer.from(a.memory.slice(o + R_REGS, o + R_REGS + len)));
    }
    deliver(s, fp, pid, tid, stack, off, strings);
    if (tail - stored >= TAIL_EVERY) a.consumed(b, (stored = tail));
  }
  a.consumed(b, tail);
  return tail - first;
}

/**
 * The program wrote over its arena (its own memory, so it may): the damaged
 * part is dropped, and each hook of the process says so once per thread and
 * counts what was dropped (FastProc.damaged).
 */
export function damaged(fp: FastProc, tid: number, what: string): void {
  const n = fp.damaged.get(tid) ?? 0;
  fp.damaged.set(tid, n + 1);
  if (n) return;
  const hooks = new Set<Hook>();
  for (const site of fp.sites) for (const h of site.hooks) hooks.add(h);
  for (const h of hooks) h.warnings.push(`fast mode: process ${fp.proc.pid} damaged its own arena (thread ${tid}: ${what}); records dropped`);
}

/**
 * Calls the recorder ran unhooked count in each hook's nmissed, with why: a
 * pool counts those past its maxActive; the arena counts the others (a full
 * node stack, a thread with no block, a signal handler re-entering the
 * recorder or a tail call it could not match), which go to every hook of
 * the process (each would have had them).
 */
export function noteMissed(fp: FastProc): void {
  const a = fp.arena;
  const c = a.counters();
  const depth = delta(fp, 'depth', a.missedDepth());
  const noThread = delta(fp, 'no-thread', c.missedNoThread);
  const reentered = delta(fp, 'reentered', c.missedBusy);
  for (const [hook, pool] of fp.pools) {
    const maxActive = delta(fp, hook, a.poolMissed(pool));
    hook.pool.nmissed += maxActive + depth + noThread + reentered;
    hook.countMissedWhy('max-active', maxActive);
    hook.countMissedWhy('depth', depth);
    hook.countMissedWhy('no-thread', noThread);
    hook.countMissedWhy('reentered', reentered);
  }
}

/** How much a counter grew since it was last looked at. */
function delta(fp: FastProc, counter: Hook | string, now: number): number {
  const seen = fp.missedSeen.get(counter) ?? 0;
  if (now <= seen) return 0;
  fp.missedSeen.set(counter, now);
  return now - seen;
}

function deliver(s: Session, fp: FastProc, pid: number, tid: number, stack: PendingCall[], off: number, strings?: Map<bigint, Buffer>): void {
  const a = fp.arena;
  const h = a.halves;
  const q = off / 4;
  const kind = h[q];
  const site = fp.sites[h[q + 1]];
  if (!site || kind < KIND_ENTRY || kind > KIND_UNWOUND) return damaged(fp, tid, `a record names no site or kind`);
  const tscHi = h[q + R_TSC / 4 + 1], tscLo = h[q + R_TSC / 4];
  const sp = h[q + R_SP / 4 + 1] * 0x100000000 + h[q + R_SP / 4];
  const regs = (off + R_REGS) / 8;
  if (kind === KIND_ENTRY) {
    const hooks = site.hooks;
    const depth = a.num(off + R_DEPTH);
    if (depth > MAX_DEPTH) return damaged(fp, tid, `an entry record's depth is ${depth}`);
    const call: PendingCall = {
      site, hooks, sp, depth, tscHi, tscLo, clock: fp.clock,
      argHalves: copyArgs(h, regs * 2), args: null, realRet: a.num(off + R_RET), data: null, typed: null, pid, strings, info: null,
    };
    stack.push(call);
    for (let k = 0; k < hooks.length; k++) {
      const hook = hooks[k];
      const typed = typedCall(s, site, hook, a, (off + R_FP) / 8);
      if (typed) (call.typed ??= new Array(hooks.length).fill(null))[k] = typed;
      const handler = hook.handlers.onEntry;
      if (!hook.live || !handler) continue;
      const ctx = new EntryContext(new FastHost(fp.proc, strings), callInfo(tid, call, k));
      callHandler(s, 'onEntry', site.fn.name, handler as (c: EntryContext) => unknown, ctx);
      ctx._live = false;
      if (ctx.data !== undefined) (call.data ??= new Array(hooks.length))[k] = ctx.data;
      if (s.status) return;
    }
    return;
  }
  // An exit or an unwound frame: the innermost call delivered on this thread, normally.
  let i = stack.length - 1;
  while (i >= 0 && !(stack[i].sp === sp && stack[i].site === site)) i--;
  if (i < 0) return; // its entry was not delivered (the thread was registered during the call)
  const call = i === stack.length - 1 ? stack.pop()! : stack.splice(i, 1)[0];
  const unwound = kind === KIND_UNWOUND;
  // Found gone by the recorder while an unwinder had its real return address back: an exception removed it.
  const reason = unwound ? (fp.unwinding.get(tid)?.some((n) => n.frame === sp && n.restored) ? 'exception' : 'longjmp') : null;
  let host: FastHost | null = null;
  for (let k = 0; k < call.hooks.length; k++) {
    const hook = call.hooks[k];
    const handler = hook.handlers.onExit;
    if (!hook.live || !handler) continue;
    // The exit record's registers are read from the ring when asked for: its slot is not reused while the handlers run.
    host ??= new FastHost(fp.proc, call.strings, unwound ? null : a, regs, (off + R_FP) / 8);
    const ctx = new ExitContext(host, callInfo(tid, call, k), {
      retval: unwound ? null : a.words[regs],
      durationNs: fp.clock.between(call.tscHi, call.tscLo, tscHi, tscLo),
      unwound,
      reason,
      timestampNs: () => fp.clock.ns(tscHi, tscLo),
    });
    ctx.data = call.data?.[k];
    callHandler(s, 'onExit', site.fn.name, handler as (c: ExitContext) => unknown, ctx);
    ctx._live = false;
    if (s.status) return;
  }
}

/** Calls whose frames an exception or a longjmp removed (innermost first): unwound with `reason`. */
export function endCalls(s: Session, fp: FastProc, tid: number, dead: readonly { sp: number; site: number; depth?: number }[], reason: 'exception' | 'longjmp'): void {
  const w = recordOnlyWriter(s, fp);
  if (w) return recordEnds(fp, w, tid, dead, reason);
  const stack = fp.inFlight.get(tid) ?? [];
  for (const d of dead) {
    const i = stack.findIndex((c) => c.sp === d.sp && c.site.index === d.site);
    if (i >= 0) endCall(s, fp, tid, stack.splice(i, 1)[0], reason);
  }
}

/** Calls that returned while the thread was stopped at the recorder's trap (innermost first): their exits, with `retval`. */
export function returnCalls(s: Session, fp: FastProc, tid: number, nodes: readonly { sp: number; site: number; depth?: number }[], retval: bigint): void {
  const w = recordOnlyWriter(s, fp);
  if (w) return recordEnds(fp, w, tid, nodes, null, retval);
  const stack = fp.inFlight.get(tid) ?? [];
  for (const n of nodes) {
    const i = stack.findIndex((c) => c.sp === n.sp && c.site.index === n.site);
    if (i >= 0) endCall(s, fp, tid, stack.splice(i, 1)[0], null, retval);
  }
}

/** Calls still in flight on a thread that is gone (or a process that execs): unwound with `reason`. */
export function endInFlight(s: Session, fp: FastProc, tid: number, reason: 'thread-exit' | 'exec'): void {
  const w = recordOnlyWriter(s, fp);
  if (w) {
    // No calls kept here: the thread's node stack is what is open (its block, before it is dropped).
    const b = fp.arena.blocks.get(tid);
    if (b && !fp.lent.has(tid)) recordEnds(fp, w, tid, fp.arena.nodes(b).reverse(), reason);
    fp.inFlight.delete(tid);
    return;
  }
  const stack = fp.inFlight.get(tid);
  fp.inFlight.delete(tid);
  if (stack) for (const call of stack.reverse()) endCall(s, fp, tid, call, reason);
}

/** A call's end seen by the tracer itself, now: unwound (`reason`), or returned with `retval`. */
function endCall(s: Session, fp: FastProc, tid: number, call: PendingCall, reason: UnwindReason | null, retval: bigint | null = null): void {
  const now = process.hrtime.bigint();
  const host = new FastHost(fp.proc, call.strings);
  for (let k = 0; k < call.hooks.length; k++) {
    const hook = call.hooks[k];
    const handler = hook.handlers.onExit;
    if (!hook.live || !handler || s.status) continue;
    const ctx = new ExitContext(host, callInfo(tid, call, k), { retval, durationNs: now - entryNsOf(call), unwound: reason !== null, reason, timestampNs: now });
    ctx.data = call.data?.[k];
    callHandler(s, 'onExit', call.site.fn.name, handler as (c: ExitContext) => unknown, ctx);
    ctx._live = false;
  }
}

function entryNsOf(call: PendingCall): bigint {
  return call.clock.ns(call.tscHi, call.tscLo);
}

/**
 * The 8 argument words of a record (16 halves: x86-64's 6 registers and the
 * words after them, or arm64's 8), copied at the entry. A literal: a packed
 * array made in one step, the cheapest copy V8 has (this runs per call).
 */
function copyArgs(h: Uint32Array, r: number): number[] {
  return [h[r], h[r + 1], h[r + 2], h[r + 3], h[r + 4], h[r + 5], h[r + 6], h[r + 7], h[r + 8], h[r + 9], h[r + 10], h[r + 11], h[r + 12], h[r + 13], h[r + 14], h[r + 15]];
}

function argsOf(halves: number[]): bigint[] {
  const out: bigint[] = new Array(NARGS);
  for (let i = 0; i < out.length; i++) out[i] = (BigInt(halves[2 * i + 1]) << 32n) | BigInt(halves[2 * i]);
  return out;
}

/** What the contexts of a call say about it: made once per call (for its first hook), shared by its entry and exit contexts. */
function callInfo(tid: number, call: PendingCall, k: number): CallInfo {
  const info = (call.info ??= <CallInfo>{
    pid: call.pid, tid, fn: call.site.fn.name, address: call.site.fn.address, args: () => (call.args ??= argsOf(call.argHalves)),
    returnAddress: call.realRet, stackPointer: call.sp, depth: call.depth, inherited: call.inherited ?? false, entryTs: () => entryNsOf(call),
    typed: call.typed?.[0] ?? null,
  });
  return k === 0 ? (info as CallInfo) : { ...(info as CallInfo), typed: call.typed?.[k] ?? null };
}

/** The call's signature, as trap mode finds it (the hook's spec, debug information, prototypes): looked up once per site and hook. */
function typedCall(s: Session, site: FastSite, hook: Hook, a: FastArena, fpWord: number): TypedCall | null {
  let sig = site.sigs.get(hook);
  if (sig === undefined) {
    sig = hook.signatureFor(site.fn, () => defaultSignature(s.nat, site.fn));
    site.sigs.set(hook, sig);
  }
  if (!sig) return null;
  if (!argsNeedFp(sig)) return { sig };
  const fpRegs = Buffer.alloc(128);
  fpRegs.writeBigUInt64LE(a.words[fpWord], 0); // the first floating-point argument (xmm0 / d0): what the record holds
  return { sig, fp: fpRegs };
}

const no = (what: string): never => {
  throw new RethookError(`${what} is not available in fast mode (the call has already happened): hook it with mode 'trap'`, 'EFASTMODE');
};

/**
 * What a fast-mode context can do: its values come from the record (a
 * string copied at the call included); other memory is read from the
 * running process when the handler runs. Changing the call, or reading the
 * stack of a thread that is no longer there, is not possible: those throw.
 */
class FastHost implements ContextHost {
  private reader: ((addr: number | bigint, length: number) => Buffer | null) | null = null;

  /** `arena`, `regs`, `fp`: where an exit record's registers are (null arena: not an exit, or unwound). */
  constructor(
    private readonly proc: Proc,
    private readonly strings: Map<bigint, Buffer> | undefined,
    private readonly arena: FastArena | null = null,
    private readonly regs = 0,
    private readonly fp = 0,
  ) {}

  // A bound function: the value readers take it as a plain one. Made when first asked for.
  get read(): (addr: number | bigint, length: number) => Buffer | null {
    return (this.reader ??= (addr, length) => this.readAt(addr, length));
  }

  private readAt(addr: number | bigint, length: number): Buffer | null {
    if (this.strings) {
      const at = BigInt(addr);
      for (const [p, bytes] of this.strings) {
        if (at === p && bytes.length === 0) return null;
        if (at >= p && at < p + BigInt(bytes.length)) return bytes.subarray(Number(at - p), Number(at - p) + length);
      }
    }
    return this.proc.mem.read(addr, length);
  }

  fpRegs(): Buffer | null {
    if (!this.arena) return null;
    const b = Buffer.alloc(128);
    b.writeBigUInt64LE(this.arena.words[this.fp], 0);
    return b;
  }

  intRegs(): readonly bigint[] {
    return this.arena ? [this.arena.words[this.regs], this.arena.words[this.regs + 1]] : [];
  }

  fpRetval(): number {
    return this.arena ? new Float64Array(this.arena.memory, this.fp * 8, 1)[0] : 0;
  }

  readMemory(): Buffer {
    return no('readMemory');
  }

  readCString(): string {
    return no('readCString');
  }

  setReturnValue(): void {
    no('setReturnValue');
  }

  setFpRetval(): void {
    no('setFpReturnValue');
  }

  resolveFunction(): { address: number; size: number } {
    return no('redirect');
  }

  backtrace(): never {
    return no('backtrace');
  }
}

/** The drain loop: every millisecond while idle, at once again while records keep coming. */
export function startDraining(s: Session): void {
  if (fastDrainers.has(s)) return;
  fastDrainers.add(s);
  let idle = 0;
  const tick = () => {
    if (s.status) return void fastDrainers.delete(s);
    let n = 0;
    if (!s.draining && !s.detaching) {
      try {
        n = drainFast(s);
      } catch (e) {
        fail(s, e instanceof Error ? e : new Error(String(e)));
      }
    }
    if (n) idle = 0;
    else idle++;
    if (idle % 1000 === 1) for (const p of s.table.allProcesses()) fastOf(p)?.clock.refine();
    // While records flow, look again at once (a few empty looks too: a thread
    // that waited for room runs again soon); idle, every millisecond.
    if (idle < 64) setImmediate(tick);
    else setTimeout(tick, 1).unref();
  };
  setTimeout(tick, 1).unref();
}
const fastDrainers = new WeakSet<Session>();
