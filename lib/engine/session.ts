// One tracing session: the state the engine modules share, each piece with
// one owner, and the ways of letting a stopped thread go. Engine modules are
// functions over a Session and the stop being handled (as uprobes works over
// a task's utask); the public Tracer (tracer.ts) only holds one.
import { RethookError } from '../errors';
import { signalName } from '../symbols/program';
import type { Hook } from '../hook';
import { NativeTracer } from '../native';
import type { RethookNode } from '../rethook';
import type { Proc } from './traced';
import { Registers } from '../tracee/registers';
import { ThreadTable as Table } from '../tracee/threads';
import type { ThreadTable } from './traced';
import { Guardian, mirrorThread, releaseGuardian } from './guardian';
import type { CallMode, ModeNodes } from './modes';

export interface ExitStatus {
  pid: number;
  /** Exit code, or null when a signal ended the program. */
  code: number | null;
  /** Name of the terminating signal (e.g. 'SIGSEGV'), or null. A real-time signal Node has no name for is `SIG<n>`. */
  signal: NodeJS.Signals | null;
  /** The tracer detached: the program went on untraced. */
  detached: boolean;
}

/** A process of the session came (a followed fork), changed its image, or ended. */
export type ProcessEvent =
  /** parentTid: the thread that forked, whose calls in flight the child inherits (they return in the child too). */
  | { type: 'fork'; pid: number; parent: number; parentTid: number; timestampNs: bigint }
  | { type: 'exec'; pid: number; timestampNs: bigint }
  | { type: 'exit'; pid: number; code: number | null; signal: string | null; timestampNs: bigint };

export interface SessionOptions {
  /** maxActive of hooks that do not set their own. */
  defaultMaxActive: number;
  followForks: boolean;
  /** A SIGINT to the program detaches instead of being delivered. */
  detachOnInterrupt: boolean;
  /** Attached to a running process (else: started by us). */
  attached: boolean;
}

/** A thread kept stopped until run(): at one of our breakpoints (addr) or elsewhere (addr 0), with a signal to deliver. */
export interface HeldThread {
  tid: number;
  addr: number;
  sig: number;
  /** Held at a group-stop (the process was stopped by SIGSTOP & co.): released with LISTEN, so it stays stopped. */
  group?: boolean;
}

/** A fork child we do not follow, waiting for its first stop to be cleaned (undo.ts): its parent and copies of the forking thread's nodes. */
export interface ChildToClean {
  parent: Proc;
  nodes: RethookNode[];
  /** Per mode (Session.modes, same order): the forking thread's calls in flight (their hijacked returns are in the child's copy too). */
  modeNodes: ModeNodes[];
}

