// methods/: what puts a session together (Tracer.spawn, Tracer.attach) and the event stream over it: above both the engine and the modes, which it hands the session (the engine knows no mode).
// Tracer.events: a hook whose calls come out through an async iterator as the
// one event model's plain objects (../events.ts: what `--format json` writes
// and a record replays), for code that prefers streams to callbacks.
import type { ExitStatus } from '../engine/session';
import type { TraceEvent } from '../events';
import type { Hook, HookHandlers } from '../hook';
import { entryEvent, exitEvent } from '../views/format';

export interface EventsOptions {
  /** Calls of this hook in flight at once (all threads), as hook()'s. */
  maxActive?: number;
  /** How returns are caught, as hook()'s. */
  returnMode?: HookHandlers['returnMode'];
  /**
   * How calls are caught, as hook()'s, but 'fast' by default: events are
   * copies that observe, with nothing to change at the call, so the thread
   * need not stop (functions fast mode cannot patch are in trap mode:
   * `stream.hook.fellBack` says which and why).
   */
  mode?: 'trap' | 'fast';
  /**
   * C strings to copy at the call, as hook()'s, but `{ strings: 'auto' }` by
   * default: an event shows a string argument as it was at the call (as
   * `--format json` does), not as it is when the event is made.
   */
  capture?: HookHandlers['capture'];
}

/** An async iterator of a hook's events, with the hook itself. */
export interface TraceEventStream extends AsyncIterableIterator<TraceEvent> {
  readonly hook: Hook;
}

/**
 * Events are queued as they happen (handlers are synchronous: the program is
 * not slowed down to the consumer's pace, so the queue grows if it lags).
 * The first next() lets the program run (run()) if nothing has yet; the
 * stream ends after the process-exit event, or throws what run() rejects
 * with. Leaving the loop early (break) unhooks: the program goes on.
 */
export function eventStream(
  hookFn: (handlers: HookHandlers) => Hook,
  run: () => Promise<ExitStatus>,
  options: EventsOptions,
): TraceEventStream {
  const queue: TraceEvent[] = [];
  let waiter: (() => void) | null = null;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let started = false;
  const wake = () => {
    const w = waiter;
    waiter = null;
    w?.();
  };
  const hook = hookFn({
    maxActive: options.maxActive,
    returnMode: options.returnMode,
    mode: options.mode ?? 'fast',
    capture: options.capture ?? { strings: 'auto' },
    onEntry: (ctx) => {
      queue.push(entryEvent(ctx, false, 'plain'));
      wake();
    },
    onExit: (ctx) => {
      queue.push(exitEvent(ctx, 'plain'));
      wake();
    },
  });
  const start = () => {
    if (started) return;
    started = true;
    run().then(
      (status) => {
        if (!ended) queue.push({ type: 'process-exit', ...status });
        ended = true;
        wake();
      },
      (error) => {
        if (!ended) failure = { error };
        ended = true;
        wake();
      },
    );
  };
  const stream: TraceEventStream = {
    hook,
    async next(): Promise<IteratorResult<TraceEvent>> {
      start();
      for (;;) {
        if (queue.length) return { value: queue.shift()!, done: false };
        if (failure) {
          const e = failure.error;
          failure = null;
          throw e;
        }
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((r) => (waiter = r));
      }
    },
    async return(): Promise<IteratorResult<TraceEvent>> {
      if (!ended) {
        ended = true;
        hook.unhook();
      }
      queue.length = 0;
      wake();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return stream;
}
