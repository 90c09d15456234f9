// Return sites: the second way of catching a return, for code that must
// never see a rewritten return address (functions that return twice, code
// that reads its own return address, Go's stack walker). The call's return
// address is left alone; a breakpoint at that address (the instruction after
// the call) catches the return. Every thread passes that breakpoint as it
// passes any of ours (the displaced instruction runs emulated or out of
// line); only the thread and frame that made the call end it there.
import type { Hook } from '../hook';
import type { RethookNode } from '../rethook';
import type { Proc, ThreadState } from './traced';
import { bytesUnder, guardBreakpoint, unguardBreakpoint } from './guardian';
import { slotFor } from './slots';
import type { Session } from './session';

/**
 * Functions whose return is caught at its site in 'auto' mode: they return
 * twice (the saved context holds the return address), look at their caller
 * (dlsym(RTLD_NEXT), dlopen's $ORIGIN, dladdr), or are the unwinder's
 * entries (it walks the stack from their return address: rethook's own
 * handler puts the real addresses back there, and a user hook must not undo it).
 */
const RETURN_AT_SITE = new Set([
  'setjmp', '_setjmp', '__setjmp', 'sigsetjmp', '__sigsetjmp', 'getcontext', '__getcontext', 'savectx',
  'vfork', '__vfork', '__libc_vfork', 'dlsym', 'dlvsym', 'dlopen', 'dlmopen', 'dladdr', 'dladdr1',
  '__libc_dlopen_mode', '__libc_dlsym', '_Unwind_RaiseException', '_Unwind_Resume', '_Unwind_Resume_or_Rethrow',
  '_Unwind_ForcedUnwind', '_Unwind_Backtrace',
]);

/** Whether `hook`'s calls of the function named `name` (in a Go program or not) return at their site. */
export function wantsReturnSite(hook: Hook, name: string, rawName: string, goProgram: boolean): boolean {
  const mode = hook.handlers.returnMode ?? 'auto';
  if (mode !== 'auto') return mode === 'site';
  return goProgram || RETURN_AT_SITE.has(name) || RETURN_AT_SITE.has(rawName);
}

/** One more call returns at `addr`: plant a breakpoint there unless one is. False when it cannot be planted. */
export function holdReturnSite(s: Session, proc: Proc, addr: number): boolean {
  const n = proc.returnSites.get(addr) ?? 0;
  if (n === 0 && !proc.sites.has(addr)) {
    const plan = s.nat.planBreakpoint(proc.pid, addr);
    if (plan.kind === 'refused') return false;
    try {
      const slot = plan.needsSlot ? slotFor(s, proc, addr, `the return site ${addr.toString(16)}`) : 0;
      const original = bytesUnder(proc, addr);
      s.nat.setBreakpoint(proc.pid, addr, slot);
      guardBreakpoint(s.guardian, proc, addr, original);
    } catch {
      return false;
    }
    proc.removed.delete(addr);
  }
  proc.returnSites.set(addr, n + 1);
  return true;
}

/** A call that returns at `addr` ended: the last one takes the breakpoint away (unless an entry needs it). */
export function releaseReturnSite(s: Session, proc: Proc, addr: number): void {
  const n = proc.returnSites.get(addr) ?? 0;
  if (n > 1) return void proc.returnSites.set(addr, n - 1);
  proc.returnSites.delete(addr);
  if (n === 1 && !proc.sites.has(addr) && !proc.sharesMemory) {
    s.nat.removeBreakpoint(proc.pid, addr);
    unguardBreakpoint(s.guardian, proc, addr);
    proc.removed.add(addr);
  }
}

/** A node goes back to its pool; one caught at its return site lets go of it. */
export function releaseNode(s: Session, proc: Proc, n: RethookNode): void {
  if (n.mode === 'site' && !n.chained) releaseReturnSite(s, proc, n.realRet);
  (n.owner as Hook).pool.give(n);
}

/** Per process and thread: a return the engine itself waits for at a return site (its address and frame), and what then. */
const watched = new WeakMap<Proc, Map<number, { addr: number; frame: number; then: () => void }>>();

/** When thread `tid` returns to `addr` (held as a return site) from `frame`, run `then` (once). */
export function watchReturn(proc: Proc, tid: number, addr: number, frame: number, then: () => void): void {
  let m = watched.get(proc);
  if (!m) watched.set(proc, (m = new Map()));
  m.set(tid, { addr, frame, then });
}

/** A thread at the return site `addr`, its frame `frame`: the return it was watched for, if it is that. */
export function returnWatched(proc: Proc, tid: number, addr: number, frame: number): void {
  const m = watched.get(proc);
  const w = m?.get(tid);
  if (!w || w.addr !== addr || w.frame !== frame) return;
  m!.delete(tid);
  w.then();
}
