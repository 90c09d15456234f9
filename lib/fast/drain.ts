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
import type { Proc } from '../tracee/process';
import type { TypedCall } from '../types/model';
import { defaultSignature } from '../types/signatures';
import { fail } from '../engine/ending';
import { callHandler } from '../engine/return-hooks';
import type { Session } from '../engine/session';
import type { ThreadBlock } from './arena';
import type { FastProc, FastSite, PendingCall } from './fast-proc';

const L = fast.layout;
const NARGS = arch.args.length;
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
    const fp = proc.fast;
    if (!fp) continue;
    for (const b of [...fp.arena.blocks.values()]) {
      if (only?.tid !== undefined && b.tid !== only.tid) continue;
      n += drainBlock(s, fp, b);
      if (s.status) return n;
    }
    noteMissed(fp);
  }
  return n;
}

function drainBlock(s: Session, fp: FastProc, b: ThreadBlock): number {
  const a = fp.arena;
  const [first, head] = a.pending(b);
  let tail = first;
  while (tail < head && !s.status) {
    const lent = fp.lent.get(b.tid);
    if (!lent) deliver(s, fp, fp.proc.pid, b.tid, a.record(b, tail));
    else if (!lent.drop) deliver(s, fp, lent.pid, lent.pid, a.record(b, tail));
    tail++;
    if (tail % TAIL_EVERY === 0) a.consumed(b, tail);
  }
  a.consumed(b, tail);
  return tail - first;
}

/** Calls the recorder ran unhooked (maxActive reached) count as each hook's nmissed. */
function noteMissed(fp: FastProc): void {
  for (const [hook, pool] of fp.pools) {
    const now = fp.arena.poolMissed(pool);
    const seen = fp.missedSeen.get(hook) ?? 0;
    if (now > seen) {
      hook.pool.nmissed += now - seen;
      fp.missedSeen.set(hook, now);
    }
  }
}

function deliver(s: Session, fp: FastProc, pid: number, tid: number, off: number): void {
  const a = fp.arena;
  const h = a.halves;
  const kind = h[off / 4 + L.R_KIND / 4];
  const site = fp.sites[h[off / 4 + L.R_KIND / 4 + 1]];
  if (!site) return;
  const tscHi = h[(off + L.R_TSC) / 4 + 1], tscLo = h[(off + L.R_TSC) / 4];
  const sp = a.num(off + L.R_SP);
  let stack = fp.inFlight.get(tid);
  if (!stack) fp.inFlight.set(tid, (stack = []));
  if (kind === L.KIND_ENTRY) {
    const args: bigint[] = [];
    for (let i = 0; i < NARGS; i++) args.push(a.words[(off + L.R_REGS) / 8 + i]);
    const call: PendingCall = {
      site, sp, depth: a.num(off + L.R_DEPTH), entryTsc: [tscHi, tscLo], entryNs: fp.clock.ns(tscHi, tscLo),
      args, realRet: a.num(off + L.R_RET), data: new Map(), typed: new Map(), ctx: new Map(), pid,
    };
    stack.push(call);
    const fpWord = a.words[(off + L.R_FP) / 8];
    for (const hook of site.hooks) {
      call.typed.set(hook, typedCall(s, site, hook, fpWord));
      const handler = hook.handlers.onEntry;
      if (!hook.live || !handler) continue;
      const ctx = new EntryContext(fastHost(s, fp.proc, null), callInfo(fp, tid, call, hook));
      callHandler(s, 'onEntry', site.fn.name, () => handler(ctx as never));
      ctx._live = false;
      call.data.set(hook, ctx.data);
      if (s.status) return;
    }
    return;
  }
  // An exit or an unwound frame: the innermost call delivered on this thread, normally.
  let i = stack.length - 1;
  while (i >= 0 && !(stack[i].sp === sp && stack[i].site === site)) i--;
  if (i < 0) return; // its entry was not delivered (the thread was registered during the call)
  const call = stack.splice(i, 1)[0];
  const unwound = kind === L.KIND_UNWOUND;
  const retval = unwound ? 0n : a.words[(off + L.R_REGS) / 8];
  const fpRet = a.words[(off + L.R_FP) / 8];
  const exit = {
    retval,
    durationNs: fp.clock.between(call.entryTsc[0], call.entryTsc[1], tscHi, tscLo),
    unwound,
    reason: unwound ? ('longjmp' as const) : null,
    timestampNs: fp.clock.ns(tscHi, tscLo),
  };
  const second = a.words[(off + L.R_REGS) / 8 + 1];
  for (const hook of site.hooks) {
    const handler = hook.handlers.onExit;
    if (!hook.live || !handler) continue;
    const ctx = new ExitContext(fastHost(s, fp.proc, { fpRet, retval, second }), callInfo(fp, tid, call, hook), exit);
    ctx.data = call.data.get(hook);
    callHandler(s, 'onExit', site.fn.name, () => handler(ctx as never));
    ctx._live = false;
    if (s.status) return;
  }
}

