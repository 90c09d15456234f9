// Detaching: stop every thread, move the ones stopped on our traps to where
// they would have gone, undo every change (undo.ts), and let go. Used by
// detach(), by failures, by Ctrl-C with --detach-on-exit, and when Node exits
// while attached. Injected pages stay mapped (see undo.ts).
//
// Nothing here blocks without a bound: a thread's stop is taken with a
// non-blocking wait, polled until a deadline (a thread stops within
// microseconds of PTRACE_INTERRUPT; one blocked in vfork or a zombie never
// does). Which threads are stopped is known, never assumed: the current
// stop's and the held ones are; any other is asked (a ptrace request
// succeeds only on a stopped thread), so a stop taken elsewhere and not
// acted on is found too.
import { returnAbi } from '../arch';
import type { Hook } from '../hook';
import { arch, Info, StopKind } from '../native';
import type { RethookNode } from '../rethook';
import { signalName } from '../symbols/program';
import type { Proc, ThreadState } from './traced';
import type { StoppedThread } from '../tracee/registers';
import * as fs from 'fs';
import type { Session } from './session';
import { ThreadToClean, undoChanges } from './undo';

const SIGTRAP = 5;
const PTRACE_EVENT_FORK = 1, PTRACE_EVENT_VFORK = 2, PTRACE_EVENT_CLONE = 3, PTRACE_EVENT_EXEC = 4;
/** How long detaching waits for interrupted threads to stop. */
const STOP_DEADLINE_MS = 2000;

/** Let go of every thread, every change undone (calls in flight end without their exit handlers). */
export function detachAll(s: Session): void {
  if (s.detaching) return;
  try {
    for (const m of s.modes) m.drain(s); // what the modes recorded until now is delivered first
  } catch {
    /* a handler's throw is recorded (s.failure); leaving goes on */
  }
  s.detaching = true;
  try {
    const { stopped, pending, unstoppable } = stopEveryThread(s);
    for (const [tid, addr] of stopped) {
      const th = s.table.thread(tid);
      if (th && addr) moveOffTrap(s, th, addr);
    }
    const dropped: RethookNode[][] = [];
    for (const proc of s.table.allProcesses()) {
      const threads: ThreadToClean[] = [];
      for (const th of proc.threads.values()) {
        const nodes = th.stack.drain(); // innermost first
        if (!stopped.has(th.tid)) {
          // Never stopped (blocked in the kernel): its return addresses are put back through memory only.
          returnAbi.restore(notStopped(s, th.tid), proc.mem, [...nodes].reverse(), proc.pages.trampoline);
        } else {
          threads.push({ tid: th.tid, nodes: [...nodes].reverse() });
        }
        dropped.push(nodes);
      }
      // A fork child not cleaned yet holds copies of its parent's hijacked return addresses.
      const child = s.toClean.get(proc.pid);
      if (child) for (const t of threads) if (t.tid === proc.pid) t.nodes = child.nodes;
      undoChanges(s, proc, proc, threads, true);
      s.modes.forEach((m, i) => {
        const modeThreads = [...proc.threads.values()].map((th) => ({ tid: th.tid, nodes: m.nodesOf(proc, th.tid), stopped: stopped.has(th.tid) }));
        if (child) for (const t of modeThreads) if (t.tid === proc.pid) t.nodes = child.modeNodes[i];
        m.undo(s, child ? child.parent : proc, proc, modeThreads, true);
      });
      // Goroutines' calls are caught at return sites: the breakpoints go with the rest, nothing else to undo.
      for (const st of proc.goroutines.values()) dropped.push(st.drain());
      proc.goroutines.clear();
    }
    s.toClean.clear();
    for (const nodes of dropped) giveBack(nodes);
    for (const th of s.table.allThreads()) {
      if (stopped.has(th.tid)) s.detachThread(th.tid, pending.get(th.tid) ?? 0);
      else s.table.removeThread(th.tid);
    }
    s.held = [];
    if (unstoppable.length) detachLater(s, unstoppable);
  } finally {
    s.detaching = false;
  }
}

/**
 * Every thread stopped: the current stop's (unless resumed) and the held
 * ones are already; the others are asked, and the running ones interrupted
 * and polled for until a deadline. Returns each stopped thread's trap
 * address (0: not at a trap of ours), the signal each must get on detach
 * (one that arrived meanwhile is the program's), and the threads that did
 * not stop in time (blocked in vfork, say).
 */
