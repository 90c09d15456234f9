// Tracer.kill: end the program (SIGKILL); the stop loop then sees it go.
import type { Session } from '../engine/session';
import { drain } from '../engine/stop-loop';

export function killSession(s: Session): void {
  // Not once its exit was seen (its pid may be another process's by now): its followed children, then.
  if (!s.status) for (const pid of s.mainStatus ? s.table.allProcesses().map((p) => p.pid) : [s.pid]) s.nat.kill(pid, 9);
  s.held = []; // a killed program is not resumed
  s.running = true;
  setImmediate(() => drain(s));
}
