// Return hooking proper, the engine's half of the kernel's rethook: at a
// hooked function's entry, nodes are taken and pushed and the return is
// hijacked; at the trampoline, the returning frame's nodes are popped and
// their exit handlers run; frames found dead end as unwound. The decisions
// about frames are ShadowStack's (rethook.ts); where return addresses live
// is the ReturnAbi's (arch/); this file applies them and runs the handlers.
import { returnAbi } from '../arch';
import { CallInfo, EntryAction, EntryContext, ExitContext, ExitInfo } from '../context';
import { RethookError } from '../errors';
import type { Hook } from '../hook';
import { RethookNode, ReturnMode, ShadowStack, UnwindReason } from '../rethook';
import { processDying } from '../tracee/dying';
import { hex } from '../tracee/memory';
import type { Proc, Site, ThreadState } from './traced';
import { typedCallAt } from './typed-call';
import { contextHost } from './context-host';
import { callHandler } from './handlers';
import { mirrorThread } from './guardian';
import { holdReturnSite, releaseNode, returnWatched } from './return-sites';
import type { Session } from './session';

const SIGTRAP = 5;

function callInfo(th: ThreadState, node: RethookNode): CallInfo {
  return {
    pid: th.proc.pid, tid: th.tid, fn: node.fnName, address: node.fnAddr, args: node.args,
    returnAddress: node.realRet, stackPointer: node.frame, depth: node.depth, inherited: node.inherited, entryTs: node.entryTs,
    typed: node.typed, goroutine: node.goroutine,
  };
}

/** A thread stopped on the breakpoint of `site` (a hooked function's first instruction). */
export function onEntry(s: Session, th: ThreadState, site: Site, addr: number): void {
  const proc = th.proc;
  if (proc.silent) return void s.step(th.tid, proc.pid, addr);
  if (site.internal && site.internal(th, addr) === 'hold') return;
  if (!site.hooks.length) return void s.step(th.tid, proc.pid, addr); // ours alone (r_brk, the unwinder, Go's morestack)
  const regs = s.regs;
  const sp = regs.sp;
  const tramp = proc.pages.trampoline;
  const ret = returnAbi.returnAddress(regs, proc.mem);
  if (ret === null) throw new RethookError(`cannot read the return address of ${site.fn?.name} at sp ${hex(sp)} in thread ${th.tid}`, 'EMEMORY');
  const mode: ReturnMode = site.returnAtSite ? 'site' : 'trampoline';
  // Go: calls are kept per goroutine (goroutines move between threads and
  // their stacks are copied as they grow, so stack pointers say nothing).
  const g = site.goroutines ? returnAbi.goroutine(regs) : 0n;
  const stack = site.goroutines ? goroutineStack(proc, g) : th.stack;
  const top = stack.top();
  if (site.goroutines && proc.growing.delete(g) && top && top.fnAddr === addr && top.realRet === ret) {
    // The same call entered again: the runtime grew the goroutine's stack
    // (runtime.morestack) and restarts the function on the new one.
    for (let i = stack.depth - 1; i >= 0 && stack.nodes[i].fnAddr === addr && stack.nodes[i].realRet === ret; i--) stack.nodes[i].frame = sp;
    return void s.step(th.tid, proc.pid, addr);
  }
  // Entered by a tail call from a hooked function: its return is that one's
  // (through the trampoline, or at the same return site from the same frame).
  const tailCall = ret === tramp || (top !== undefined && top.mode === 'site' && top.frame === sp && top.realRet === ret);
  for (const m of s.modes) m.reapDead(s, th, sp, ret);
  const taker = !site.goroutines && !tailCall ? s.modes.find((m) => m.takesFallback(th, site)) : undefined;
  if (taker) {
    // A fallback of a mode's hook: its call goes on that mode's stack (fast/fallback.ts).
    const dead = stack.reapAtEntry(sp, false, (n) => returnAbi.frameGone(proc.mem, n, tramp));
    if (dead.length) finishUnwound(s, th, dead, 'longjmp');
    if (s.status || taker.fallbackEntry(s, th, site, addr, sp, ret)) return;
  }
  if (!site.goroutines) {
    const dead = stack.reapAtEntry(sp, tailCall, (n) => returnAbi.frameGone(proc.mem, n, tramp));
    if (dead.length) finishUnwound(s, th, dead, 'longjmp');
    if (s.status) return;
  }
  const before = stack.depth;
  // The calls in flight on the modes' own stacks are under this one too (a goroutine's calls are its own).
  let below = 0;
  if (!site.goroutines) for (const m of s.modes) below += m.callsInFlight(proc, th.tid);
  const action = enterHooks(s, th, stack, site, addr, sp, ret, tailCall, mode, below);
  if (action === null) return; // a handler detached or killed: the thread is no longer ours
  const pushed = stack.depth > before;
  // The guardian learns of the calls before their returns are hijacked (session.ts: the mirror's order).
  if (pushed && s.guardian) mirrorThread(s.guardian, s.table, th.tid);
  // A call of ours returns through the trampoline or at its return site; if
  // neither can be set up, the call goes unhooked (as uprobes drops the
  // return instance when the hijack fails).
  if (action.kind !== 'skip' && pushed && !tailCall) {
    const caught = mode === 'site' ? holdReturnSite(s, proc, ret) : returnAbi.hijack(regs, proc.mem, tramp);
    // Its entry was delivered: if the program is being killed, the call stays
    // and ends with its thread (unwound), so no entry is left without its end.
    if (!caught && !processDying(proc.pid, th.tid)) giveBackSince(stack, before);
  }
  // The calls' clocks start as the thread is let go: what the tracer did to set up their returns is not their time.
  if (pushed && action.kind === 'continue') {
    const go = process.hrtime.bigint();
    const held = heldBy(s, th, go);
    for (let i = before; i < stack.depth; i++) {
      stack.nodes[i].entryNs = go;
      stack.nodes[i].heldAtEntry = held;
    }
  }
  if (action.kind === 'skip') {
    giveBackSince(stack, before); // the call never happens (its return was not set up)
    // Return to the caller at once; a caller entered by tail call returns through the trampoline.
    regs.retval = action.retval;
    regs.pc = ret;
    regs.sp = sp + returnAbi.returnPops;
    return void s.resume(th.tid, 0, true);
  }
  if (action.kind === 'redirect') {
    regs.pc = action.address;
    return void s.resume(th.tid, 0, true);
  }
  s.step(th.tid, proc.pid, addr);
}