function stopEveryThread(s: Session): { stopped: Map<number, number>; pending: Map<number, number>; unstoppable: number[] } {
  const stopped = new Map<number, number>();
  const pending = new Map<number, number>();
  const cur = s.current;
  if (cur.tid && !cur.resumed && s.table.thread(cur.tid)) stopped.set(cur.tid, cur.trap);
  for (const h of s.held) {
    if (!s.table.thread(h.tid)) continue;
    stopped.set(h.tid, h.addr);
    if (h.sig) pending.set(h.tid, h.sig);
  }
  const waiting = new Set<number>();
  for (const th of s.table.allThreads()) {
    if (stopped.has(th.tid)) continue;
    if (s.nat.isStopped(th.tid)) {
      // Stopped already: its stop is waiting (taken now), or was taken and not acted on.
      const kind = s.nat.waitThread(th.tid, 0);
      if (kind === StopKind.None) stopped.set(th.tid, trapOfStoppedThread(s, th));
      else took(s, th.tid, kind, stopped, pending, waiting);
    } else {
      s.nat.interrupt(th.tid);
      waiting.add(th.tid);
    }
  }
  const start = Date.now();
  const deadline = start + STOP_DEADLINE_MS;
  const unstoppable: number[] = [];
  let lookedAtStates = false;
  while (waiting.size) {
    let progress = false;
    for (const tid of [...waiting]) {
      const kind = s.nat.waitThread(tid, 0);
      if (kind === StopKind.None) continue;
      progress = true;
      waiting.delete(tid);
      took(s, tid, kind, stopped, pending, waiting);
    }
    if (!waiting.size || Date.now() > deadline) break;
    if (!lookedAtStates && Date.now() - start > 50) {
      // A thread in uninterruptible sleep (blocked in vfork) will not stop soon: not waited for.
      lookedAtStates = true;
      for (const tid of [...waiting]) {
        if (threadState(tid) !== 'D') continue;
        waiting.delete(tid);
        unstoppable.push(tid);
      }
      continue;
    }
    if (!progress) pause(1);
  }
  for (const tid of waiting) {
    if (threadGone(tid)) s.table.removeThread(tid);
    else unstoppable.push(tid);
  }
  return { stopped, pending, unstoppable };
}

/** Where a stop taken while detaching leaves its thread. */
function took(s: Session, tid: number, kind: StopKind, stopped: Map<number, number>, pending: Map<number, number>, waiting: Set<number>): void {
  const th = s.table.thread(tid);
  if (!th) {
    if (kind !== StopKind.Exited && kind !== StopKind.Killed) stopped.set(tid, 0);
    return;
  }
  const info = s.info;
  const proc = th.proc;
  switch (kind) {
    case StopKind.Exited:
    case StopKind.Killed:
      threadEnded(s, th, kind, info[Info.A]);
      return;
    case StopKind.Trap: {
      const addr = info[Info.Addr];
      if (info[Info.SiCode] === arch.trapSiCode && isOurTrap(proc, addr)) stopped.set(tid, addr);
      else {
        stopped.set(tid, 0);
        pending.set(tid, SIGTRAP);
      }
      return;
    }
    case StopKind.Signal:
      stopped.set(tid, 0);
      pending.set(tid, info[Info.A]);
      return;
    case StopKind.Event: {
      stopped.set(tid, 0);
      const event = info[Info.A], msg = info[Info.Msg];
      if (event === PTRACE_EVENT_CLONE) {
        // A thread born meanwhile: it starts traced; its first stop is waited for with the rest.
        s.table.addThread(proc, msg);
        waiting.add(msg);
      } else if (event === PTRACE_EVENT_FORK || event === PTRACE_EVENT_VFORK) {
        // A child born meanwhile has a copy of our changes (fork) or shares them (vfork): cleaned and let go with the rest.
        const cp = s.table.addProcess(msg);
        s.nat.copyBreakpoints(proc.pid, msg);
        cp.pages.copyFrom(proc.pages);
        s.table.addThread(cp, msg);
        if (event === PTRACE_EVENT_FORK) {
          s.toClean.set(msg, { parent: proc, nodes: th.stack.nodes.map((n) => ({ ...n }) as RethookNode), modeNodes: s.modes.map((m) => m.nodesOf(proc, th.tid)) });
        }
        waiting.add(msg);
      } else if (event === PTRACE_EVENT_EXEC) {
        // A new image: none of our changes are in it, and its other threads are gone.
        for (const other of [...proc.threads.values()]) {
          if (other !== th) threadEnded(s, other, StopKind.Exited, 0);
          else giveBack(th.stack.drain());
        }
        s.nat.execed(proc.pid);
        proc.sites.clear();
      }
      return;
    }
    case StopKind.Interrupt:
      if (trapPending(s, th)) {
        // It executed a trap of ours just before our interrupt arrived: the
        // SIGTRAP is pending and would kill it once detached. Let it report
        // that trap (at once, no instruction runs) and take it as such.
        s.resume(tid, 0);
        waiting.add(tid);
        return;
      }
      stopped.set(tid, 0);
      return;
    default:
      stopped.set(tid, 0); // group-stop, syscall stop
  }
}