/** Calls whose frames an exception or a longjmp removed (innermost first): unwound with `reason`. */
export function endCalls(s: Session, fp: FastProc, tid: number, dead: readonly { sp: number; site: number }[], reason: 'exception' | 'longjmp'): void {
  const stack = fp.inFlight.get(tid) ?? [];
  const now = process.hrtime.bigint();
  for (const d of dead) {
    const i = stack.findIndex((c) => c.sp === d.sp && c.site.index === d.site);
    if (i < 0) continue;
    const call = stack.splice(i, 1)[0];
    for (const hook of call.site.hooks) {
      const handler = hook.handlers.onExit;
      if (!hook.live || !handler || s.status) continue;
      const ctx = new ExitContext(fastHost(s, fp.proc, null), callInfo(fp, tid, call, hook), {
        retval: 0n, durationNs: now - call.entryNs, unwound: true, reason, timestampNs: now,
      });
      ctx.data = call.data.get(hook);
      callHandler(s, 'onExit', call.site.fn.name, () => handler(ctx as never));
      ctx._live = false;
    }
  }
}

/** Calls still in flight on a thread that is gone (or a process that execs): unwound with `reason`. */
export function endInFlight(s: Session, fp: FastProc, tid: number, reason: 'thread-exit' | 'exec'): void {
  const stack = fp.inFlight.get(tid);
  fp.inFlight.delete(tid);
  if (!stack) return;
  const now = process.hrtime.bigint();
  for (const call of stack.reverse()) {
    for (const hook of call.site.hooks) {
      const handler = hook.handlers.onExit;
      if (!hook.live || !handler || s.status) continue;
      const ctx = new ExitContext(fastHost(s, fp.proc, null), callInfo(fp, tid, call, hook), {
        retval: 0n, durationNs: now - call.entryNs, unwound: true, reason, timestampNs: now,
      });
      ctx.data = call.data.get(hook);
      callHandler(s, 'onExit', call.site.fn.name, () => handler(ctx as never));
      ctx._live = false;
    }
  }
}

function callInfo(fp: FastProc, tid: number, call: PendingCall, hook: Hook): CallInfo {
  return {
    pid: call.pid, tid, fn: call.site.fn.name, address: call.site.fn.address, args: call.args,
    returnAddress: call.realRet, stackPointer: call.sp, depth: call.depth, inherited: call.inherited ?? false, entryTs: call.entryNs,
    typed: call.typed.get(hook) ?? null,
  };
}

/** The call's signature, as trap mode finds it (the hook's spec, debug information, prototypes). */
const siteSignatures = new WeakMap<FastSite, ReturnType<typeof defaultSignature>>();
function typedCall(s: Session, site: FastSite, hook: Hook, fpWord: bigint): TypedCall | null {
  const sig = hook.signatureFor(site.fn, () => {
    let base = siteSignatures.get(site);
    if (base === undefined) siteSignatures.set(site, (base = defaultSignature(s.nat, site.fn)));
    return base;
  });
  if (!sig) return null;
  const fpRegs = Buffer.alloc(128);
  fpRegs.writeBigUInt64LE(fpWord, 0);
  return { sig, fp: fpRegs };
}

/**
 * What a fast-mode context can do: its values come from the record; memory
 * (a string argument's bytes) is read from the running process when the
 * handler runs. Changing the call, or reading the stack of a thread that is
 * no longer there, is not possible: those throw.
 */
function fastHost(s: Session, proc: Proc, exit: { fpRet: bigint; retval: bigint; second: bigint } | null): ContextHost {
  const no = (what: string) => (): never => {
    throw new RethookError(`${what} is not available in fast mode (the call has already happened): hook it with mode 'trap'`, 'EFASTMODE');
  };
  return {
    read: (addr, length) => proc.mem.read(addr, length),
    readMemory: no('readMemory'),
    readCString: no('readCString'),
    fpRegs: () => {
      if (!exit) return null;
      const b = Buffer.alloc(128);
      b.writeBigUInt64LE(exit.fpRet, 0);
      return b;
    },
    intRegs: () => (exit ? [exit.retval, exit.second] : []),
    setReturnValue: no('setReturnValue'),
    fpRetval: () => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(exit?.fpRet ?? 0n);
      return b.readDoubleLE(0);
    },
    setFpRetval: no('setFpReturnValue'),
    resolveFunction: no('redirect'),
    backtrace: no('backtrace'),
  };
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
    if (idle % 1000 === 1) for (const p of s.table.allProcesses()) p.fast?.clock.refine();
    if (n) setImmediate(tick);
    else setTimeout(tick, 1).unref();
  };
  setTimeout(tick, 1).unref();
}
const fastDrainers = new WeakSet<Session>();
