// Detaching: stop every thread, move the ones stopped on our traps to where
// they would have gone, undo every change (undo.ts), and let go. Used by
// detach(), by failures, by Ctrl-C with --detach-on-exit, and when Node exits
// while attached. Injected pages stay mapped (see undo.ts).
import { returnAbi } from '../arch';
import type { Hook } from '../hook';
import { arch, Info, StopKind } from '../native';
import type { ThreadState } from '../tracee/process';
import type { Session } from './session';
import { ThreadToClean, undoChanges } from './undo';

const SIGTRAP = 5;
const PTRACE_EVENT_CLONE = 3;

export function detachAll(s: Session): void {
  const { stopped, pending } = stopEveryThread(s);
  for (const [tid, addr] of stopped) {
    const th = s.table.thread(tid);
    if (th && addr) moveOffTrap(s, th, addr);
  }
  for (const proc of s.table.allProcesses()) {
    const threads: ThreadToClean[] = [];
    for (const th of proc.threads.values()) {
      const nodes = th.stack.drain(); // innermost first
      threads.push({ tid: th.tid, nodes: nodes.reverse() });
    }
    undoChanges(s, proc, proc, threads, true);
    for (const t of threads) for (const n of t.nodes) (n.owner as Hook).pool.give(n);
    // Goroutines' calls are caught at return sites: the breakpoints are gone, nothing else to undo.
    for (const st of proc.goroutines.values()) for (const n of st.drain()) (n.owner as Hook).pool.give(n);
    proc.goroutines.clear();
  }
  for (const th of s.table.allThreads()) s.detachThread(th.tid, pending.get(th.tid) ?? 0);
  s.held = [];
}

/**
 * Every thread stopped: the current stop's (unless resumed) and the held
 * ones are already; the others are interrupted and waited for. Returns each
 * stopped thread's trap address (0: not at a trap of ours) and the signal
 * each must get on detach (one that arrived meanwhile is the program's).
 */
function stopEveryThread(s: Session): { stopped: Map<number, number>; pending: Map<number, number> } {
  const stopped = new Map<number, number>();
  const pending = new Map<number, number>();
  const cur = s.current;
  if (cur.tid && !cur.resumed && s.table.thread(cur.tid)) stopped.set(cur.tid, cur.trap);
  for (const h of s.held) {
    stopped.set(h.tid, h.addr);
    if (h.sig) pending.set(h.tid, h.sig);
  }
  for (const th of s.table.allThreads()) if (!stopped.has(th.tid)) s.nat.interrupt(th.tid);
  for (const th of s.table.allThreads()) {
    if (stopped.has(th.tid)) continue;
    const kind = s.nat.waitThread(th.tid);
    if (kind === StopKind.Exited || kind === StopKind.Killed) {
      s.table.removeThread(th.tid);
      continue;
    }
    stopped.set(th.tid, 0);
    const info = s.info;
    if (kind === StopKind.Trap) {
      const addr = info[Info.Addr];
      const proc = th.proc;
      if (info[Info.SiCode] === arch.trapSiCode && proc.isOurTrap(addr))
        stopped.set(th.tid, addr);
      else pending.set(th.tid, SIGTRAP);
    } else if (kind === StopKind.Signal) {
      pending.set(th.tid, info[Info.A]);
    } else if (kind === StopKind.Event && info[Info.A] === PTRACE_EVENT_CLONE) {
      // A thread born meanwhile: it starts traced and stopped; detach it with the rest.
      const nt = info[Info.Msg];
      s.table.addThread(th.proc, nt);
      if (s.table.waitForStop(nt, [StopKind.Interrupt]) !== null) stopped.set(nt, 0);
      else s.table.removeThread(nt);
    }
  }
  return { stopped, pending };
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
