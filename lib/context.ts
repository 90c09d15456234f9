// What handlers see. A context is valid only while its handler runs: the
// thread is stopped then, and its registers are the ones read and written.
import type { UnwindReason } from './rethook';
import { callValues, filledValues, returnValue, ValueHost } from './types/calls';
import type { Signature, TypedCall, TypedValue } from './types/model';

/**
 * The tracer-side operations a context needs, for the one stopped thread the
 * context belongs to (engine/context-host.ts; never part of the public API).
 * @internal
 */
export interface ContextHost extends ValueHost {
  readMemory(addr: number | bigint, length: number): Buffer;
  readCString(addr: number | bigint, max?: number): string;
  setReturnValue(value: bigint): void;
  fpRetval(): number;
  setFpRetval(value: number): void;
  resolveFunction(target: string | number): { address: number; size: number };
  backtrace(fnAddr: number, returnAddress: number): Backtrace;
}

/** The integer argument registers of a call: at least six (x86-64 has six, arm64 eight). */
export type CallArgs = readonly [bigint, bigint, bigint, bigint, bigint, bigint, ...bigint[]];

/** What a context says about its call. @internal */
export interface CallInfo {
  pid: number;
  tid: number;
  fn: string;
  address: number;
  /** The integer argument registers, or a function giving them (made when first asked for: fast mode). */
  args: readonly bigint[] | (() => readonly bigint[]);
  returnAddress: number;
  stackPointer: number;
  depth: number;
  inherited: boolean;
  /** Go programs: the goroutine's id. */
  goroutine?: number;
  /** The call's signature and values, when one is known. */
  typed?: TypedCall | null;
  /** Monotonic ns when the entry stop was taken. */
  /** Or a function giving it (made when first asked for: fast mode). */
  entryTs: bigint | (() => bigint);
}

/** How a call ended, for an ExitContext. @internal */
export interface ExitInfo {
  /** Null when the call did not return (unwound). */
  retval: bigint | null;
  durationNs: bigint;
  unwound: boolean;
  reason: UnwindReason | null;
  /** Monotonic ns when the return (or unwinding) was seen. */
  /** Or a function giving it (fast mode). */
  timestampNs: bigint | (() => bigint);
}

export interface BacktraceFrame {
  address: number;
  /** `module!function+0xoff`, or `module+0xoff`, or the bare address. */
  symbol: string;
  /** Source file and line (`kvstore.c:21`) when debug information has them. */
  source?: string;
}

export interface Backtrace {
  /** Innermost first: the hooked function, where it returns to, and on out. */
  frames: BacktraceFrame[];
  /**
   * False when the trace cannot be vouched for: the unwinder stopped before
   * the outermost frame, a frame had no call frame information (or, without
   * any, the frame-pointer chain broke), or a trampoline on the stack had no
   * call of ours to stand for.
   */
  reliable: boolean;
}

export class CallContext {
  /** Per-call storage: what onEntry puts here, onExit of the same call sees. */
  data: unknown = undefined;
  /** @internal */ _live = true;

  readonly pid: number;
  readonly tid: number;
  /** Name of the hooked function (demangled for C++). */
  readonly function: string;
  readonly address: number;
  /** @internal */ private argsOrMaker: readonly bigint[] | (() => readonly bigint[]);
  /** Where the call returns to (the real address, never the trampoline). */
  readonly returnAddress: number;
  /** Stack pointer at the function's first instruction: identifies the frame. */
  readonly stackPointer: number;
  /** Nesting of hooked calls on this thread (0 = outermost). */
  readonly depth: number;
  /**
   * The call was made in the parent before a fork and is in flight in this
   * followed child too (its entry event has the parent's pid).
   */
  readonly inherited: boolean;
  /**
   * Go programs only: the goroutine that made the call, by Go's own goroutine
   * id (`goroutine 18 [running]` in its tracebacks), read from the runtime's
   * g at the entry; in a Go binary without debug information, the address of
   * its g. Calls nest per goroutine (`depth` counts its calls), whichever
   * threads run it. Undefined in other programs.
   */
  readonly goroutine: number | undefined;
  /** @internal */ protected readonly typed: TypedCall | null;

