// Where a stop becomes a decision. drain() takes every waiting stop of our
// threads (woken by SIGCHLD through the addon), dispatch() sends each to the
// module that owns that kind of stop:
//
//   trap at the trampoline      -> return-hooks.onReturn
//   trap at one of our sites    -> return-hooks.onEntry (internal sites first)
//   syscall stop                -> images (exec's return, finding r_brk)
//   ptrace event                -> lifecycle (clone, fork, vfork, exec)
//   an unfollowed vfork's stops -> vfork (its child's first, threads held)
//   thread exited or killed     -> lifecycle.onThreadGone
//   signal, group-stop, other   -> delivered / kept with LISTEN
//
// Every path ends with the thread resumed (Session.resume and friends) or
// deliberately held. An error thrown while handling a stop is recorded and,
// once the stop is done, ends the session (ending.ts) with the stop still
// known as the current one, so detaching treats its thread as stopped. An
// error because the program is being killed (its memory or registers gone
// mid-stop) is no error: its exit comes next and ends the session.
//
// RETHOOK_TEST_FAULT=entry (tests only) throws an internal error at the
// first hooked entry, to prove that a failure during a stop never wedges.
import { arch, Info, StopKind } from '../native';
import { processDying } from '../tracee/dying';
import type { ThreadState } from './traced';
import { detachAll } from './detach';
import { mirrorTrap } from './guardian';
import { failed } from './ending';
import { onSyscallStop } from './images';
import { onEvent, onThreadGone, onThreadStart } from './lifecycle';
import { onEntry, onReturn, onReturnSite } from './return-hooks';
import type { ExitStatus, HeldThread, Session } from './session';
import { cleanReleasedChild } from './undo';
import { vforkStop } from './vfork';

/** Test-only fault injection (see above); read once. */
const TEST_FAULT = process.env.RETHOOK_TEST_FAULT ?? '';

const SIGINT = 2, SIGTRAP = 5;
/** Stops handled before yielding to the event loop (timers and I/O keep running under a flood). */
const EVENTS_PER_TURN = 4096;

/** Handle every stop that is waiting; yield to the event loop now and then. */
export function drain(s: Session): void {
  if (s.draining || s.attaching || s.status) return;
  s.draining = true;
  try {
    for (let n = 0; n < EVENTS_PER_TURN; n++) {
      const kind = s.nat.wait(n === 0 ? 0 : s.spinNs);
      if (kind === StopKind.None) return;
      s.current.takenNs = process.hrtime.bigint();
      s.current.tid = s.info[Info.Tid];
      s.current.resumed = false;
      s.current.trap = kind === StopKind.Trap ? s.info[Info.Addr] : 0;
      try {
        dispatch(s, kind);
      } catch (e) {
        if (!s.failure && programDying(s, s.current.tid)) {
          s.current.resumed = true; // it will not run again; its exit is reported next
        } else if (!s.failure) {
          s.failure = e instanceof Error ? e : new Error(String(e));
          s.internalFailure = true;
        }
      }
      if (s.failure) {
        failed(s); // knows the current stop: detachAll treats it as stopped unless resumed
        return;
      }
      s.current.tid = 0;
      s.current.call = null;
      s.current.takenNs = 0n;
      if (s.status) return;
    }
    setImmediate(() => drain(s));
  } finally {
    s.current.tid = 0;
    s.current.call = null;
    s.current.takenNs = 0n;
    s.draining = false;
  }
}

function dispatch(s: Session, kind: StopKind): void {
  const info = s.info;
  const tid = info[Info.Tid];
  const th = s.table.thread(tid);
  if (!th) {
    // Every thread of ours is in the table from its clone event on; anything
    // else is not ours to keep.
    if (kind !== StopKind.Exited && kind !== StopKind.Killed) s.resume(tid, 0);
    return;
  }
  if (s.toClean.has(th.proc.pid)) {
    // A fork child we do not follow, at its first stop: cleaned and let go.
    if (kind !== StopKind.Exited && kind !== StopKind.Killed) return cleanReleasedChild(s, th);
    s.toClean.delete(th.proc.pid);
  }
  for (const m of s.modes) m.beforeStop(s, th);
  if (s.status) return;
  if (vforkStop(s, th, kind, info[Info.A])) return; // an unfollowed vfork child's first stop, or a thread held meanwhile
  switch (kind) {
    case StopKind.Trap:
      return onTrap(s, th, info[Info.Addr], info[Info.SiCode]);
    case StopKind.Signal:
      return onSignal(s, th, info[Info.A]);
    case StopKind.Syscall:
      return onSyscallStop(s, th);
    case StopKind.Event:
      return onEvent(s, th, info[Info.A], info[Info.Msg]);
    case StopKind.GroupStop:
      return void s.listen(tid);
    case StopKind.Interrupt:
      return onThreadStart(s, th);
    case StopKind.Exited:
    case StopKind.Killed:
      return onThreadGone(s, th, kind, info[Info.A]);
  }
}

