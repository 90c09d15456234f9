"use strict";
// The generic part of return hooking (the kernel's kernel/trace/rethook.c in
// user space): node pools, per-thread shadow stacks, frame matching, tail
// calls and frames that were unwound without returning. Nothing here touches
// the tracee; tracer.ts applies the decisions.
//
// A frame is identified by the stack pointer at the function's first
// instruction. A function returning through the trampoline arrives with
// sp = frame + arch.returnPops.
Object.defineProperty(exports, "__esModule", { value: true });
exports.ShadowStack = exports.NodePool = exports.RethookNode = void 0;
class RethookNode {
    owner;
    /** Stack pointer at entry. */
    frame = 0;
    /** Where the function really returns to. */
    realRet = 0;
    /** Entered by a tail call: the return address was already the trampoline. */
    chained = false;
    fnName = '';
    fnAddr = 0;
    entryNs = 0n;
    args = [];
    data = undefined;
    depth = 0;
    /** The real return address was put back (an unwinder is walking the stack). */
    restored = false;
    /** Pushed while the thread ran on another stack than its own (a sigaltstack handler). */
    altStack = false;
}
exports.RethookNode = RethookNode;
/** A hook's nodes: at most maxActive calls in flight; the rest are counted as missed. */
class NodePool {
    maxActive;
    active = 0;
    nmissed = 0;
    free = [];
    constructor(maxActive) {
        this.maxActive = maxActive;
    }
    take(owner) {
        if (this.active >= this.maxActive) {
            this.nmissed++;
            return null;
        }
        this.active++;
        const n = this.free.pop() ?? new RethookNode();
        n.owner = owner;
        return n;
    }
    give(n) {
        this.active--;
        n.restored = false;
        n.args = [];
        n.data = undefined;
        this.free.push(n);
    }
}
exports.NodePool = NodePool;
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
class ShadowStack {
    nodes = [];
    /** The thread's own stack, [lo, hi); null until known (then every frame counts as on it). */
    range = null;
    get depth() {
        return this.nodes.length;
    }
    top() {
        return this.nodes[this.nodes.length - 1];
    }
    onOwnStack(sp) {
        return !this.range || (sp >= this.range[0] && sp < this.range[1]);
    }
    push(n) {
        n.altStack = !this.onOwnStack(n.frame);
        this.nodes.push(n);
    }
    /**
     * Pop the top nodes that are dead for a thread now at stack pointer `sp`:
     * those on an alternate stack once back on the own stack, and, on the same
     * stack, those below `sp` (or at it, with `inclusive`).
     */
    popDead(sp, inclusive) {
        const alt = !this.onOwnStack(sp);
        const dead = [];
        for (let t = this.top(); t; t = this.top()) {
            if (t.altStack !== alt) {
                if (alt)
                    break; // the interrupted frames on the own stack are alive
            }
            else if (!(t.frame < sp || (inclusive && t.frame === sp)))
                break;
            dead.push(this.nodes.pop());
        }
        return dead;
    }
    /**
     * At a function entry with stack pointer `sp`: the nodes whose frames can
     * no longer be live (longjmp went past them). With `tailCall` the frame at
     * `sp` itself is live: the tail-calling function's node shares it.
     */
    reapAtEntry(sp, tailCall) {
        return this.popDead(sp, !tailCall);
    }
    /**
     * At a return into the trampoline of the frame `frame`: the unwound nodes
     * below it, and the returning nodes (innermost first; more than one after
     * tail calls). The last returning node holds the real return address.
     */
    popReturn(frame) {
        const unwound = this.popDead(frame, false);
        const returning = [];
        for (let t = this.top(); t && t.frame === frame; t = this.top()) {
            returning.push(this.nodes.pop());
            if (!t.chained)
                break;
        }
        return { unwound, returning };
    }
    /** Nodes at or below `sp` (an exception unwound them), innermost first. */
    popAtOrBelow(sp) {
        return this.popDead(sp, true);
    }
    /** Everything, innermost first (thread exit, detach). */
    drain() {
        return this.nodes.splice(0).reverse();
    }
}
exports.ShadowStack = ShadowStack;