/** The stop being handled now (owned by stop-loop.ts; `resumed` set by Session's resume methods). */
export interface CurrentStop {
  tid: number;
  /** The thread was let go: it is no longer stopped. */
  resumed: boolean;
  /** Address of the trap it stopped at, 0 when the stop was not a trap. */
  trap: number;
  /** The hooked call whose handler runs now: function address and real return address. */
  call: [number, number] | null;
  /** While exit handlers of a return run: where the thread returns to (detaching from a handler sends it there). */
  returnTo: number;
  /** When the stop was taken from the kernel (monotonic ns), 0 between stops: a return's time, before the tracer's work on it. */
  takenNs: bigint;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

export class Session {
  readonly regs: Registers;
  readonly info: Float64Array;
  readonly table: ThreadTable;
  /** Every hook, in the order added (planting.ts). */
  readonly hooks: Hook[] = [];
  readonly current: CurrentStop = { tid: 0, resumed: false, trap: 0, call: null, returnTo: 0, takenNs: 0n };
  /** Threads kept stopped until run() (attach, startup). */
  held: HeldThread[] = [];
  running = false;
  draining = false;
  /** attach.seizeAll() is taking the first stops itself: the stop loop keeps out. */
  attaching = false;
  /** detachAll() is running: a failure meanwhile is only recorded. */
  detaching = false;
  /** Fork children released at their first stop, by pid (lifecycle.releaseChild, undo.cleanReleasedChild). */
  readonly toClean = new Map<number, ChildToClean>();
  /** The first error that ends the session; handled once the current stop is done. */
  failure: Error | null = null;
  /** The failure is the engine's own (not a handler's throw): a program we started is ended, not left running. */
  internalFailure = false;
  /** Promises handlers returned, not settled yet: run() settles after them (return-hooks.ts callHandler). */
  readonly handlerPromises = new Set<Promise<void>>();
  /** One of them rejected after the session ended: run() rejects with this, as with a throw. */
  lateHandlerFailure: Error | null = null;
  /** Set once, when the session ends. */
  status: ExitStatus | null = null;
  /** How the program we started (or attached to) ended, while followed children may still run. */
  mainStatus: ExitStatus | null = null;
  /** How long to keep polling for the next stop after handling one (docs/internals.md: "How JS and the tracer hand off"). */
  readonly spinNs = Number(process.env.RETHOOK_SPIN_NS ?? 30000);
  startupWaiter: Waiter<void> | null = null;
  private exitWaiter: Waiter<ExitStatus> | null = null;
  readonly exited: Promise<ExitStatus>;
  /** Told of forks followed, execs and process exits (Tracer.onProcess). */
  processListener: ((e: ProcessEvent) => void) | null = null;
  /** An attached process's guardian (engine/guardian.ts), or null. */
  guardian: Guardian | null = null;
  /** Runs if Node exits while we trace (set by ending.ts). */
  exitGuard: (() => void) | null = null;

  /** The ways of catching calls beside the engine's breakpoints (engine/modes.ts): called at each point of a process's life. */
  constructor(readonly nat: NativeTracer, readonly pid: number, readonly options: SessionOptions, readonly modes: readonly CallMode<Session>[] = []) {
    this.regs = new Registers(nat.regs);
    this.info = nat.info;
    this.table = new Table<Hook>(nat);
    this.exited = new Promise<ExitStatus>((resolve, reject) => (this.exitWaiter = { resolve, reject }));
    this.exited.catch(() => undefined);
  }

  // ---- letting a stopped thread go (each marks the current stop resumed) ----

  /** The current stop's thread goes on: the time it was held is counted on it (ThreadState.heldNs). */
  private letGo(tid: number): void {
    const c = this.current;
    if (tid !== c.tid) return;
    if (!c.resumed && c.takenNs) {
      const th = this.table.thread(tid);
      if (th) th.heldNs += process.hrtime.bigint() - c.takenNs;
    }
    c.resumed = true;
  }

  // The guardian's mirror is written so that at every instant it holds what
  // the guardian may meet: calls are added before their return is hijacked
  // (return-hooks.ts), and removed only once the thread was let go (a thread
  // killed off with its tracer while stopped at the trampoline is still found
  // by its call; a call mirrored after its return only names a dead slot).
  resume(tid: number, sig: number, storeRegs = false, untilSyscall = false): boolean {
    this.letGo(tid);
    const ok = this.nat.resume(tid, sig, storeRegs, untilSyscall);
    if (this.guardian) mirrorThread(this.guardian, this.table, tid);
    return ok;
  }

  /** Continue a thread stopped on our breakpoint at `addr`: the displaced instruction runs emulated or out of line. */
  step(tid: number, pid: number, addr: number): boolean {
    this.letGo(tid);
    const ok = this.nat.continueFromBreakpoint(tid, pid, addr);
    if (this.guardian) mirrorThread(this.guardian, this.table, tid);
    return ok;
  }

  listen(tid: number): boolean {
    this.letGo(tid);
    return this.nat.listen(tid);
  }

  /** Let go of a thread for good (it is removed from the table). */
  detachThread(tid: number, sig: number): void {
    if (tid === this.current.tid) this.current.resumed = true;
    this.nat.detach(tid, sig);
    this.table.removeThread(tid);
  }

