// methods/: what puts a session together (Tracer.spawn, Tracer.attach) and the event stream over it: above both the engine and the modes, which it hands the session (the engine knows no mode).
// Tracer.events: a hook whose calls come out as plain objects through an
// async iterator, for code that prefers streams to callbacks.
import type { EntryContext, ExitContext } from '../context';
import type { ExitStatus } from '../engine/session';
import type { Hook, HookHandlers } from '../hook';
import type { UnwindReason } from '../rethook';

interface CallEventBase {
  pid: number;
  tid: number;
  /** Name of the hooked function (demangled for C++). */
  function: string;
  address: number;
  /** Nesting of hooked calls on this thread (0 = outermost). */
  depth: number;
  /** The first integer arguments, as at entry. */
  args: readonly bigint[];
  returnAddress: number;
  stackPointer: number;
  /** Made in the parent before a fork and in flight in this followed child too. */
  inherited: boolean;
}

/** A hooked function was entered. */
export interface EntryEvent extends CallEventBase {
  type: 'entry';
}

/** A hooked call returned (or its frame was unwound: `unwound`, `reason`). */
export interface ExitEvent extends CallEventBase {
  type: 'exit';
  /** Null when unwound: a call that did not return has no return value. */
  retval: bigint | null;
  durationNs: bigint;
  unwound: boolean;
  reason: UnwindReason | null;
}

/** The program ended (or the tracer detached): the last event. */
export interface ProcessExitEvent extends ExitStatus {
  type: 'process-exit';
}

export type TraceEvent = EntryEvent | ExitEvent | ProcessExitEvent;

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
}

/** An async iterator of a hook's events, with the hook itself. */
export interface TraceEventStream extends AsyncIterableIterator<TraceEvent> {
  readonly hook: Hook;
}

function base(ctx: EntryContext | ExitContext): CallEventBase {
  return {
    pid: ctx.pid, tid: ctx.tid, function: ctx.function, address: ctx.address, depth: ctx.depth,
    args: ctx.args, returnAddress: ctx.returnAddress, stackPointer: ctx.stackPointer, inherited: ctx.inherited,
  };
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
    onEntry: (ctx) => {
      queue.push({ type: 'entry', ...base(ctx) });
      wake();
    },
    onExit: (ctx) => {
      queue.push({ type: 'exit', ...base(ctx), retval: ctx.retval, durationNs: ctx.durationNs, unwound: ctx.unwound, reason: ctx.reason });
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
