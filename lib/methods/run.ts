// Tracer.run: let the held threads go; resolves when the program exits (or the tracer detaches).
import type { ExitStatus, Session } from '../engine/session';

export function runSession(s: Session): Promise<ExitStatus> {
  s.checkUsable();
  if (s.running) return s.exited;
  s.running = true;
  const all = s.held;
  s.held = [];
  for (const h of all) {
    const th = s.table.thread(h.tid);
    if (!th) continue;
    if (h.addr) {
      // Held on one of our breakpoints (r_brk at startup): run the displaced instruction.
      s.nat.loadRegs(h.tid);
      s.step(h.tid, th.proc.pid, h.addr);
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
  return s.exited;
}