  /** @internal */
  constructor(/** @internal */ protected readonly host: ContextHost, call: CallInfo) {
    this.pid = call.pid;
    this.tid = call.tid;
    this.function = call.fn;
    this.address = call.address;
    this.argsOrMaker = call.args;
    this.returnAddress = call.returnAddress;
    this.stackPointer = call.stackPointer;
    this.depth = call.depth;
    this.inherited = call.inherited;
    this.goroutine = call.goroutine;
    this.typed = call.typed ?? null;
  }

  /**
   * The first integer arguments (6 on x86-64, 8 on arm64), as at entry.
   * Typed with the six every architecture has: `ctx.args[1]` is a bigint
   * under `noUncheckedIndexedAccess` too.
   */
  get args(): CallArgs {
    const a = this.argsOrMaker;
    return (typeof a === 'function' ? (this.argsOrMaker = a()) : a) as CallArgs;
  }

  /**
   * The arguments by name and type (from debug information, the built-in
   * prototypes or the hook's spec), as many as the function has; null when
   * no signature is known (then only `args` tells). Read at entry (strings
   * too) the first time they are asked for, and kept for the exit.
   */
  get values(): TypedValue[] | null {
    this.check();
    if (!this.typed?.sig) return null;
    return callValues(this.typed, this.args, this.stackPointer, this.host);
  }

  /** The signature the values are read by (its `source`: dwarf, prototype or spec), or null. */
  get signature(): Signature | null {
    return this.typed?.sig ?? null;
  }

  /** An argument's value by name (`ctx.arg('key')`) or position; undefined when there is none. */
  arg(which: string | number): TypedValue['value'] {
    const vs = this.values;
    if (!vs) return undefined;
    const v = typeof which === 'number' ? vs[which] : vs.find((x) => x.name === which);
    return v?.value;
  }

  protected check(): void {
    if (!this._live) throw new Error('rethook: a context was used after its handler returned');
  }

  readMemory(addr: number | bigint, length: number): Buffer {
    this.check();
    return this.host.readMemory(addr, length);
  }

  readCString(addr: number | bigint, max = 4096): string {
    this.check();
    return this.host.readCString(addr, max);
  }

  /** The thread's call stack, symbolized, with trampoline addresses replaced by the real ones. */
  backtrace(): Backtrace {
    this.check();
    return this.host.backtrace(this.address, this.returnAddress);
  }
}

export type EntryAction =
  | { kind: 'continue' }
  | { kind: 'skip'; retval: bigint }
  | { kind: 'redirect'; address: number };

/** EntryContexts made in this process: what tests read to see that a path makes no object per call (RETHOOK_TEST_CONTEXTS, lib/cli/commands/trace.ts). */
export const contextsMade = { entries: 0 };

export class EntryContext extends CallContext {
  /** @internal */ _action: EntryAction = { kind: 'continue' };
  /** @internal */ private ts: bigint | (() => bigint);

  /** @internal */
  constructor(host: ContextHost, call: CallInfo) {
    super(host, call);
    this.ts = call.entryTs;
    contextsMade.entries++;
  }

  /**
   * When the call was entered: CLOCK_MONOTONIC in ns (process.hrtime.bigint()),
   * taken as the tracer took the entry stop, before any onEntry handler ran
   * (fast mode: from the cycle counter the recorder read at the call).
   */
  get timestampNs(): bigint {
    const t = this.ts;
    return typeof t === 'function' ? (this.ts = t()) : t;
  }

  /** Do not run the function: return `retval` to its caller at once (no onExit). */
  skip(retval: bigint | number = 0n): void {
    this.check();
    this._action = { kind: 'skip', retval: BigInt.asUintN(64, BigInt(retval)) };
  }

