// Where a stop becomes a decision. drain() takes every waiting stop of our
// threads (woken by SIGCHLD through the addon), dispatch() sends each to the
// module that owns that kind of stop:
//
//   trap at the trampoline      -> return-hooks.onReturn
//   trap at one of our sites    -> return-hooks.onEntry (internal sites first)
//   syscall stop                -> images (exec's return, finding r_brk)
//   ptrace event                -> lifecycle (clone, fork, vfork, exec)
//   thread exited or killed     -> lifecycle.onThreadGone
//   signal, group-stop, other   -> delivered / kept with LISTEN
//
// Every path ends with the thread resumed (Session.resume and friends) or
// deliberately held. An error thrown while handling a stop is recorded and,
// once the stop is done, ends the session (ending.ts: detach cleanly).
import { arch, Info, StopKind } from '../native';
import type { ThreadState } from '../tracee/process';
import { detachAll } from './detach';
import { failed } from './ending';
import { onSyscallStop } from './images';
import { onEvent, onThreadGone, onThreadStart } from './lifecycle';
import { onEntry, onReturn } from './return-hooks';
import { onReturnSite } from './return-sites';
import type { Session } from './session';

const SIGINT = 2, SIGTRAP = 5;
/** Stops handled before yielding to the event loop (timers and I/O keep running under a flood). */
const EVENTS_PER_TURN = 4096;

/** Handle every stop that is waiting; yield to the event loop now and then. */
export function drain(s: Session): void {
  if (s.draining || s.status) return;
  s.draining = true;
  try {
    for (let n = 0; n < EVENTS_PER_TURN; n++) {
      const kind = s.nat.wait(n === 0 ? 0 : s.spinNs);
      if (kind === StopKind.None) return;
      s.current.tid = s.info[Info.Tid];
      s.current.resumed = false;
      s.current.trap = kind === StopKind.Trap ? s.info[Info.Addr] : 0;
      try {
        dispatch(s, kind);
      } catch (e) {
        s.failure ??= e instanceof Error ? e : new Error(String(e));
      }
      if (s.failure) {
        failed(s); // knows the current stop: detachAll treats it as stopped unless resumed
        return;
      }
      s.current.tid = 0;
      s.current.call = null;
      if (s.status) return;
    }
    setImmediate(() => drain(s));
  } finally {
    s.current.tid = 0;
    s.current.call = null;
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
  if (addr === proc.pages.trampoline) return onReturn(s, th);
  if (proc.returnSites.has(addr)) return onReturnSite(s, th, addr);
  const site = proc.sites.get(addr);
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
