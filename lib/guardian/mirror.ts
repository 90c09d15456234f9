// The guardian's mirror: shared memory with no name (a sealed memfd the
// tracer creates and hands to the guardian as its fd 3), mapped by both, holding what the guardian needs to undo rethook's changes in an
// attached process if the tracer dies without detaching (SIGKILL): the
// breakpoints with their original bytes, and each thread's calls in flight
// (where their real return addresses go). The tracer writes it as it goes;
// the guardian only reads it. Addresses are stored as doubles (exact below 2^53).
//
//   header     16 words: magic, version, pid, trampoline, state, ...
//   breakpoints open-addressed table of BP_CAPACITY (address, original bytes as u32)
//   threads    THREAD_SLOTS slots: tid, count, trap, trapSp, then NODES_PER_THREAD x (frame, realRet, chained, site)
//              (trap, trapSp: the breakpoint the thread was stopped at, and its sp then, while the tracer
//              handles that stop: 0 once it let the thread go)
import { createSharedMemory, mapSharedFd } from '../native';

const MAGIC = 0x52455448; // 'RETH'
const VERSION = 2;
const HEADER = 16;
export const BP_CAPACITY = 1 << 14;
export const THREAD_SLOTS = 256;
export const NODES_PER_THREAD = 128;
const NODE_WORDS = 4;
const THREAD_HEAD = 4;
const THREAD_WORDS = THREAD_HEAD + NODES_PER_THREAD * NODE_WORDS;
const BP_BASE = HEADER;
const THREAD_BASE = BP_BASE + BP_CAPACITY * 2;
export const MIRROR_BYTES = (THREAD_BASE + THREAD_SLOTS * THREAD_WORDS) * 8;
const EMPTY = 0, TOMBSTONE = -1;

/** The tracer is tracing (the guardian stands by), or let go cleanly (the guardian leaves). */
export const enum MirrorState {
  Tracing = 1,
  Released = 2,
}

export interface MirroredNode {
  frame: number;
  realRet: number;
  chained: boolean;
  mode: 'trampoline' | 'site';
}

export class Mirror {
  private readonly w: Float64Array;
  private readonly slots = new Map<number, number>();

  private constructor(memory: ArrayBuffer, readonly fd: number) {
    this.w = new Float64Array(memory);
  }

  /** The tracer's side: new memory (its fd is for the guardian, then closed). */
  static create(): Mirror {
    const [fd, memory] = createSharedMemory('rethook-guardian', MIRROR_BYTES);
    return new Mirror(memory, fd);
  }

  /** The guardian's side: the memory it inherited as descriptor `fd`. */
  static inherited(fd: number): Mirror {
    return new Mirror(mapSharedFd(fd, MIRROR_BYTES), fd);
  }

  /** The tracer's side: a fresh mirror for process `pid`. */
  init(pid: number): void {
    this.w.fill(0);
    this.w[0] = MAGIC;
    this.w[1] = VERSION;
    this.w[2] = pid;
    this.w[4] = MirrorState.Tracing;
  }

  get valid(): boolean {
    return this.w[0] === MAGIC && this.w[1] === VERSION;
  }
  get pid(): number {
    return this.w[2];
  }
  get trampoline(): number {
    return this.w[3];
  }
  set trampoline(a: number) {
    this.w[3] = a;
  }
  get state(): MirrorState {
    return this.w[4];
  }
  set state(s: MirrorState) {
    this.w[4] = s;
  }

  // ---- breakpoints ------------------------------------------------------

  private find(addr: number): number {
    let i = (addr * 2654435761) % BP_CAPACITY;
    let tomb = -1;
    for (let n = 0; n < BP_CAPACITY; n++, i = (i + 1) % BP_CAPACITY) {
      const a = this.w[BP_BASE + 2 * i];
      if (a === addr) return i;
      if (a === EMPTY) return tomb >= 0 ? tomb : i;
      if (a === TOMBSTONE && tomb < 0) tomb = i;
    }
    return tomb;
  }

