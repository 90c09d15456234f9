// How a session ends when something goes wrong: an error while handling a
// stop (or thrown by a handler) detaches cleanly and rejects run(); Node
// exiting while we trace detaches from an attached process and kills one we
// started. Session.finish() is the one way a session ends; these lead there.
import { RethookError } from '../errors';
import { detachAll } from './detach';
import type { Session } from './session';

/** Record an error that ends the session; acted on at once unless a stop is being handled. */
export function fail(s: Session, err: Error): void {
  s.failure ??= err;
  if (!s.draining) failed(s);
}

/** Tracing failed: detach cleanly (or kill what we cannot leave damaged), report the error. */
export function failed(s: Session): void {
  if (s.status) return;
  try {
    detachAll(s);
  } catch {
    s.nat.kill(s.pid, 9); // could not clean up: never leave a damaged program running
  }
  s.finish(null, s.failure ?? new RethookError('tracing failed'));
}

/**
 * If Node exits while we trace (an uncaught exception, process.exit), an
 * attached process is detached cleanly first and a spawned one is killed
 * (PTRACE_O_EXITKILL would kill it anyway).
 */
export function guardExit(s: Session): void {
  s.exitGuard = () => {
    if (s.status) return;
    try {
      if (s.options.attached) detachAll(s);
      else s.nat.kill(s.pid, 9);
    } catch {
      /* exiting anyway */
    }
  };
  process.once('exit', s.exitGuard);
}
