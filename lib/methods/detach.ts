// Tracer.detach: every change undone, the program goes on untraced.
import { detachAll } from '../engine/detach';
import type { Session } from '../engine/session';

export function detachSession(s: Session): void {
  if (s.status) return;
  detachAll(s);
  s.finish({ pid: s.pid, code: null, signal: null, detached: true });
}
