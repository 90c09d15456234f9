// Fast mode's fallbacks share the recorder's node stack. A function fast mode
// could not patch keeps a breakpoint (trap mode) at its entry, but its call
// is pushed on the thread's node stack in the arena, as the recorder pushes
// a patched function's, and its return is hijacked to the recorder's return,
// not to trap mode's trampoline: so a thread has one stack of calls whichever
// way each was caught, and the recorder alone decides their order, tail-call
// chaining and unwinding (a fast function tail-jumping into a fallback that
// tail-jumps into another fast one is one frame with three calls returning
// once, innermost first). The entry's handlers run at the stop as in trap
// mode; the exit comes as a fast one does, in the thread's ring.
import { recordOnlyWriter } from './record-drain';
import { returnAbi } from '../arch';
import type { Hook } from '../hook';
import { fast } from '../native';
import { ShadowStack } from '../rethook';
import type { Site, ThreadState } from '../engine/traced';
import type { Session } from '../engine/session';
import { enterHooks } from '../engine/return-hooks';
import type { FastProc, FastSite, PendingCall } from './fast-proc';
import { fastOf } from './fast-proc';
import { MAX_SITES } from './arena';

/** Whether a trap-mode entry of `site` goes on the arena's node stack (the process has fast mode, the hooks asked for it). */
export function sharesFastStack(th: ThreadState, site: Site): boolean {
  return fastOf(th.proc) !== null && !site.returnAtSite && !site.goroutines
    && site.hooks.length > 0 && site.hooks.every((h) => h.handlers.mode === 'fast');
}

/** The site a fallback's calls are recorded under (its nodes and records name it): made on its first call. */
function proxySite(fp: FastProc, site: Site): FastSite | null {
  const fn = site.fn!;
  let p = fp.fallbacks.get(fn.address);
  if (!p) {
    if (fp.sites.length >= MAX_SITES) return null;
    p = { index: fp.sites.length, fn, hooks: site.hooks, at: fn.address, original: Buffer.alloc(0), stub: 0, patched: false, capture: 0, sigs: new Map(), fallback: true };
    fp.sites.push(p);
    fp.fallbacks.set(fn.address, p);
  }
  // A new array when the hooks changed (calls in flight keep theirs), and the first one's pool.
  if (p.hooks.length !== site.hooks.length || p.hooks.some((h, i) => h !== site.hooks[i])) p.hooks = [...site.hooks];
  fp.arena.setSite(p.index, fp.poolOf(p.hooks[0]), 0);
  return p;
}

/**
 * A thread stopped at the entry breakpoint of a fallback `site` (address
 * `addr`), its return address `ret`. Returns false when the call cannot go
 * on the arena's stack (the thread has no block yet): trap mode takes it.
 */
export function fallbackEntry(s: Session, th: ThreadState, site: Site, addr: number, sp: number, ret: number): boolean {
  const fp = fastOf(th.proc)!;
  const b = fp.arena.blocks.get(th.tid) ?? fp.registerThread(s, th.tid);
  if (!b) return false;
  const p = proxySite(fp, site);
  if (!p) return false;
  const raw = fp.arena.nodes(b);
  const top = raw[raw.length - 1];
  // Entered by a tail jump from a call on the arena's stack (fast or another
  // fallback): it returns with that call, and its return is not hijacked again.
  const tail = ret === fp.recorderReturn;
  const regs = s.regs;
  if (tail && (!top || top.sp !== sp)) {
    for (const h of site.hooks) {
      h.pool.nmissed++;
      h.countMissed(site.fn!.name, 'tail-call');
    }
    return void s.step(th.tid, th.proc.pid, addr), true;
  }
  // The handlers run on nodes of their own, given back once copied into the pending call.
  const scratch = new ShadowStack();
  // Its depth is the arena's: the calls in flight on the thread's one stack.
  const action = enterHooks(s, th, scratch, site, addr, sp, ret, false, 'trampoline', raw.length);
  if (action === null) return true;
  const kept = scratch.drain().reverse();
  const call: PendingCall | null = kept.length ? {
    site: p, hooks: kept.map((n) => n.owner as Hook), data: kept.map((n) => n.data), typed: kept.map((n) => n.typed),
    sp, depth: raw.length, tscHi: 0, tscLo: 0, clock: fp.clock, argHalves: halvesOf(kept[0].args), args: kept[0].args,
    realRet: tail ? top.ret : ret, pid: th.proc.pid, info: null,
  } : null;
  for (const n of kept) (n.owner as Hook).pool.give(n);
  if (action.kind === 'skip') {
    regs.retval = action.retval;
    regs.pc = ret; // a tail-called one returns through the recorder, with its caller
    regs.sp = sp + returnAbi.returnPops;
    return s.resume(th.tid, 0, true), true;
  }
  if (call) {
    const tsc = fast.clock()[0];
    call.tscHi = Number(tsc >> 32n);
    call.tscLo = Number(tsc & 0xffffffffn);
    const pushed = fp.arena.pushCall(b, { sp, ret: call.realRet, site: p.index, tsc });
    if (pushed === 'ok' && !tail && !returnAbi.hijack(regs, th.proc.mem, fp.recorderReturn)) fp.arena.popNodes(b, raw.length);
    else if (pushed === 'ok' && !recordOnlyWriter(s, fp)) { // (a record-only process keeps no calls: its node stack is what is open)
      let stack = fp.inFlight.get(th.tid);
      if (!stack) fp.inFlight.set(th.tid, (stack = []));
      stack.push(call);
    } // else the arena counted it (max-active, depth), as the recorder does
  }
  if (action.kind === 'redirect') {
    regs.pc = action.address;
    return s.resume(th.tid, 0, true), true;
  }
  s.step(th.tid, th.proc.pid, addr);
  return true;
}

function halvesOf(args: readonly bigint[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const v = BigInt.asUintN(64, args[i] ?? 0n);
    out.push(Number(v & 0xffffffffn), Number(v >> 32n));
  }
  return out;
}
