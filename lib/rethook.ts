// The generic part of return hooking (the kernel's kernel/trace/rethook.c in
// user space): node pools, per-thread shadow stacks, frame matching, tail
// calls and frames that were unwound without returning. Nothing here touches
// the tracee; tracer.ts applies the decisions.
//
// A frame is identified by the stack pointer at the function's first
// instruction. A function returning through the trampoline arrives with
// sp = frame + arch.returnPops.

/** Why a node ended without its function returning through the trampoline. */
export type UnwindReason = 'longjmp' | 'thread-exit' | 'exception' | 'exec' | 'detach';

export interface RethookOwner {
  readonly pool: NodePool;
  /** False once the hook is removed: its nodes still resume correctly, without handlers. */
  readonly live: boolean;
}

export class RethookNode {
  owner!: RethookOwner;
  /** Stack pointer at entry. */
  frame = 0;
  /** Where the function really returns to. */
  realRet = 0;
  /** Entered by a tail call: the return address was already the trampoline. */
  chained = false;
  fnName = '';
  fnAddr = 0;
  entryNs = 0n;
  args: bigint[] = [];
  data: unknown = undefined;
  depth = 0;
  /** The real return address was put back (an unwinder is walking the stack). */
  restored = false;
  /** Pushed while the thread ran on another stack than its own (a sigaltstack handler). */
  altStack = false;
}

/** A hook's nodes: at most maxActive calls in flight; the rest are counted as missed. */
export class NodePool {
  active = 0;
  nmissed = 0;
  private free: RethookNode[] = [];
  constructor(readonly maxActive: number) {}

  take(owner: RethookOwner): RethookNode | null {
    if (this.active >= this.maxActive) {
      this.nmissed++;
      return null;
    }
    this.active++;
    const n = this.free.pop() ?? new RethookNode();
    n.owner = owner;
    return n;
  }

  give(n: RethookNode): void {
    this.active--;
    n.restored = false;
    n.args = [];
    n.data = undefined;
    this.free.push(n);
  }
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
export class ShadowStack {
  readonly nodes: RethookNode[] = [];
  /** The thread's own stack, [lo, hi); null until known (then every frame counts as on it). */
  range: [number, number] | null = null;

  get depth(): number {
    return this.nodes.length;
  }

  top(): RethookNode | undefined {
    return this.nodes[this.nodes.length - 1];
  }

  onOwnStack(sp: number): boolean {
    return !this.range || (sp >= this.range[0] && sp < this.range[1]);
  }

  push(n: RethookNode): void {
    n.altStack = !this.onOwnStack(n.frame);
    this.nodes.push(n);
  }

  /**
   * Pop the top nodes that are dead for a thread now at stack pointer `sp`:
   * those on an alternate stack once back on the own stack, and, on the same
   * stack, those below `sp` (or at it, with `inclusive`).
   */
  private popDead(sp: number, inclusive: boolean): RethookNode[] {
    const alt = !this.onOwnStack(sp);
    const dead: RethookNode[] = [];
    for (let t = this.top(); t; t = this.top()) {
      if (t.altStack !== alt) {
        if (alt) break; // the interrupted frames on the own stack are alive
      } else if (!(t.frame < sp || (inclusive && t.frame === sp))) break;
      dead.push(this.nodes.pop()!);
    }
    return dead;
  }

  /**
   * At a function entry with stack pointer `sp`: the nodes whose frames can
   * no longer be live (longjmp went past them). With `tailCall` the frame at
   * `sp` itself is live: the tail-calling function's node shares it.
   */
  reapAtEntry(sp: number, tailCall: boolean): RethookNode[] {
    return this.popDead(sp, !tailCall);
  }

  /**
   * At a return into the trampoline of the frame `frame`: the unwound nodes
   * below it, and the returning nodes (innermost first; more than one after
   * tail calls). The last returning node holds the real return address.
   */
  popReturn(frame: number): { unwound: RethookNode[]; returning: RethookNode[] } {
    const unwound = this.popDead(frame, false);
    const returning: RethookNode[] = [];
    for (let t = this.top(); t && t.frame === frame; t = this.top()) {
      returning.push(this.nodes.pop()!);
      if (!t.chained) break;
    }
    return { unwound, returning };
  }

  /** Nodes at or below `sp` (an exception unwound them), innermost first. */
  popAtOrBelow(sp: number): RethookNode[] {
    return this.popDead(sp, true);
  }

  /** Everything, innermost first (thread exit, detach). */
  drain(): RethookNode[] {
    return this.nodes.splice(0).reverse();
  }
}
