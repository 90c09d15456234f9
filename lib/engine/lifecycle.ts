// Threads and processes coming and going: clone, fork and vfork (a child
// followed as a process of its own, or cleaned and released), exec (a new
// image, every node flushed), a thread's first stop, and a thread's end.
import { returnAbi } from '../arch';
import type { Hook } from '../hook';
import { StopKind } from '../native';
import type { RethookNode } from '../rethook';
import { signalName } from '../symbols/program';
import type { Proc, ThreadState } from './traced';
import { stoppedThread } from '../tracee/registers';
import { RethookError } from '../errors';
import { flush, flushGoroutines } from './return-hooks';
import type { Session } from './session';
import { undoChanges } from './undo';
import { onVforkDone, releaseVforkChild, vforkCloned } from './vfork';

const PTRACE_EVENT_FORK = 1, PTRACE_EVENT_VFORK = 2, PTRACE_EVENT_CLONE = 3, PTRACE_EVENT_EXEC = 4, PTRACE_EVENT_VFORK_DONE = 5;

export function onEvent(s: Session, th: ThreadState, event: number, msg: number): void {
  const proc = th.proc;
  switch (event) {
    case PTRACE_EVENT_CLONE:
      s.table.addThread(proc, msg);
      vforkCloned(s, proc, msg);
      break;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
      if (s.options.followForks) adoptChild(s, th, msg, event === PTRACE_EVENT_VFORK);
      else if (event === PTRACE_EVENT_VFORK) releaseVforkChild(s, th, msg);
      else releaseChild(s, th, msg);
      break;
    case PTRACE_EVENT_VFORK_DONE:
      onVforkDone(s, th);
      break;
    case PTRACE_EVENT_EXEC:
      return onExec(s, proc, th);
  }
  s.resume(th.tid, 0);
}

/** A thread's first stop after clone or attach: it runs on its own stack now. */
export function onThreadStart(s: Session, th: ThreadState): void {
  learnStack(s, th);
  for (const m of s.modes) m.threadStart(s, th);
  s.resume(th.tid, 0);
}

/** The thread's own stack, learnt where it surely runs on it (the main thread's is [stack]). */
export function learnStack(s: Session, th: ThreadState): void {
  if (!th.stack.range && th.tid !== th.proc.pid && s.nat.loadRegs(th.tid)) th.stack.range = th.proc.stackRange(s.regs.sp);
}

/** The process replaced its image: other threads are gone, and so is every hook site. */
function onExec(s: Session, proc: Proc, th: ThreadState): void {
  for (const m of s.modes) {
    if (proc.sharesMemory) m.vforkChildDone(s, proc, 'exec');
    m.exec(s, proc);
  }
  for (const other of [...proc.threads.values()]) {
    if (other === th) continue;
    flush(s, other, 'exec');
    s.table.removeThread(other.tid);
  }
  flush(s, th, 'exec');
  flushGoroutines(s, th, 'exec');
  th.stack.range = null; // a new stack: learnt again at the first hooked call
  s.nat.execed(proc.pid);
  if (s.guardian && proc.pid === s.pid) s.guardian.mirror.clearBreakpoints();
  if (proc.silent) {
    // A vfork child we were only keeping safe: its new image has none of our breakpoints.
    s.detachThread(th.tid, 0);
    s.table.dropProcess(proc);
    s.endIfAllGone();
    return;
  }
  for (const hook of s.hooks) {
    const keep = hook.sites.filter((hs) => hs.pid !== proc.pid);
    hook.sites.splice(0, hook.sites.length, ...keep);
  }
  proc.sharesMemory = false; // a new address space of its own
  proc.phase = 'exec-exit';
  s.processListener?.({ type: 'exec', pid: proc.pid, timestampNs: process.hrtime.bigint() });
  s.resume(th.tid, 0, false, true);
}

/** A child process made by fork/vfork, with copies of the parent's sites and pages (the memory has them too). */
function childOf(s: Session, parent: Proc, child: number, keepHooks: boolean): Proc {
  const cp = s.table.addProcess(child);
  s.nat.copyBreakpoints(parent.pid, child);
  cp.pages.copyFrom(parent.pages);
  for (const [k, m] of parent.modules) cp.modules.set(k, m);
  for (const [a, site] of parent.sites) {
    cp.sites.set(a, { ...site, hooks: keepHooks ? [...site.hooks] : [] });
    if (keepHooks) for (const h of site.hooks) h.sites.push({ pid: child, address: a, function: site.fn?.name ?? '' });
  }
  for (const [a, n] of parent.returnSites) cp.returnSites.set(a, n);
  for (const [a, slot] of parent.slots) cp.slots.set(a, slot);
  cp.rDebug = parent.rDebug;
  cp.rDebugPtr = parent.rDebugPtr;
  cp.startupDone = true;
  return cp;
}

