/** Why a node ended without its function returning through the trampoline. */
export type UnwindReason = 'longjmp' | 'thread-exit' | 'exception' | 'exec' | 'detach';
export interface RethookOwner {
    readonly pool: NodePool;
    /** False once the hook is removed: its nodes still resume correctly, without handlers. */
    readonly live: boolean;
}
export declare class RethookNode {
    owner: RethookOwner;
    /** Stack pointer at entry. */
    frame: number;
    /** Where the function really returns to. */
    realRet: number;
    /** Entered by a tail call: the return address was already the trampoline. */
    chained: boolean;
    fnName: string;
    fnAddr: number;
    entryNs: bigint;
    args: bigint[];
    data: unknown;
    depth: number;
    /** The real return address was put back (an unwinder is walking the stack). */
    restored: boolean;
    /** Pushed while the thread ran on another stack than its own (a sigaltstack handler). */
    altStack: boolean;
}
/** A hook's nodes: at most maxActive calls in flight; the rest are counted as missed. */
export declare class NodePool {
    readonly maxActive: number;
    active: number;
    nmissed: number;
    private free;
    constructor(maxActive: number);
    take(owner: RethookOwner): RethookNode | null;
    give(n: RethookNode): void;
}
/**
 * One thread's nodes, innermost last.
 *
 * Frames are compared by stack pointer only within one stack. A signal
 * handler on a sigaltstack runs on another stack, possibly at higher
 * addresses: its frames and the interrupted ones are not comparable. So each
 * node remembers whether it was pushed on the thread's own stack (`range`);
 * alternate-stack nodes are always innermost while their handler runs, and
 * once the thread is back on its own stack they are dead.
 */
export declare class ShadowStack {
    readonly nodes: RethookNode[];
    /** The thread's own stack, [lo, hi); null until known (then every frame counts as on it). */
    range: [number, number] | null;
    get depth(): number;
    top(): RethookNode | undefined;
    onOwnStack(sp: number): boolean;
    push(n: RethookNode): void;
    /**
     * Pop the top nodes that are dead for a thread now at stack pointer `sp`:
     * those on an alternate stack once back on the own stack, and, on the same
     * stack, those below `sp` (or at it, with `inclusive`).
     */
    private popDead;
    /**
     * At a function entry with stack pointer `sp`: the nodes whose frames can
     * no longer be live (longjmp went past them). With `tailCall` the frame at
     * `sp` itself is live: the tail-calling function's node shares it.
     */
    reapAtEntry(sp: number, tailCall: boolean): RethookNode[];
    /**
     * At a return into the trampoline of the frame `frame`: the unwound nodes
     * below it, and the returning nodes (innermost first; more than one after
     * tail calls). The last returning node holds the real return address.
     */
    popReturn(frame: number): {
        unwound: RethookNode[];
        returning: RethookNode[];
    };
    /** Nodes at or below `sp` (an exception unwound them), innermost first. */
    popAtOrBelow(sp: number): RethookNode[];
    /** Everything, innermost first (thread exit, detach). */
    drain(): RethookNode[];
}
