import type { Hook } from './hook';
import { NativeTracer } from './native';
import { InjectedPages } from './pages';
import { ShadowStack } from './rethook';
import type { FunctionSymbol, Module } from './symbols';
export declare function hex(n: number | bigint): string;
/** A breakpoint of ours: user hooks on a function, and/or an internal handler (r_brk, the unwinder). */
export interface Site {
    address: number;
    fn: FunctionSymbol | null;
    /** User hooks on this function, in the order they were added. */
    hooks: Hook[];
    internal?: (th: ThreadState, addr: number) => 'continue' | 'hold';
}
export interface ThreadState {
    tid: number;
    proc: Proc;
    stack: ShadowStack;
}
export declare class Proc {
    readonly pid: number;
    readonly pages: InjectedPages;
    readonly modules: Map<string, Module>;
    readonly sites: Map<number, Site>;
    /** Breakpoints removed while threads ran: a trap already raised there is stale, not the program's. */
    readonly removed: Set<number>;
    readonly threads: Map<number, ThreadState>;
    rDebug: number;
    /** IFUNC resolver address -> implementation it picked (0: none). */
    readonly ifuncs: Map<number, number>;
    phase: 'find-r_brk' | 'exec-exit' | 'ready';
    /** A vfork child we do not follow: traced only until it execs, its breakpoints stepped over silently. */
    silent: boolean;
    startupDone: boolean;
    constructor(nat: NativeTracer, pid: number);
    /** The function starting exactly at `addr`. */
    functionAt(addr: number): FunctionSymbol;
    /** The function containing `addr`, if its size is known. */
    functionNameAt(addr: number): string | null;
    /** `module!function+0xoff`, `module+0xoff`, or the bare address. */
    symbolize(addr: number): string;
    inSomeModule(addr: number): boolean;
    /**
     * The mapping of a thread's own stack: [stack] for the main thread (sp < 0),
     * else the mapping holding `sp`, taken where the thread is surely on its own
     * stack (its first stop after clone or attach). [stack] grows: its range
     * reaches 64 MiB below the mapping.
     */
    stackRange(sp: number): [number, number];
    /**
     * A CET user shadow stack would fault on our rewritten return addresses
     * (the kernel updates it for its own uretprobes; ptrace cannot): refuse.
     */
    refuseShadowStack(): void;
}