/**
 * Follow a child made by fork or vfork as a process of its own: it has our
 * breakpoints, pages and, on the forking thread's stack, our hijacked return
 * addresses, so it gets copies of our sites and of that thread's nodes.
 */
function adoptChild(s: Session, parent: ThreadState, child: number, vfork: boolean): void {
  const cp = childOf(s, parent.proc, child, true);
  cp.sharesMemory = vfork;
  s.processListener?.({ type: 'fork', pid: child, parent: parent.proc.pid, parentTid: parent.tid, timestampNs: process.hrtime.bigint() });
  const th = s.table.addThread(cp, child);
  for (const m of s.modes) m.childFollowed(s, parent, cp, vfork);
  if (copyNodes(parent, th)) return;
  // Not enough nodes for the copies: the child gets its real return addresses back instead.
  if (!vfork) undoReturnsInChild(s, parent, cp);
}

/**
 * The forking thread's calls in flight are in flight in the child too (its
 * stack is a copy, or, after vfork, the same memory): copies of the nodes,
 * marked inherited. False (and nothing copied) when the pools run short.
 */
function copyNodes(parent: ThreadState, th: ThreadState): boolean {
  const copies: RethookNode[] = [];
  for (const n of parent.stack.nodes) {
    const c = (n.owner as Hook).pool.take(n.owner);
    if (!c) break;
    // The child's thread is new: what the tracer held it for is counted from now.
    Object.assign(c, { ...n, args: n.args, data: n.data, inherited: true, heldAtEntry: 0n });
    copies.push(c);
  }
  if (copies.length === parent.stack.nodes.length) {
    th.stack.range = parent.stack.range;
    th.stack.nodes.push(...copies);
    return true;
  }
  for (const c of copies) (c.owner as Hook).pool.give(c);
  return false;
}

/** The child's copy of the forking thread's stack gets its real return addresses back. */
function undoReturnsInChild(s: Session, parent: ThreadState, child: Proc): void {
  returnAbi.restore(stoppedThread(s.nat, s.regs, child.pid), child.mem, parent.stack.nodes, parent.proc.pages.trampoline);
}

/**
 * A fork child we do not follow: it has our breakpoints and hijacked return
 * addresses in its copy of memory; put the originals back before it runs an
 * instruction, then let it go. (A vfork child we do not follow: vfork.ts.)
 */
function releaseChild(s: Session, parent: ThreadState, child: number): void {
  s.table.addThread(childOf(s, parent.proc, child, false), child);
  // Cleaned at its first stop, which comes through the stop loop
  // (undo.cleanReleasedChild): never waited for here. The forking thread's
  // nodes may change before then: the child gets copies.
  s.toClean.set(child, { parent: parent.proc, nodes: parent.stack.nodes.map((n) => ({ ...n }) as RethookNode), modeNodes: s.modes.map((m) => m.nodesOf(parent.proc, parent.tid)) });
}

/** A thread exited or was killed; when it is a process's last, the process is done. */
export function onThreadGone(s: Session, th: ThreadState, kind: StopKind, value: number): void {
  const proc = th.proc;
  for (const m of s.modes) {
    if (proc.sharesMemory && th.tid === proc.pid) m.vforkChildDone(s, proc, 'thread-exit');
    m.threadGone(s, th);
  }
  flush(s, th, 'thread-exit');
  s.table.removeThread(th.tid);
  if (th.tid !== proc.pid) return;
  for (const other of [...proc.threads.values()]) {
    for (const m of s.modes) m.threadGone(s, other);
    flush(s, other, 'thread-exit');
  }
  flushGoroutines(s, th, 'thread-exit');
  s.table.dropProcess(proc);
  if (!proc.silent) {
    const killed = kind !== StopKind.Exited;
    s.processListener?.({ type: 'exit', pid: proc.pid, code: killed ? null : value, signal: killed ? signalName(value) : null, timestampNs: process.hrtime.bigint() });
  }
  if (proc.pid === s.pid) {
    s.mainStatus = kind === StopKind.Exited
      ? { pid: proc.pid, code: value, signal: null, detached: false }
      : { pid: proc.pid, code: null, signal: signalName(value), detached: false };
    const w = s.startupWaiter;
    s.startupWaiter = null;
    w?.reject(new RethookError(`program exited during startup (${s.mainStatus.signal ?? `code ${s.mainStatus.code}`})`, 'ESTARTUP'));
  }
  s.endIfAllGone();
}
