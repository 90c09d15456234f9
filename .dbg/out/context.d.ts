import type { UnwindReason } from './rethook';
/** The tracer-side operations a context needs (implemented by Tracer). */
export interface ContextHost {
    readMemory(pid: number, addr: number | bigint, length: number): Buffer;
    readCString(pid: number, addr: number | bigint, max?: number): string;
    setRegister(index: number, value: bigint): void;
    fpRetval(tid: number): number;
    setFpRetval(tid: number, value: number): void;
    resolveFunction(pid: number, target: string | number): {
        address: number;
        size: number;
    };
    backtrace(tid: number, fnAddr: number, returnAddress: number): Backtrace;
}
export interface BacktraceFrame {
    address: number;
    /** `module!function+0xoff`, or `module+0xoff`, or the bare address. */
    symbol: string;
}
export interface Backtrace {
    /** Innermost first: the hooked function, where it returns to, and on out. */
    frames: BacktraceFrame[];
    /**
     * False when the trace cannot be vouched for: the frame-pointer chain broke
     * before the outermost frame (code without frame pointers), or a trampoline
     * on the stack had no call of ours to stand for.
     */
    reliable: boolean;
}
export declare class CallContext {
    /** @internal */ protected readonly host: ContextHost;
    readonly pid: number;
    readonly tid: number;
    readonly address: number;
    /** The first integer arguments (6 on x86-64), as at entry. */
    readonly args: readonly bigint[];
    /** Where the call returns to (the real address, never the trampoline). */
    readonly returnAddress: number;
    /** Stack pointer at the function's first instruction: identifies the frame. */
    readonly stackPointer: number;
    /** Nesting of hooked calls on this thread (0 = outermost). */
    readonly depth: number;
    /** Per-call storage: what onEntry puts here, onExit of the same call sees. */
    data: unknown;
    /** @internal */ _live: boolean;
    /** Name of the hooked function (demangled for C++). */
    readonly function: string;
    constructor(
    /** @internal */ host: ContextHost, pid: number, tid: number, fn: string, address: number, 
    /** The first integer arguments (6 on x86-64), as at entry. */
    args: readonly bigint[], 
    /** Where the call returns to (the real address, never the trampoline). */
    returnAddress: number, 
    /** Stack pointer at the function's first instruction: identifies the frame. */
    stackPointer: number, 
    /** Nesting of hooked calls on this thread (0 = outermost). */
    depth: number);
    protected check(): void;
    readMemory(addr: number | bigint, length: number): Buffer;
    readCString(addr: number | bigint, max?: number): string;
    /** The thread's call stack, symbolized, with trampoline addresses replaced by the real ones. */
    backtrace(): Backtrace;
}
export type EntryAction = {
    kind: 'continue';
} | {
    kind: 'skip';
    retval: bigint;
} | {
    kind: 'redirect';
    address: number;
};
export declare class EntryContext extends CallContext {
    /** @internal */ _action: EntryAction;
    /** Do not run the function: return `retval` to its caller at once (no onExit). */
    skip(retval?: bigint | number): void;
    /**
     * Run another function of the tracee (same signature) instead. Calls made
     * from inside the replacement itself are not redirected, so it may call the
     * original. onExit still runs when the replacement returns.
     */
    redirect(target: string | number): void;
}
export declare class ExitContext extends CallContext {
    /** Integer return value register (rax / x0); 0n when unwound. */
    readonly retval: bigint;
    readonly durationNs: bigint;
    /** True when the function did not return: its frame was unwound. */
    readonly unwound: boolean;
    readonly reason: UnwindReason | null;
    private readonly retvalIndex;
    constructor(host: ContextHost, pid: number, tid: number, fn: string, address: number, args: readonly bigint[], returnAddress: number, stackPointer: number, depth: number, 
    /** Integer return value register (rax / x0); 0n when unwound. */
    retval: bigint, durationNs: bigint, 
    /** True when the function did not return: its frame was unwound. */
    unwound: boolean, reason: UnwindReason | null, retvalIndex: number);
    /** Floating-point return value (xmm0 / d0) as a double. */
    get fpRetval(): number;
    /** Replace the integer return value the caller sees. */
    setReturnValue(value: bigint | number): void;
    /** Replace the floating-point return value the caller sees. */
    setFpReturnValue(value: number): void;
}