  /**
   * Run another function of the tracee (same signature) instead. Calls made
   * from inside the replacement itself are not redirected, so it may call the
   * original. onExit still runs when the replacement returns.
   */
  redirect(target: string | number): void {
    this.check();
    const fn = this.host.resolveFunction(target);
    if (this.returnAddress >= fn.address && this.returnAddress < fn.address + Math.max(fn.size, 1)) return;
    this._action = { kind: 'redirect', address: fn.address };
  }
}

export class ExitContext extends CallContext {
  /**
   * Integer return value register (rax / x0); null when unwound: a call that
   * did not return has no return value (as `returnValue`, and JSON's `retval`).
   */
  readonly retval: bigint | null;
  /**
   * From the moment the call was let go (after its onEntry handlers) to the
   * moment its return was seen: it includes the tracer's round trip (a
   * resume, and the stop at the return), some microseconds.
   */
  readonly durationNs: bigint;
  /** True when the function did not return: its frame was unwound. */
  readonly unwound: boolean;
  readonly reason: UnwindReason | null;
  /** @internal */ private ts: bigint | (() => bigint);
  /** @internal */ private entryTs: bigint | (() => bigint);

  /** @internal */
  constructor(host: ContextHost, call: CallInfo, exit: ExitInfo) {
    super(host, call);
    this.ts = exit.timestampNs;
    this.entryTs = call.entryTs;
    this.retval = exit.retval;
    this.durationNs = exit.durationNs;
    this.unwound = exit.unwound;
    this.reason = exit.reason;
  }

  /** When the return (or the unwinding) was seen: CLOCK_MONOTONIC in ns, as EntryContext.timestampNs. */
  get timestampNs(): bigint {
    const t = this.ts;
    return typeof t === 'function' ? (this.ts = t()) : t;
  }

  /** The timestampNs of this call's entry. */
  get entryTimestampNs(): bigint {
    const t = this.entryTs;
    return typeof t === 'function' ? (this.entryTs = t()) : t;
  }

  /**
   * The return value by its type (`{ type: 'int', value: 0, text: '0' }`,
   * a double from xmm0 / d0, a string read now); `kind: 'void'` for a void
   * function; null when unwound or when its type is not known.
   */
  get returnValue(): TypedValue | null {
    this.check();
    if (this.retval === null || !this.typed?.sig) return null;
    return returnValue(this.typed, this.retval, this.host);
  }

  /**
   * The `char *` arguments the function may have filled in (pointers to
   * characters that are not const, by debug information, the built-in
   * prototypes or the hook's spec), read again at the return, as ltrace
   * shows them: snprintf's buffer holds the string it wrote (its entry value
   * was what the buffer held before). [] when the function has none; null
   * when unwound, when no signature is known, or in fast mode (the recorder
   * copies strings at the call only: the buffer read later may hold
   * something else by then).
   */
  get filled(): TypedValue[] | null {
    this.check();
    if (this.retval === null || !this.typed?.sig || !this.host.stoppedAtCall) return null;
    return filledValues(this.typed, this.args, this.stackPointer, this.host);
  }

  /** Floating-point return value (xmm0 / d0) as a double. */
  get fpRetval(): number {
    this.check();
    return this.unwound ? 0 : this.host.fpRetval();
  }

  /** Replace the integer return value the caller sees. */
  setReturnValue(value: bigint | number): void {
    this.check();
    if (this.unwound) throw new Error('rethook: an unwound call has no return value to replace');
    this.host.setReturnValue(BigInt.asUintN(64, BigInt(value)));
  }

  /** Replace the floating-point return value the caller sees. */
  setFpReturnValue(value: number): void {
    this.check();
    if (this.unwound) throw new Error('rethook: an unwound call has no return value to replace');
    this.host.setFpRetval(value);
  }
}
