// The engine's contract with a way of catching calls that lives beside its
// own breakpoints and trampoline (trap mode): fast mode (lib/fast/) is one.
// The engine calls a mode at each point of a process's life and names none
// of its functions; the facade hands the session its modes (Session.modes).
// A mode keeps its own state per process and does nothing where it has none.
// As frida-gum's backends behind one interceptor: what the engine asks of
// every mode is here, and only here.
import type { Hook } from '../hook';
import type { RethookNode } from '../rethook';
import type { FunctionSymbol } from '../symbols/modules';
import type { Proc, Site, ThreadState } from './traced';

/** What a mode keeps of one thread's calls in flight (copied at a fork, put back at an undo): its own business. */
export type ModeNodes = unknown;

/** `S`: the session a mode works in (engine/session.ts: Session), named by it so that this contract imports nothing above it. */
export interface CallMode<S> {
  /** Its name in messages ('fast'). */
  readonly name: string;

  // ---- hooks ----------------------------------------------------------------
  /**
   * Hook `fn` for `hook` this way (`fresh`: just loaded, no thread can be in
   * it). True, or why not (then the engine hooks it with a breakpoint);
   * `whyNot`: the engine's reason this function must not be caught this way.
   */
  plant(s: S, proc: Proc, hook: Hook, fn: FunctionSymbol, fresh: boolean, whyNot: string | null): true | string;
  /** Whether the function at `address` is hooked this way in `proc`. */
  has(proc: Proc, address: number): boolean;
  /** Take `hook` off the function at `address`; false when it is not hooked this way there. */
  unplant(proc: Proc, address: number, hook: Hook): boolean;
  /** Code in the addresses `inside` says is gone (dlclose): forget what was hooked there. */
  forgetCode(proc: Proc, inside: (addr: number) => boolean): void;

  // ---- stops ----------------------------------------------------------------
  /** Before any stop of `th` is handled: what it recorded is delivered first, so the order is kept. */
  beforeStop(s: S, th: ThreadState): void;
  /** A trap at `addr`: handled, when it is the mode's own (true). */
  ownTrap(s: S, th: ThreadState, addr: number): boolean;
  /**
   * At a trap-mode entry of `site` (stack pointer `sp`, return address `ret`;
   * at a return, `ret` undefined): calls whose frames are gone end first.
   */
  reapDead(s: S, th: ThreadState, sp: number, ret?: number): void;
  /** How many calls of thread `tid` are in flight on this mode's own stack (a trap-mode call's depth counts them). */
  callsInFlight(proc: Proc, tid: number): number;
  /** Whether a breakpoint entry of `site` is a fallback of this mode's (a function it wanted and could not take). */
  takesFallback(th: ThreadState, site: Site): boolean;
  /**
   * A fallback's entry (takesFallback): the mode takes the call on its own
   * stack (true), or trap mode does (false). Never for a tail call or Go code.
   */
  fallbackEntry(s: S, th: ThreadState, site: Site, addr: number, sp: number, ret: number): boolean;

  // ---- threads and processes ------------------------------------------------
  threadStart(s: S, th: ThreadState): void;
  threadGone(s: S, th: ThreadState): void;
  exec(s: S, proc: Proc): void;
  /** A followed child `child` of `parent`'s process; a vfork child shares its memory until it execs or exits. */
  childFollowed(s: S, parent: ThreadState, child: Proc, vfork: boolean): void;
  /** A vfork child of `parent` that is not followed: it runs on the parent's memory until it is let go. */
  vforkChildReleased(s: S, parent: ThreadState, child: number): void;
  /** A followed vfork child stops sharing its parent's memory (`reason`: it exec'd or exited). */
  vforkChildDone(s: S, child: Proc, reason: 'exec' | 'thread-exit'): void;
  /** The parent of a vfork child runs again on its own (vfork-done). */
  vforkDone(s: S, parent: Proc, tid: number): void;

  // ---- undoing --------------------------------------------------------------
  /** Thread `tid`'s calls in flight that this mode hijacked the returns of. */
  nodesOf(proc: Proc, tid: number): ModeNodes;
  /**
   * Put back in `into` what this mode did to `from` (the same process when
   * leaving it; a fork child holds a copy of its parent's changes).
   */
  undo(s: S, from: Proc, into: Proc, threads: readonly { tid: number; nodes: ModeNodes; stopped: boolean }[], leaving: boolean): void;
  /** Deliver everything recorded so far. */
  drain(s: S): void;

  // ---- unwinding ------------------------------------------------------------
  /** The unwinder is about to walk the thread's stack: real return addresses back. */
  beforeUnwind(s: S, th: ThreadState): void;
  /** After a backtrace's walk: hijacked again. */
  afterBacktrace(th: ThreadState): void;
  /** A catch begins: calls `firstDead` says the exception removed end; the rest are hijacked again. */
  atCatch(s: S, th: ThreadState, firstDead: (nodes: readonly RethookNode[]) => number): void;
}
