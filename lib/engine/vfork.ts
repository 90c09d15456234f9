// A vfork child (vfork, posix_spawn, clone with CLONE_VM|CLONE_VFORK) shares
// its parent's memory until it execs or exits; the forking thread is blocked
// meanwhile and stops at PTRACE_EVENT_VFORK_DONE, before running any code of
// its own, once the child no longer shares it. That stop is the exact cut
// between the child's part of the shared memory and the parent's again.
//
// A child we do not follow is let go at its first stop, as it would run
// untraced (so it may be traced by its parent: PTRACE_TRACEME, gdb), as gdb
// does it: the parent's other threads are held stopped, and every breakpoint
// of ours is taken out of the shared memory, until the vfork is done; then
// they are planted again and the threads go on. Fast mode's patches stay:
// they trap nowhere, and what the child records on its parent's block is
// dropped at the cut (lib/fast/fork.ts).
import type { Proc, ThreadState } from './traced';
import { StopKind } from '../native';
import type { Session } from './session';

/** An unfollowed vfork child, from the vfork event to the parent's vfork-done stop. */
interface VforkRelease {
  parent: Proc;
  /** The forking thread. */
  tid: number;
  child: Proc;
  /** The parent's other threads asked to stop (PTRACE_INTERRUPT), not stopped yet. */
  stopping: Set<number>;
  /** Those stopped and held. */
  held: Set<number>;
  /** The signal the child's first stop carries (-1: not stopped yet). */
  childSig: number;
  /** The child was let go (or is gone). */
  released: boolean;
  /** Our breakpoints are out of the shared memory. */
  breakpointsOut: boolean;
  /**
   * Where the forking thread's innermost hijacked call returns (0: none).
   * vfork itself hooked by the trampoline keeps the return address it pops
   * in a register (glibc: rdi; arm64: x30): the child's copy of it gets the
   * real one, as the child runs untraced.
   */
  realRet: number;
}

/**
 * How long the parent's other threads may take to stop before the child is
 * let go anyway (a thread in uninterruptible sleep stops late; the child must
 * not wait for it, as untraced it would not): calls such a thread makes
 * meanwhile run unhooked.
 */
const HOLD_WAIT_MS = 200;

const releases = new WeakMap<Session, Map<number, VforkRelease>>(); // by the parent's pid

function releasesOf(s: Session): Map<number, VforkRelease> {
  let m = releases.get(s);
  if (!m) releases.set(s, (m = new Map()));
  return m;
}

/**
 * The vfork event of a child we do not follow: the child is kept at its
 * first stop until every other thread of the parent is held; then our
 * breakpoints come out and the child goes, untraced.
 */
export function releaseVforkChild(s: Session, parent: ThreadState, child: number): void {
  const proc = parent.proc;
  for (const m of s.modes) m.vforkChildReleased(s, parent, child);
  const cp = s.table.addProcess(child);
  cp.silent = true;
  cp.sharesMemory = true;
  s.table.addThread(cp, child);
  const top = parent.stack.top();
  const realRet = top && top.mode === 'trampoline' ? top.realRet : 0;
  const r: VforkRelease = { parent: proc, tid: parent.tid, child: cp, stopping: new Set(), held: new Set(), childSig: -1, released: false, breakpointsOut: false, realRet };
  releasesOf(s).set(proc.pid, r);
  for (const tid of proc.threads.keys()) {
    if (tid === parent.tid) continue;
    if (s.nat.interrupt(tid)) r.stopping.add(tid);
  }
  if (!r.stopping.size) return;
  setTimeout(() => {
    if (s.status || r.released) return;
    r.stopping.clear(); // their interrupt stops come as ordinary ones
    tryRelease(s, r);
  }, HOLD_WAIT_MS).unref();
}

/**
 * A stop that belongs to an unfollowed vfork: the child's first stop, or
 * the interrupt stop of a parent's thread to hold. True when it was taken.
 */
export function vforkStop(s: Session, th: ThreadState, kind: StopKind, sig: number): boolean {
  const m = releases.get(s);
  if (!m?.size) return false;
  const proc = th.proc;
  const mine = m.get(proc.pid);
  if (mine && mine.stopping.has(th.tid)) {
    if (kind === StopKind.Exited || kind === StopKind.Killed) {
      mine.stopping.delete(th.tid);
      tryRelease(s, mine);
      return false;
    }
    if (kind !== StopKind.Interrupt) return false; // another stop first: handled, the interrupt comes next
    mine.stopping.delete(th.tid);
    mine.held.add(th.tid);
    s.current.resumed = true; // held on purpose
    tryRelease(s, mine);
    return true;
  }
  for (const r of m.values()) {
    if (r.child !== proc) continue;
    if (kind === StopKind.Exited || kind === StopKind.Killed) {
      // Gone before it ran: nothing of ours to take out.
      s.table.dropProcess(proc);
      s.endIfAllGone();
      r.released = true;
      r.childSig = 0;
      return true;
    }
    if (r.childSig >= 0) return false;
    r.childSig = kind === StopKind.Signal ? sig : 0;
    s.current.resumed = true; // kept until the parent's threads are held
    tryRelease(s, r);
    return true;
  }
  return false;
}

/** A thread cloned by the parent while its threads are being held: it is held too. */
export function vforkCloned(s: Session, proc: Proc, tid: number): void {
  const r = releases.get(s)?.get(proc.pid);
  if (r && !r.released) r.stopping.add(tid);
}

function tryRelease(s: Session, r: VforkRelease): void {
  if (r.released || r.stopping.size || r.childSig < 0) return;
  r.released = true;
  s.nat.restoreBreakpoints(r.parent.pid, r.parent.pid);
  r.breakpointsOut = true;
  if (r.realRet) realReturnInChild(s, r);
  s.detachThread(r.child.pid, r.childSig);
  s.table.dropProcess(r.child);
  s.endIfAllGone();
}

/** The child's registers holding our trampoline hold the real return address instead. */
function realReturnInChild(s: Session, r: VforkRelease): void {
  const tramp = BigInt(r.parent.pages.trampoline);
  const saved = Array.from(s.regs.words);
  try {
    if (!s.nat.loadRegs(r.child.pid)) return;
    let changed = false;
    for (let i = 0; i < s.regs.words.length; i++) {
      if (s.regs.words[i] !== tramp) continue;
      s.regs.words[i] = BigInt(r.realRet);
      changed = true;
    }
    if (changed) s.nat.storeRegs(r.child.pid);
  } finally {
    s.regs.words.set(saved);
  }
}

/**
 * PTRACE_EVENT_VFORK_DONE on the forking thread: the child execed or
 * exited, the memory is the parent's alone again. Our breakpoints go back
 * (the held threads find them all), the threads go on, and fast mode's
 * block is the forking thread's again.
 */
export function onVforkDone(s: Session, th: ThreadState): void {
  const proc = th.proc;
  const m = releases.get(s);
  const r = m?.get(proc.pid);
  if (r && r.tid === th.tid) {
    m!.delete(proc.pid);
    if (r.breakpointsOut) s.nat.replantBreakpoints(proc.pid);
    if (!r.released && s.table.process(r.child.pid) === r.child) {
      // Done before it was let go (killed at its first stop, say): let go now.
      s.table.dropProcess(r.child);
      s.endIfAllGone();
    }
    for (const tid of r.held) if (s.table.thread(tid)) s.resume(tid, 0);
    // Asked to stop and not stopped yet: their interrupt stop is an ordinary one now (resumed).
  }
  for (const m of s.modes) m.vforkDone(s, proc, th.tid);
}
