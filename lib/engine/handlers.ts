// Running the user's handlers, for every mode: a throw, or a promise that
// rejects, ends the session as one line (EHANDLER); run() settles after every
// promise a handler returned.
import { RethookError } from '../errors';
import { fail } from './ending';
import type { Session } from './session';

/**
 * Run a user handler on its context. A throw (or a rejected promise) stops
 * tracing: the tracer detaches cleanly and run() rejects with the handler's
 * error. A promise is not awaited (the program goes on), but run() settles
 * only after it, so that its rejection is never lost, even after the
 * program's exit. No closure is made per call that returns no promise: fast
 * mode runs this for every record.
 */
export function callHandler<C, T>(s: Session, which: string, fn: string, handler: (ctx: C) => T, ctx: C): T | undefined {
  try {
    const r = handler(ctx);
    if (r && typeof (r as unknown as PromiseLike<unknown>).then === 'function') watchHandlerPromise(s, which, fn, r as unknown as PromiseLike<unknown>);
    return r;
  } catch (e) {
    handlerThrew(s, which, fn, e);
    return undefined;
  }
}

/** Keep a handler's promise until it settles (Session.handlerPromises); a rejection is the handler's throw. */
function watchHandlerPromise(s: Session, which: string, fn: string, r: PromiseLike<unknown>): void {
  const p: Promise<void> = Promise.resolve(r).then(
    () => undefined,
    (e) => handlerThrew(s, which, fn, e),
  );
  s.handlerPromises.add(p);
  const done = () => void s.handlerPromises.delete(p);
  p.then(done, done);
}

function handlerThrew(s: Session, which: string, fn: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  const err = new RethookError(`${which} handler for ${fn} threw: ${msg.split('\n')[0]}`, 'EHANDLER', { cause: e });
  // After the session's end (a promise that rejected late): run() is still waiting for it, and rejects with it.
  if (s.status) s.lateHandlerFailure ??= err;
  else fail(s, err);
}