function onTrap(s: Session, th: ThreadState, addr: number, siCode: number): void {
  const proc = th.proc;
  if (siCode !== arch.trapSiCode) return void s.resume(th.tid, SIGTRAP);
  if (s.guardian && (proc.sites.has(addr) || proc.returnSites.has(addr))) mirrorTrap(s.guardian, th.tid, addr, s.regs.sp);
  if (addr === proc.pages.trampoline) return onReturn(s, th);
  for (const m of s.modes) if (m.ownTrap(s, th, addr)) return;
  if (proc.returnSites.has(addr)) return onReturnSite(s, th, addr);
  const site = proc.sites.get(addr);
  if (site && TEST_FAULT === 'entry' && site.hooks.length) throw new Error(`test fault at the entry of ${site.fn?.name}`);
  if (site) return onEntry(s, th, site, addr);
  if (proc.removed.has(addr)) {
    s.regs.pc = addr; // raised before the breakpoint went away: run the original instruction
    return void s.resume(th.tid, 0, true);
  }
  s.resume(th.tid, SIGTRAP); // the program's own trap
}

function onSignal(s: Session, th: ThreadState, sig: number): void {
  if (sig === SIGINT && s.options.detachOnInterrupt && th.proc.pid === s.pid) {
    // Swallowed: detaching from a signal-delivery-stop without the signal drops it.
    detachAll(s);
    return s.finish({ pid: s.pid, code: null, signal: null, detached: true });
  }
  s.resume(th.tid, sig);
}

/**
 * The thread's process is being killed (SIGKILL pending, exiting, a zombie,
 * or gone): what failed while handling its stop failed because of that.
 */
export function programDying(s: Session, tid: number): boolean {
  return processDying(s.table.thread(tid)?.proc.pid ?? tid, tid);
}

/** Tracer.kill: end the program (SIGKILL); the stop loop then sees it go. */
export function killSession(s: Session): void {
  // Not once its exit was seen (its pid may be another process's by now): its followed children, then.
  if (!s.status) for (const pid of s.mainStatus ? s.table.allProcesses().map((p) => p.pid) : [s.pid]) s.nat.kill(pid, 9);
  s.held = []; // a killed program is not resumed
  s.running = true;
  setImmediate(() => drain(s));
}

/** Tracer.run: let the held threads go; resolves when the program exits (or the tracer detaches). */
export function runSession(s: Session): Promise<ExitStatus> {
  // Running already, or over: how it ends (or ended).
  if (s.running || s.status) return s.exited;
  s.running = true;
  const all = s.held;
  s.held = [];
  for (const h of all) {
    const th = s.table.thread(h.tid);
    if (!th) continue;
    try {
      release(s, h, th.proc.pid);
    } catch (e) {
      if (!programDying(s, h.tid)) throw e; // else: killed while held; its end comes through the stop loop
    }
  }
  return s.exited;
}

function release(s: Session, h: HeldThread, pid: number): void {
  if (h.addr) {
    // Held on one of our breakpoints (r_brk at startup): run the displaced instruction.
    s.nat.loadRegs(h.tid);
    s.step(h.tid, pid, h.addr);
  } else if (h.group) {
    // Held at a group-stop: the process stays stopped (PTRACE_LISTEN) until
    // it gets SIGCONT. If the stop was used meanwhile (an injection), the
    // thread is made to report the group-stop again, then listened to.
    if (h.sig || !s.listen(h.tid)) {
      s.nat.interrupt(h.tid);
      s.resume(h.tid, h.sig);
    }
  } else {
    s.resume(h.tid, h.sig);
  }
}
