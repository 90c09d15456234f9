// The public API: a thin facade over one tracing session (engine/session.ts).
// Each method's body is the engine's (or, for the constructors and the event
// stream, methods/'s); the session is a private field, so the declaration
// file shows only what is documented here.
// Every ptrace request is made from Node's main thread, woken by SIGCHLD, so
// handlers run synchronously while the thread that hit the breakpoint waits,
// and the event loop runs between stops.
import type { Backtrace } from './context';
import type { ExitStatus, ProcessEvent, Session } from './engine/session';
import type { Readable, Writable } from 'stream';
import type { FastHookHandlers, Hook, HookHandlers } from './hook';
import type { EventsOptions, TraceEventStream } from './methods/event-stream';
import type { BatchesOptions, CallBatchStream } from './record/batches';
import { attachSession } from './methods/attach';
import { spawnSession } from './methods/spawn';
import { backtraceOf } from './engine/backtrace';
import { detachSession } from './engine/detach';
import { hookFunctions } from './engine/planting';
import { killSession, runSession } from './engine/stop-loop';
import type { AttachOptions, SpawnOptions } from './options';

export type { ExitStatus, ProcessEvent } from './engine/session';
export type { AttachOptions, SpawnOptions, StdioOption } from './options';
export type { EntryEvent, ExitEvent, ProcessExitEvent, TraceEvent, TypedJson } from './events';
export type { EventsOptions, TraceEventStream } from './methods/event-stream';

export class Tracer {
  readonly #session: Session;
  #running: Promise<ExitStatus> | null = null;
  /** The process the tracer started (or attached to). */
  readonly pid: number;
  /** The program's stdin, when spawned with stdio 'pipe' for it (else null). */
  readonly stdin: Writable | null;
  /** The program's stdout, when spawned with stdio 'pipe' for it (else null). */
  readonly stdout: Readable | null;
  /** The program's stderr, when spawned with stdio 'pipe' for it (else null). */
  readonly stderr: Readable | null;

  private constructor(session: Session, stdio?: { stdin: Writable | null; stdout: Readable | null; stderr: Readable | null }) {
    this.#session = session;
    this.pid = session.pid;
    this.stdin = stdio?.stdin ?? null;
    this.stdout = stdio?.stdout ?? null;
    this.stderr = stdio?.stderr ?? null;
  }

  /**
   * Start `file` under ptrace. Resolves once the dynamic linker has mapped
   * the program's libraries and before any of the program's code (including
   * library constructors) has run: hook() now, then run().
   */
  static async spawn(file: string, args: readonly string[] = [], options: SpawnOptions = {}): Promise<Tracer> {
    const { session, stdio } = await spawnSession(file, args, options);
    return new Tracer(session, stdio);
  }

  /**
   * Attach to a running process and all its threads (PTRACE_SEIZE +
   * PTRACE_INTERRUPT). Resolves with every thread stopped: hook, then run().
   * Detach (tracer.detach()) at any moment leaves it as if never traced. If the
   * tracer is killed outright (SIGKILL), the kernel detaches with our
   * breakpoints still planted: the process then dies at its next hooked call.
   * Any other exit of Node detaches cleanly first.
   */
  static async attach(pid: number, options: AttachOptions = {}): Promise<Tracer> {
    return new Tracer(await attachSession(pid, options));
  }

  /**
   * Hook the functions `pattern` names: `name`, a glob (`sqlite3_*`), scoped
   * to one object (`libz.so.1:crc32`), a demangled C++ name, or an address.
   * Patterns scoped to an object not loaded yet are planted when it is.
   */
  hook<D = unknown>(pattern: string | number | readonly (string | number)[], handlers: FastHookHandlers<D>): Hook;
  hook<D = unknown>(pattern: string | number | readonly (string | number)[], handlers?: HookHandlers<D>): Hook;
  hook<D = unknown>(pattern: string | number | readonly (string | number)[], handlers?: HookHandlers<D> | FastHookHandlers<D>): Hook {
    return hookFunctions(this.#session, pattern, handlers as HookHandlers | undefined);
  }

  /**
   * Hook `pattern` and get its calls as events through an async iterator:
   * `for await (const ev of tracer.events('kv_*'))`. Entry and exit events
   * are plain objects (valid after their handler, unlike contexts); the last
   * is `{ type: 'process-exit', ...ExitStatus }`. The loop's first step lets
   * the program run (as run()); breaking out unhooks. `.hook` is the hook.
   */
  events(pattern: string | number | readonly (string | number)[], options: EventsOptions = {}): TraceEventStream {
    // Loaded when used (the record reader and writer behind batches are not a trace's start-up).
    const { eventStream } = require('./methods/event-stream') as typeof import('./methods/event-stream');
    return eventStream((h) => this.hook(pattern, h), () => this.#running ?? this.run(), options);
  }

  /**
   * Hook `pattern` and get its calls as CallBatches (lib/record/batch.ts):
   * each one thread's rows in order (ENTRY, EXIT, UNWOUND), as typed-array
   * columns, no object per call: `for await (const b of tracer.batches('kv_*', { mode: 'fast' }))`.
   * A batch is valid until the loop's next step. `.sites[b.site[i]]` names a
   * row's function; `.valuesOf(b, i)` gives its typed values. The loop's
   * first step lets the program run (as run()); breaking out unhooks.
   */
  batches(pattern: string | number | readonly (string | number)[], options: BatchesOptions = {}): CallBatchStream {
    const { batchStream } = require('./record/batches') as typeof import('./record/batches');
    return batchStream((h) => this.hook(pattern, h), () => this.#running ?? this.run(), options);
  }

  /** Let the program run; resolves when it exits (or the tracer detaches). */
  run(): Promise<ExitStatus> {
    const p = runSession(this.#session);
    this.#running ??= p;
    return p;
  }

  /**
   * Stop tracing at once: breakpoints removed and every hijacked return
   * address put back on every thread's stack; the program goes on untraced.
   */
  async detach(): Promise<void> {
    detachSession(this.#session);
  }

  /**
   * After detach() from a program this tracer started (it is still a child of
   * this process): resolves with how it ends. Call it before detaching. For an
   * attached process, resolves with the detached status.
   */
  waitReleased(): Promise<ExitStatus> {
    return this.#session.releasedExit();
  }

  /**
   * Be told when a followed fork child appears, a process execs, or a
   * process of the session ends (timestampNs: CLOCK_MONOTONIC ns, as contexts).
   * One listener; null removes it. Runs while the process is stopped.
   */
  onProcess(listener: ((e: ProcessEvent) => void) | null): void {
    this.#session.processListener = listener;
  }

  /** Kill the program (SIGKILL). */
  kill(): void {
    killSession(this.#session);
  }

  /**
   * Call stack of a thread stopped in a handler, trampolines replaced by the
   * real return addresses (engine/backtrace.ts).
   */
  backtrace(tid: number): Backtrace {
    return backtraceOf(this.#session, tid);
  }
}