/**
 * Take a node for each hook of the site and run its onEntry; push the kept
 * ones. Several hooks on one function share one hijacked return: every node
 * after the first is chained to it, as a tail call's is. Returns the action
 * the handlers asked for, or null when the session ended meanwhile.
 */
/** `below`: calls in flight under this one that `stack` does not hold (a mode's own stack: fast/fallback.ts), counted in its depth. */
export function enterHooks(s: Session, th: ThreadState, stack: ShadowStack, site: Site, addr: number, sp: number, ret: number, tailCall: boolean, mode: ReturnMode, below = 0): EntryAction | null {
  let chained = tailCall;
  let action: EntryAction = { kind: 'continue' };
  const ts = process.hrtime.bigint(); // the entry's timestamp, before any handler runs
  // The thread's stack, learnt once (/proc/PID/maps), before any call's clock starts: not timed in its first call.
  if (stack === th.stack && !stack.range) stack.range = th.proc.stackRange(th.tid === th.proc.pid ? -1 : sp);
  const goroutine = site.goroutines ? goroutineId(s, th.proc, site, returnAbi.goroutine(s.regs)) : undefined;
  for (const hook of site.hooks) {
    const outer = stack.top();
    if (chained && (!outer || outer.frame !== sp)) {
      // Our trampoline as a return address with no call of ours at this
      // frame cannot be resolved: let this call run unhooked.
      hook.pool.nmissed++;
      hook.countMissed(site.fn!.name, 'tail-call');
      continue;
    }
    const node = hook.pool.take(hook);
    if (!node) {
      hook.countMissed(site.fn!.name, 'max-active');
      continue;
    }
    node.frame = sp;
    node.realRet = chained ? outer!.realRet : ret;
    node.chained = chained;
    node.mode = chained ? outer!.mode : mode; // a chained node returns as its head does
    node.fnName = site.fn!.name;
    node.fnAddr = addr;
    node.depth = below + stack.depth;
    node.args = s.regs.args();
    node.typed = typedCallAt(s.nat, th.tid, site, hook, s.regs);
    node.entryTs = ts;
    node.goroutine = goroutine;
    let keep = true;
    const handler = hook.handlers.onEntry;
    if (handler) {
      const ctx = new EntryContext(contextHost(s, th), callInfo(th, node));
      s.current.call = [ctx.address, ctx.returnAddress];
      keep = callHandler(s, 'onEntry', node.fnName, handler, ctx) !== false;
      ctx._live = false;
      if (s.status) return null;
      node.data = ctx.data;
      if (action.kind === 'continue') action = ctx._action;
    }
    if (!keep || action.kind === 'skip') {
      hook.pool.give(node);
      if (action.kind === 'skip') break;
      continue;
    }
    node.entryNs = process.hrtime.bigint();
    node.heldAtEntry = heldBy(s, th, node.entryNs);
    stack.push(node);
    chained = true;
  }
  return action;
}