/** Whether an interrupted thread sits just past a trap of ours with its SIGTRAP still pending. */
function trapPending(s: Session, th: ThreadState): boolean {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${th.proc.pid}/task/${th.tid}/status`, 'latin1');
  } catch {
    return false;
  }
  const m = /^SigPnd:\s*([0-9a-f]+)$/m.exec(status);
  if (!m || (BigInt('0x' + m[1]) & (1n << BigInt(SIGTRAP - 1))) === 0n) return false;
  return s.nat.loadRegs(th.tid) && isOurTrap(th.proc, s.regs.pc - arch.trapPcAdjust);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** A short synchronous pause between polls (never a wait: that would take a stop). */
export function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isOurTrap(proc: Proc, addr: number): boolean {
  return proc.isOurTrap(addr);
}

/** A thread found stopped whose stop was taken earlier: at a trap of ours when its pc says so. */
function trapOfStoppedThread(s: Session, th: ThreadState): number {
  if (!s.nat.loadRegs(th.tid)) return 0;
  const addr = s.regs.pc - arch.trapPcAdjust;
  return isOurTrap(th.proc, addr) ? addr : 0;
}

/** A thread that ended while we detach: its calls are dropped, and the program's end is noted. */
function threadEnded(s: Session, th: ThreadState, kind: StopKind, value: number): void {
  giveBack(th.stack.drain());
  s.table.removeThread(th.tid);
  const proc = th.proc;
  if (th.tid !== proc.pid) return;
  for (const other of proc.threads.values()) giveBack(other.stack.drain());
  s.toClean.delete(proc.pid);
  s.table.dropProcess(proc);
  if (proc.pid === s.pid && !s.mainStatus) {
    s.mainStatus = kind === StopKind.Exited
      ? { pid: proc.pid, code: value, signal: null, detached: false }
      : { pid: proc.pid, code: null, signal: signalName(value), detached: false };
  }
}

function giveBack(nodes: RethookNode[]): void {
  for (const n of nodes) (n.owner as Hook).pool.give(n);
}

/** A thread that never stopped can still have its return addresses put back through memory (x86-64); no registers. */
function notStopped(s: Session, tid: number): StoppedThread {
  return { tid, regs: s.regs, load: () => false, store: () => false };
}

/** The thread's state letter (/proc/TID/stat), '' when it is gone. */
function threadState(tid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

function threadGone(tid: number): boolean {
  const state = threadState(tid);
  return state === '' || state === 'Z' || state === 'X';
}

/**
 * Threads that did not stop in time (blocked in vfork until the child execs
 * or exits) are detached when their stop comes, polled from a timer: the
 * event loop never waits for them.
 */
function detachLater(s: Session, tids: number[]): void {
  const left = new Set(tids);
  const timer = setInterval(() => {
    for (const tid of [...left]) {
      const kind = s.nat.waitThread(tid, 0);
      if (kind === StopKind.None) continue;
      left.delete(tid);
      if (kind !== StopKind.Exited && kind !== StopKind.Killed) s.nat.detach(tid, kind === StopKind.Signal ? s.info[Info.A] : 0);
    }
    if (!left.size) clearInterval(timer);
  }, 50);
  timer.unref();
}

/** A thread stopped on one of our traps resumes, once detached, where it would have gone. */
function moveOffTrap(s: Session, th: ThreadState, addr: number): void {
  if (!s.nat.loadRegs(th.tid)) return;
  if (addr === th.proc.pages.trampoline) {
    const { returning } = th.stack.popReturn(s.regs.sp - returnAbi.returnPops);
    const ret = returning.length ? returning[returning.length - 1].realRet : th.tid === s.current.tid ? s.current.returnTo : 0;
    if (ret) returnAbi.resumeAt(s.regs, ret);
    for (const n of returning) (n.owner as Hook).pool.give(n);
  } else {
    s.regs.pc = addr; // the original instruction is back
  }
  s.nat.storeRegs(th.tid);
}

/** Tracer.detach: every change undone, the program goes on untraced. */
export function detachSession(s: Session): void {
  if (s.status) return;
  detachAll(s);
  s.finish({ pid: s.pid, code: null, signal: null, detached: true });
}