  /** A thread of `proc` that is stopped now (the current stop's, or a held one), or 0. */
  stoppedTid(proc: Proc): number {
    const { tid, resumed } = this.current;
    if (tid && !resumed && this.table.thread(tid)?.proc === proc) return tid;
    const h = this.held.find((x) => this.table.thread(x.tid)?.proc === proc);
    return h ? h.tid : 0;
  }

  // ---- ending ----------------------------------------------------------------

  /**
   * The session ends when the program and every child it follows are gone:
   * asked whenever a process leaves the table (the program's end, and a fork
   * child let go after it, whichever comes last).
   */
  endIfAllGone(): void {
    if (this.mainStatus && !this.status && !this.table.allProcesses().some((p) => !p.silent)) this.finish(this.mainStatus);
  }

  finish(status: ExitStatus | null, err?: Error): void {
    if (this.status) return;
    this.status = status ?? { pid: this.pid, code: null, signal: null, detached: true };
    if (this.exitGuard) process.removeListener('exit', this.exitGuard);
    this.exitGuard = null;
    if (this.guardian) releaseGuardian(this.guardian);
    this.guardian = null;
    this.nat.setActive(false);
    this.nat.close();
    if (this.status.detached && !this.options.attached) this.reapLater();
    if (this.startupWaiter) {
      this.startupWaiter.reject(err ?? new RethookError('tracing ended during startup', 'ESTARTUP'));
      this.startupWaiter = null;
    }
    const w = this.exitWaiter;
    this.exitWaiter = null;
    if (!w) return;
    if (err) return w.reject(err);
    const ended = this.status;
    this.afterHandlers(() => (this.lateHandlerFailure ? w.reject(this.lateHandlerFailure) : w.resolve(ended)));
  }

  /** Run `then` once no promise a handler returned is pending (at once when none is). */
  private afterHandlers(then: () => void): void {
    if (!this.handlerPromises.size) return then();
    void Promise.allSettled([...this.handlerPromises]).then(() => this.afterHandlers(then));
  }

  /** A program we started and let go is still our child: wait for it when it exits (no zombie). */
  private reapLater(): void {
    const timer = setInterval(() => {
      const st = this.nat.reap(this.pid);
      if (st === -1) return;
      clearInterval(timer);
      const w = this.releasedWaiter;
      this.releasedWaiter = null;
      if (st === -2) w?.resolve({ pid: this.pid, code: null, signal: null, detached: true });
      else if ((st & 0x7f) === 0) w?.resolve({ pid: this.pid, code: (st >> 8) & 0xff, signal: null, detached: false });
      else w?.resolve({ pid: this.pid, code: null, signal: signalName(st & 0x7f), detached: false });
    }, this.releasedWaiter ? 20 : 200);
    if (!this.releasedWaiter) timer.unref();
  }

  private releasedWaiter: Waiter<ExitStatus> | null = null;

  /**
   * After detaching from a program we started: resolves with how it ends
   * (it is still our child). Call before detaching. Resolves at once with
   * the session's status when it did not end detached.
   */
  releasedExit(): Promise<ExitStatus> {
    if (this.status && !this.status.detached) return Promise.resolve(this.status);
    if (this.options.attached) return Promise.resolve(this.status ?? { pid: this.pid, code: null, signal: null, detached: true });
    const p = new Promise<ExitStatus>((resolve, reject) => (this.releasedWaiter = { resolve, reject }));
    if (this.status) this.reapLater(); // already let go: look again, keeping Node alive meanwhile
    return p;
  }

  checkUsable(): void {
    if (this.status) {
      // How it ended comes with the error (the CLI reports a program that ended early as its exit).
      const e = new RethookError('the traced program has exited or the tracer detached', 'ESTATE');
      if (!this.status.detached) Object.assign(e, { status: this.status });
      throw e;
    }
  }
}
