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

/** One thread's nodes, innermost last. */
export class ShadowStack {
  readonly nodes: RethookNode[] = [];

  get depth(): number {
    return this.nodes.length;
  }

  top(): RethookNode | undefined {
    return this.nodes[this.nodes.length - 1];
  }

  /**
   * At a function entry with stack pointer `sp`: the nodes whose frames can
   * no longer be live (longjmp went past them). With `tailCall` the frame at
   * `sp` itself is live: the tail-calling function's node shares it.
   */
  reapAtEntry(sp: number, tailCall: boolean): RethookNode[] {
    const dead: RethookNode[] = [];
    for (let t = this.top(); t && (t.frame < sp || (!tailCall && t.frame === sp)); t = this.top()) {
      dead.push(this.nodes.pop()!);
    }
    return dead;
  }

  /**
   * At a return into the trampoline of the frame `frame`: the unwound nodes
   * below it, and the returning nodes (innermost first; more than one after
   * tail calls). The last returning node holds the real return address.
   */
  popReturn(frame: number): { unwound: RethookNode[]; returning: RethookNode[] } {
    const unwound: RethookNode[] = [];
    const returning: RethookNode[] = [];
    for (let t = this.top(); t && t.frame < frame; t = this.top()) unwound.push(this.nodes.pop()!);
    for (let t = this.top(); t && t.frame === frame; t = this.top()) {
      returning.push(this.nodes.pop()!);
      if (!t.chained) break;
    }
    return { unwound, returning };
  }

  /** Nodes at or below `sp` (an exception unwound them), innermost first. */
  popAtOrBelow(sp: number): RethookNode[] {
    const dead: RethookNode[] = [];
    for (let t = this.top(); t && t.frame <= sp; t = this.top()) dead.push(this.nodes.pop()!);
    return dead;
  }

  /** Everything, innermost first (thread exit, detach). */
  drain(): RethookNode[] {
    return this.nodes.splice(0).reverse();
  }
}
