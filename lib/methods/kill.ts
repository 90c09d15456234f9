// Tracer.kill: end the program (SIGKILL); the stop loop then sees it go.
import type { Session } from '../engine/session';
import { drain } from '../engine/stop-loop';

export function killSession(s: Session): void {
  if (!s.status) s.nat.kill(s.pid, 9);
  s.held = []; // a killed program is not resumed
  s.running = true;
  setImmediate(() => drain(s));
}
