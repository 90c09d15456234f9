// Tracer.run: let the held threads go; resolves when the program exits (or the tracer detaches).
import type { ExitStatus, HeldThread, Session } from '../engine/session';
import { programDying } from '../engine/stop-loop';

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