/** The thread's heldNs as it would be were it let go at `at` (the current stop's holding counted so far). */
function heldBy(s: Session, th: ThreadState, at: bigint): bigint {
  const taken = s.current.tid === th.tid && !s.current.resumed ? s.current.takenNs : 0n;
  return th.heldNs + (taken ? at - taken : 0n);
}

/**
 * A call's duration: from its clock's start to `now`, less the time the
 * tracer held its thread meanwhile (at the stops of the hooked calls nested
 * in it, signals...). Go's calls move between threads: theirs is as measured.
 */
function callNs(th: ThreadState, node: RethookNode, now: bigint): bigint {
  const d = now - node.entryNs;
  if (node.goroutine !== undefined) return d;
  const held = th.heldNs - node.heldAtEntry;
  return held > 0n && held < d ? d - held : d;
}

/** Where runtime.g keeps the goroutine's id (goid), per Go object, from its debug information; -1: not described. */
const goidOffsets = new WeakMap<object, number>();

/**
 * Go's id of the goroutine whose g is `g` (the goroutine register at a
 * function's entry): read from the g, where its debug information says the
 * runtime keeps it; without that (a binary built with -ldflags=-w), the g's
 * address, which stays the goroutine's while it lives.
 */
function goroutineId(s: Session, proc: Proc, site: Site, g: bigint): number {
  const mod = site.fn?.module;
  let off = -1;
  if (mod) {
    const known = goidOffsets.get(mod);
    if (known !== undefined) off = known;
    else {
      try {
        off = mod.path.startsWith('/') ? s.nat.debugMemberOffset(mod.path.replace(/ \(deleted\)$/, ''), 'runtime.g', 'goid') : -1;
      } catch {
        off = -1; // unreadable debug information is no reason to stop tracing
      }
      goidOffsets.set(mod, off);
    }
  }
  if (off >= 0) {
    const b = proc.mem.read(Number(g) + off, 8);
    if (b) return Number(b.readBigInt64LE(0));
  }
  return Number(g);
}

/** The shadow stack of a goroutine of a Go program (its `g`, as the goroutine register holds it). */
export function goroutineStack(proc: Proc, g: bigint): ShadowStack {
  let st = proc.goroutines.get(g);
  if (!st) proc.goroutines.set(g, (st = new ShadowStack()));
  return st;
}

/** The nodes pushed since the stack had `depth` nodes go back, before their return was set up. */
function giveBackSince(stack: ShadowStack, depth: number): void {
  while (stack.depth > depth) {
    const n = stack.nodes.pop()!;
    (n.owner as Hook).pool.give(n);
  }
}

/** A thread stopped on the trampoline: a hooked call returned. */
export function onReturn(s: Session, th: ThreadState): void {
  const regs = s.regs;
  const sp = regs.sp;
  for (const m of s.modes) m.reapDead(s, th, sp - returnAbi.returnPops - 1);
  const { unwound, returning } = th.stack.popReturn(sp - returnAbi.returnPops, (n) => n.mode === 'trampoline');
  if (unwound.length) finishUnwound(s, th, unwound, 'longjmp');
  if (s.status) return;
  if (returning.length === 0) {
    // No call of ours explains it: the program itself ran into our page (a
    // stray call or jump). It gets what executing a trap there gives it.
    return void s.resume(th.tid, SIGTRAP);
  }
  const realRet = returning[returning.length - 1].realRet;
  if (th.proc.silent) for (const n of returning) releaseNode(s, th.proc, n); // a vfork child we only keep safe
  else exitReturning(s, th, returning);
  if (s.status) return;
  returnAbi.resumeAt(regs, realRet);
  s.resume(th.tid, 0, true);
}