  /** A breakpoint was written at `addr` over `original` (its first bytes, little-endian). */
  addBreakpoint(addr: number, original: number): void {
    const i = this.find(addr);
    if (i < 0) return; // full: the guardian will not know this one
    this.w[BP_BASE + 2 * i + 1] = original;
    this.w[BP_BASE + 2 * i] = addr;
  }

  removeBreakpoint(addr: number): void {
    const i = this.find(addr);
    if (i >= 0 && this.w[BP_BASE + 2 * i] === addr) this.w[BP_BASE + 2 * i] = TOMBSTONE;
  }

  clearBreakpoints(): void {
    this.w.fill(0, BP_BASE, THREAD_BASE);
  }

  breakpoints(): { address: number; original: number }[] {
    const out: { address: number; original: number }[] = [];
    for (let i = 0; i < BP_CAPACITY; i++) {
      const a = this.w[BP_BASE + 2 * i];
      if (a > 0) out.push({ address: a, original: this.w[BP_BASE + 2 * i + 1] });
    }
    return out;
  }

  // ---- threads ----------------------------------------------------------

  private slotOf(tid: number): number {
    let slot = this.slots.get(tid);
    if (slot === undefined) {
      slot = this.freeSlot();
      if (slot < 0) return -1;
      this.slots.set(tid, slot);
      this.w[THREAD_BASE + slot * THREAD_WORDS] = tid;
    }
    return THREAD_BASE + slot * THREAD_WORDS;
  }

  /** Thread `tid` is stopped at our breakpoint `addr` with stack pointer `sp`, and not let go yet. */
  setTrap(tid: number, addr: number, sp: number): void {
    const base = this.slotOf(tid);
    if (base < 0) return;
    this.w[base + 3] = sp;
    this.w[base + 2] = addr;
  }

  /** Write a thread's calls in flight (outermost first; the deepest beyond the slot's size are left out); it was let go (no trap). */
  setThread(tid: number, nodes: readonly MirroredNode[]): void {
    const base = this.slotOf(tid);
    if (base < 0) return;
    this.w[base + 2] = 0;
    const n = Math.min(nodes.length, NODES_PER_THREAD);
    this.w[base + 1] = 0; // invalid while being written
    for (let i = 0; i < n; i++) {
      const o = base + THREAD_HEAD + i * NODE_WORDS;
      this.w[o] = nodes[i].frame;
      this.w[o + 1] = nodes[i].realRet;
      this.w[o + 2] = nodes[i].chained ? 1 : 0;
      this.w[o + 3] = nodes[i].mode === 'site' ? 1 : 0;
    }
    this.w[base + 1] = n;
  }

  dropThread(tid: number): void {
    const slot = this.slots.get(tid);
    if (slot === undefined) return;
    this.slots.delete(tid);
    this.w.fill(0, THREAD_BASE + slot * THREAD_WORDS, THREAD_BASE + (slot + 1) * THREAD_WORDS);
  }

  private freeSlot(): number {
    for (let s = 0; s < THREAD_SLOTS; s++) if (this.w[THREAD_BASE + s * THREAD_WORDS] === 0) return s;
    return -1;
  }

  /** The guardian's side: every thread's mirrored calls, and the trap it was held at (if any). */
  threads(): Map<number, MirroredNode[]> {
    return new Map([...this.threadStates()].map(([tid, t]) => [tid, t.nodes]));
  }

  threadStates(): Map<number, { nodes: MirroredNode[]; trap: number; trapSp: number }> {
    const out = new Map<number, { nodes: MirroredNode[]; trap: number; trapSp: number }>();
    for (let s = 0; s < THREAD_SLOTS; s++) {
      const base = THREAD_BASE + s * THREAD_WORDS;
      const tid = this.w[base];
      if (!tid) continue;
      const nodes: MirroredNode[] = [];
      for (let i = 0; i < this.w[base + 1]; i++) {
        const o = base + THREAD_HEAD + i * NODE_WORDS;
        nodes.push({ frame: this.w[o], realRet: this.w[o + 1], chained: this.w[o + 2] === 1, mode: this.w[o + 3] === 1 ? 'site' : 'trampoline' });
      }
      out.set(tid, { nodes, trap: this.w[base + 2], trapSp: this.w[base + 3] });
    }
    return out;
  }
}
