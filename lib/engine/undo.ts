// Every change rethook makes to a tracee, and how it is put back: the one
// list that detaching, releasing a forked child and failing all run.
//
//   change                          made by                 undone here
//   entry breakpoints               planting.ts (native)    original bytes written back
//   hijacked return addresses       return-hooks.ts         real addresses back (ReturnAbi.restore)
//   PR_SET_PDEATHSIG (spawn only)   native spawn            cleared, so a detached program outlives us
//   injected pages                  tracee/pages.ts         left mapped: a thread may be executing in
//                                                           a slot; without breakpoints they are inert
import { returnAbi } from '../arch';
import { arch } from '../native';
import type { RethookNode } from '../rethook';
import type { Proc, ThreadState } from './traced';
import { stoppedThread } from '../tracee/registers';
import type { Session } from './session';

const PR_SET_PDEATHSIG = 1;

/** A stopped thread of the process being cleaned, and the nodes (outermost first) whose return addresses it holds. */
export interface ThreadToClean {
  tid: number;
  nodes: readonly RethookNode[];
}

/**
 * The first stop of a fork child we do not follow (lifecycle.releaseChild
 * registered it in s.toClean): before it runs an instruction, its copies of
 * our breakpoints and of the forking thread's hijacked return addresses are
 * put back, and it is let go.
 */
export function cleanReleasedChild(s: Session, th: ThreadState): void {
  const proc = th.proc;
  const child = s.toClean.get(proc.pid);
  s.toClean.delete(proc.pid);
  if (child) undoChanges(s, proc, proc, [{ tid: th.tid, nodes: child.nodes }], false);
  if (child) s.modes.forEach((m, i) => m.undo(s, child.parent, proc, [{ tid: th.tid, nodes: child.modeNodes[i], stopped: true }], false));
  s.detachThread(th.tid, 0);
  s.table.dropProcess(proc);
  s.endIfAllGone();
}

/**
 * Put back in `into` what was done to `from` (the same process on detach; a
 * fork child holds a copy of its parent's changes). Every thread listed
 * must be stopped.
 */
export function undoChanges(s: Session, from: Proc, into: Proc, threads: readonly ThreadToClean[], leaving: boolean): void {
  for (const t of threads) returnAbi.restore(stoppedThread(s.nat, s.regs, t.tid), into.mem, t.nodes, from.pages.trampoline);
  s.nat.restoreBreakpoints(from.pid, into.pid);
  // A program we started dies with us (PR_SET_PDEATHSIG) only while traced:
  // detached, it must outlive us. That setting is its own: it clears it.
  if (leaving && !s.options.attached && into.pid === s.pid && into.pages.stub && s.table.thread(into.pid)) {
    try {
      s.nat.injectSyscall(into.pid, into.pid, into.pages.stub, false, arch.syscalls.prctl, [PR_SET_PDEATHSIG, 0]);
    } catch {
      /* it exits anyway */
    }
  }
}