/** The exit handlers of the returning nodes (innermost first), then back to their pools. */
export function exitReturning(s: Session, th: ThreadState, returning: RethookNode[]): void {
  s.current.returnTo = returning[returning.length - 1].realRet; // where detaching from a handler sends the thread
  // The return's time is when its stop was taken: what the tracer does with it (cold code the first time) is not the call's.
  const now = s.current.takenNs || process.hrtime.bigint();
  for (const node of returning) {
    runExitHandler(s, th, node, { retval: s.regs.retval, durationNs: callNs(th, node, now), unwound: false, reason: null, timestampNs: now });
    releaseNode(s, th.proc, node);
  }
  s.current.returnTo = 0;
}

function runExitHandler(s: Session, th: ThreadState, node: RethookNode, exit: ExitInfo): void {
  const hook = node.owner as Hook;
  const handler = hook.handlers.onExit;
  if (!hook.live || !handler) return;
  const ctx = new ExitContext(contextHost(s, th), callInfo(th, node), exit);
  s.current.call = [ctx.address, ctx.returnAddress];
  ctx.data = node.data;
  callHandler(s, 'onExit', node.fnName, handler, ctx);
  ctx._live = false;
}

/** Nodes whose frames went away without returning: onExit with unwound, then back to the pool. */
export function finishUnwound(s: Session, th: ThreadState, nodes: RethookNode[], reason: UnwindReason): void {
  const now = process.hrtime.bigint();
  for (const node of nodes) {
    if (reason !== 'detach' && !s.status && !th.proc.silent) {
      // A frame found dead while an unwinder had our return addresses put back went with an exception.
      const why = reason === 'longjmp' && node.restored ? 'exception' : reason;
      runExitHandler(s, th, node, { retval: null, durationNs: callNs(th, node, now), unwound: true, reason: why, timestampNs: now });
    }
    releaseNode(s, th.proc, node);
  }
}

/** Go: every goroutine's calls in flight ended with the process (or its image). */
export function flushGoroutines(s: Session, th: ThreadState, reason: UnwindReason): void {
  for (const st of th.proc.goroutines.values()) {
    const nodes = st.drain();
    if (nodes.length) finishUnwound(s, th, nodes, reason);
  }
  th.proc.goroutines.clear();
}

/** Every call in flight on the thread ended without returning (thread exit, exec). */
export function flush(s: Session, th: ThreadState, reason: UnwindReason): void {
  const nodes = th.stack.drain();
  if (nodes.length) finishUnwound(s, th, nodes, reason);
}


/** A thread stopped on a return-site breakpoint: a call of its own may end here; then it goes on. */
export function onReturnSite(s: Session, th: ThreadState, addr: number): void {
  const proc = th.proc;
  if (!proc.silent) {
    const frame = s.regs.sp - returnAbi.returnPops;
    let { unwound, returning } = th.stack.popReturn(frame, (n) => n.mode === 'site' && n.realRet === addr);
    let why: UnwindReason = 'longjmp';
    if (!returning.length && proc.goroutines.size) {
      // A Go program: the goroutine's own calls, whichever thread runs it now (a panic unwinds).
      ({ unwound, returning } = goroutineStack(proc, returnAbi.goroutine(s.regs)).popByReturnAddress(addr));
      why = 'exception';
    }
    if (unwound.length) finishUnwound(s, th, unwound, why);
    if (s.status) return;
    if (returning.length) exitReturning(s, th, returning);
    if (s.status) return;
  }
  returnWatched(proc, th.tid, addr, s.regs.sp - returnAbi.returnPops);
  const site = proc.sites.get(addr);
  if (site) return onEntry(s, th, site, addr); // the instruction after the call is a hooked function's entry too
  s.step(th.tid, proc.pid, addr);
}
