// The generic part of return hooking (the kernel's kernel/trace/rethook.c in
// user space): node pools, per-thread shadow stacks, frame matching, tail
// calls and frames that were unwound without returning. Nothing here touches
// the tracee; tracer.ts applies the decisions.
//
// A frame is identified by the stack pointer at the function's first
// instruction. A function returning through the trampoline arrives with
// sp = frame + arch.returnPops.

import type { TypedCall } from './types/model';

/** Why a node ended without its function returning through the trampoline. */
export type UnwindReason = 'longjmp' | 'thread-exit' | 'exception' | 'exec' | 'detach';

/**
 * How a call's return is caught. 'trampoline': its return address is
 * replaced by the trampoline's (the kernel's rethook). 'site': its return
 * address is left alone and a breakpoint at that address (the instruction
 * after the call) catches the return, taken only by the thread and frame
 * that made the call (ltrace's way): for code that saves or inspects its
 * return address (setjmp, vfork, dlsym, Go).
 */
export type ReturnMode = 'trampoline' | 'site';

/**
 * Whether a node's frame is known to be gone from the stack (its return
 * slot overwritten: true), known to be intact (false), or unknown (null).
 */
export type FrameEvidence = (n: RethookNode) => boolean | null;

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
  /** Its thread's heldNs (tracee/process.ts) as entryNs was taken: what accrues after is the tracer's, not the call's. */
  heldAtEntry = 0n;
  /** Monotonic time (ns) the entry stop was taken, before any onEntry handler ran. */
  entryTs = 0n;
  args: bigint[] = [];
  data: unknown = undefined;
  depth = 0;
  /** The real return address was put back (an unwinder is walking the stack). */
  restored = false;
  /** Pushed while the thread ran on another stack than its own (a sigaltstack handler). */
  altStack = false;
  mode: ReturnMode = 'trampoline';
  /** Copied into a followed fork child: the call was made in its parent. */
  inherited = false;
  /** The call's signature and values (lib/types), or null when none is known. */
  typed: TypedCall | null = null;
  /** Go: the goroutine that made the call (see CallContext.goroutine); undefined elsewhere. */
  goroutine: number | undefined = undefined;
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
    n.inherited = false;
    n.typed = null;
    n.goroutine = undefined;
    n.mode = 'trampoline';
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
   * At a function entry with stack pointer `sp`: the nodes proven dead
   * (innermost first). A node below `sp` on the stack the thread is on is
   * only a suspect: a longjmp may have gone past it, or the thread may run a
   * coroutine on a stack inside a live frame above it (makecontext, fibers).
   * It is proven dead when the new call reuses its frame (frame == sp, but
   * for a tail call, whose caller shares the frame), when `gone` says its
   * return slot was overwritten (null: unknown, the position alone decides),
   * or when it was called by a proven-dead node (pushed later, frame below).
   * Suspects stay until a return proves them dead (popReturn), the thread
   * exits, or they return themselves.
   */
  reapAtEntry(sp: number, tailCall: boolean, gone: FrameEvidence = () => null): RethookNode[] {
    const alt = !this.onOwnStack(sp);
    // The candidates by position: the run of top nodes popDead would take.
    let first = this.nodes.length;
    while (first > 0) {
      const t = this.nodes[first - 1];
      if (t.altStack !== alt) {
        if (alt) break; // the interrupted frames on the own stack are alive
      } else if (!(t.frame < sp || (!tailCall && t.frame === sp))) break;
      first--;
    }
    const dead = new Set<RethookNode>();
    let deadFrame = -1; // frames below a proven-dead caller's on its stack are its callees'
    let deadAlt = false;
    for (let i = first; i < this.nodes.length; i++) {
      const n = this.nodes[i];
      const reused = n.altStack === alt && n.frame === sp && !tailCall;
      const callee = deadFrame >= 0 && n.altStack === deadAlt && n.frame < deadFrame;
      if (reused || callee || (gone(n) ?? true)) {
        dead.add(n);
        if (deadFrame < 0 || n.altStack !== deadAlt || n.frame > deadFrame) (deadFrame = n.frame), (deadAlt = n.altStack);
      }
    }
    if (!dead.size) return [];
    const out = this.nodes.filter((n) => dead.has(n)).reverse();
    this.nodes.splice(0, this.nodes.length, ...this.nodes.filter((n) => !dead.has(n)));
    return out;
  }

  /**
   * At a return of the frame `frame` (into the trampoline, or at a return
   * site): the unwound nodes and the returning ones (innermost first; more
   * than one after tail calls; the last holds the real return address).
   * `mine` tells which nodes may be the returning one (the mode that caught
   * the return). The returning node is the topmost match, even below calls
   * of a suspended coroutine (frames above it, which stay); the nodes above
   * it with frames below it were its callees and are unwound.
   */
  popReturn(frame: number, mine: (n: RethookNode) => boolean = () => true): { unwound: RethookNode[]; returning: RethookNode[] } {
    const unwound = this.popDead(frame, false);
    let i = this.nodes.length - 1;
    while (i >= 0 && !(this.nodes[i].frame === frame && mine(this.nodes[i]))) i--;
    if (i < 0) return { unwound, returning: [] };
    const above = this.nodes.splice(i + 1);
    const kept: RethookNode[] = [];
    const callees: RethookNode[] = [];
    const returningAlt = this.nodes[i].altStack;
    for (const n of above) (n.altStack === returningAlt && n.frame < frame ? callees : kept).push(n);
    unwound.push(...callees.reverse()); // popDead's were above these: innermost first throughout
    const returning: RethookNode[] = [];
    for (let t = this.top(); t && t.frame === frame && mine(t); t = this.top()) {
      returning.push(this.nodes.pop()!);
      if (!t.chained) break;
    }
    this.nodes.push(...kept);
    return { unwound, returning };
  }

  /**
   * Go: the topmost call returning to `addr` (and those chained to it);
   * stack pointers say nothing once a goroutine's stack was copied. The
   * calls above it were its callees, left by a panic: unwound.
   */
  popByReturnAddress(addr: number): { unwound: RethookNode[]; returning: RethookNode[] } {
    let i = this.nodes.length - 1;
    while (i >= 0 && this.nodes[i].realRet !== addr) i--;
    if (i < 0) return { unwound: [], returning: [] };
    const unwound = this.nodes.splice(i + 1).reverse();
    const returning: RethookNode[] = [];
    for (let t = this.top(); t && t.realRet === addr; t = this.top()) {
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
