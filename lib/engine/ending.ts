// How a session ends when something goes wrong: an error while handling a
// stop (or thrown by a handler) detaches cleanly and rejects run(); Node
// exiting while we trace detaches from an attached process and kills one we
// started. Session.finish() is the one way a session ends; these lead there.
import { RethookError } from '../errors';
import type { Hook } from '../hook';
import { StopKind } from '../native';
import { detachAll } from './detach';
import type { Session } from './session';

/** Record an error that ends the session; acted on at once unless a stop is being handled (or we are detaching). */
export function fail(s: Session, err: Error): void {
  s.failure ??= err;
  if (!s.draining && !s.detaching) failed(s);
}

/**
 * Tracing failed. A handler's throw detaches cleanly (the program runs on).
 * An error of the engine's own detaches from a process we attached to, and
 * ends a program we started (it may be damaged); either way the error is
 * one line. If the program died meanwhile, its end is the news, not the error.
 */
export function failed(s: Session): void {
  if (s.status) return;
  const cause = s.failure ?? new RethookError('tracing failed', 'EINTERNAL');
  const internal = s.internalFailure && !(cause instanceof RethookError && /handler for .* threw/.test(cause.message));
  let err: Error = cause;
  if (internal && !s.options.attached) {
    killAll(s);
    err = oneLine(cause, `the program (pid ${s.pid}) was killed`);
  } else {
    try {
      detachAll(s);
      if (internal) err = oneLine(cause, `detached from process ${s.pid}`);
    } catch (e) {
      killAll(s); // could not clean up: never leave a damaged program running
      err = oneLine(cause, `could not detach (${firstLine(e)}): process ${s.pid} was killed`);
    }
  }
  // A handler's throw is news even after the program ended (fast mode runs
  // the last handlers then); anything else then is not.
  const handlerThrew = cause instanceof RethookError && cause.code === 'EHANDLER';
  if (s.mainStatus && !s.options.attached && !internal && !handlerThrew) return s.finish(s.mainStatus);
  s.finish(null, err);
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/** The one line reported for an internal error. */
function oneLine(e: Error, outcome: string): RethookError {
  const msg = firstLine(e);
  return e instanceof RethookError
    ? new RethookError(`${msg}; ${outcome}`, e.code, { cause: e.cause ?? e })
    : new RethookError(`internal error while handling a stop: ${msg}; ${outcome}`, 'EINTERNAL', { cause: e });
}

/**
 * Kill every process we trace and collect the threads' ends (bounded: a
 * killed thread ends within microseconds), so none is left a zombie of ours.
 */
export function killAll(s: Session): void {
  for (const proc of s.table.allProcesses()) s.nat.kill(proc.pid, 9);
  // Not once its exit was seen: the pid may be another process's by now.
  if (!s.mainStatus) s.nat.kill(s.pid, 9);
  const deadline = Date.now() + 2000;
  for (const th of s.table.allThreads()) {
    for (;;) {
      const kind = s.nat.waitThread(th.tid, Math.max(0, deadline - Date.now()));
      if (kind === StopKind.None || kind === StopKind.Exited || kind === StopKind.Killed) break;
    }
    for (const n of th.stack.drain()) (n.owner as Hook).pool.give(n);
    s.table.removeThread(th.tid);
  }
  s.held = [];
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
      else if (!s.mainStatus) s.nat.kill(s.pid, 9);
    } catch {
      /* exiting anyway */
    }
  };
  process.once('exit', s.exitGuard);
}
