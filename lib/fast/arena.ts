// A process's fast-mode arena as the tracer sees it: the shared memory the
// recorder writes (native/fast/recorder.h is the layout's contract), mapped
// here too. TypeScript owns every allocation in it: this class lays it out,
// hands out pools, sites and thread blocks, and reads what the recorder wrote.
//
//   0                header (4 KiB)
//   THREADS          the thread table: THREAD_SLOTS slots {key, block}
//   POOLS            one pool per hook: {active, max, nmissed}
//   SITES            one word per patched function: its pool's index
//   BLOCKS           thread blocks, BLOCK_STRIDE apart: header, node stack, ring
//
// The memfd is sparse: only the pages threads touch cost memory.
import { fast } from '../native';

const L = fast.layout;

/**
 * 4 GiB of address space in each process, about 1,980 thread blocks: only
 * what threads touch costs memory (the memfd is sparse and charged as used).
 */
export const ARENA_SIZE = 4 * 1024 * 1024 * 1024;
/** Twice the blocks or more: the open-addressed table stays sparse enough for short probes. */
const THREAD_SLOTS = 4096;
const THREADS = L.HEADER_SIZE;
const POOLS = THREADS + THREAD_SLOTS * L.T_SLOT_SIZE;
const MAX_POOLS = 1024;
const SITES = POOLS + MAX_POOLS * L.POOL_SIZE;
export const MAX_SITES = 64 * 1024;
const BLOCKS = SITES + MAX_SITES * 8;
/** Node stack depth per thread (deeper calls run unhooked, counted in missed_depth). */
const NODES_MAX = 1024;
/** Records per ring: 16384 × 128 bytes = 2 MiB per thread (touched as used). */
const RING_RECORDS = 16384;
const RING_OFFSET = 64 * 1024;
const BLOCK_STRIDE = RING_OFFSET + RING_RECORDS * L.RECORD_SIZE;
const MAX_BLOCKS = Math.floor((ARENA_SIZE - BLOCKS) / BLOCK_STRIDE);
const EMPTY = 0n, DELETED = 1n;
/** Records in a ring - 1. */
export const RING_MASK = RING_RECORDS - 1;

/** One thread's block, as the tracer tracks it. */
export interface ThreadBlock {
  tid: number;
  /** The thread pointer it is registered under (its table key). */
  key: bigint;
  /** Offset in the arena. */
  offset: number;
  index: number;
}

export class FastArena {
  readonly words: BigUint64Array;
  /** The same memory as 32-bit halves: reading records without making bigints. */
  readonly halves: Uint32Array;
  private readonly freeBlocks: number[] = [];
  private pools = 0;
  readonly blocks = new Map<number, ThreadBlock>();

  /**
   * `base`: the arena's address in the tracee; `memory`: our mapping of it.
   * A fresh arena is laid out; `inherit` (a fork child's copy) keeps what is there.
   */
  constructor(readonly base: number, readonly memory: ArrayBuffer, tracerPid: number, traceePid: number) {
    this.words = new BigUint64Array(memory);
    this.halves = new Uint32Array(memory);
    for (let i = MAX_BLOCKS - 1; i >= 0; i--) this.freeBlocks.push(i);
    this.set(L.H_TRACER_PID, BigInt(tracerPid));
    this.set(L.H_PID, BigInt(traceePid));
    this.set(L.H_THREADS, BigInt(base + THREADS));
    this.set(L.H_THREAD_MASK, BigInt(THREAD_SLOTS - 1));
    this.set(L.H_SITES, BigInt(base + SITES));
    this.set(L.H_POOLS, BigInt(base + POOLS));
    this.set(L.H_CONSUMER, 1n);
    this.set(L.H_ENABLED, 1n);
    this.set(0, fast.layout.MAGIC);
  }

  get(off: number): bigint {
    return Atomics.load(this.words, off / 8);
  }

  set(off: number, v: bigint): void {
    Atomics.store(this.words, off / 8, v);
  }

  /** A u64 that fits a number (addresses, counts). */
  num(off: number): number {
    return this.halves[off / 4 + 1] * 0x100000000 + this.halves[off / 4];
  }

  /** A pool for a hook (maxActive); its index. */
  newPool(maxActive: number): number {
    if (this.pools >= MAX_POOLS) throw new Error('too many fast-mode hooks in one process');
    const i = this.pools++;
    this.set(POOLS + i * L.POOL_SIZE + L.P_MAX, BigInt(maxActive));
    return i;
  }

  poolMissed(pool: number): number {
    return this.num(POOLS + pool * L.POOL_SIZE + L.P_NMISSED);
  }

  /** Site `index` draws its nodes from `pool`, and captures the C strings of the argument registers in `capture` (a bit mask). */
  setSite(index: number, pool: number, capture = 0): void {
    this.set(SITES + index * 8, BigInt(pool) | (BigInt(capture) << BigInt(L.SITE_CAPTURE_SHIFT)));
  }

  /** Whether the recorder hooks new calls; cleared on detach (returns in flight still resolve). */
  set enabled(on: boolean) {
    this.set(L.H_ENABLED, on ? 1n : 0n);
  }

  /** Whether a tracer drains the rings (cleared on detach: a full ring then drops instead of waiting). */
  set consumer(on: boolean) {
    this.set(L.H_CONSUMER, on ? 1n : 0n);
  }

  /**
   * Give thread `tid`, whose thread pointer is `key`, a block. A block
   * already registered under that key (a dead thread whose stack and TLS
   * the new one reuses) is the caller's to retire first (`blockByKey`).
   */
  register(tid: number, key: bigint): ThreadBlock | null {
    if (key === EMPTY || key === DELETED) return null;
    const index = this.freeBlocks.pop();
    if (index === undefined) return null;
    const offset = BLOCKS + index * BLOCK_STRIDE;
    const b: ThreadBlock = { tid, key, offset, index };
    // A clean block: zero its header and stack bounds (the ring is overwritten before it is read).
    this.words.fill(0n, offset / 8, (offset + L.B_NODES) / 8);
    this.set(offset + L.B_RING, BigInt(this.base + offset + RING_OFFSET));
    this.set(offset + L.B_RING_MASK, BigInt(RING_RECORDS - 1));
    this.set(offset + L.B_NODES_MAX, BigInt(NODES_MAX));
    this.set(offset + L.B_TID, BigInt(tid));
    const slot = this.findSlot(key, true);
    if (slot < 0) {
      this.freeBlocks.push(index);
      return null;
    }
    this.set(slot + L.T_BLOCK, BigInt(this.base + offset));
    this.set(slot + L.T_KEY, key); // last: the recorder finds a complete block or none
    this.blocks.set(tid, b);
    return b;
  }

  /** The block registered under thread pointer `key`, if any. */
  blockByKey(key: bigint): ThreadBlock | undefined {
    for (const b of this.blocks.values()) if (b.key === key) return b;
    return undefined;
  }

  /** Calls run unhooked because a node stack was full, over every block ever retired. */
  private retiredMissedDepth = 0;

  /** Calls run unhooked because their thread's node stack was full, over the whole arena. */
  missedDepth(): number {
    let n = this.retiredMissedDepth;
    for (const b of this.blocks.values()) n += this.num(b.offset + L.B_MISSED_DEPTH);
    return n;
  }

  /** The thread is gone (or detached): its key leaves the table, its block is free again. */
  retire(b: ThreadBlock): void {
    this.retiredMissedDepth += this.num(b.offset + L.B_MISSED_DEPTH);
    const slot = this.findSlot(b.key, false);
    if (slot >= 0) this.set(slot + L.T_KEY, DELETED);
    this.blocks.delete(b.tid);
    this.freeBlocks.push(b.index);
  }

  /** The slot holding `key`, or (with `insert`) the first free one on its probe; -1 if none. */
  private findSlot(key: bigint, insert: boolean): number {
    const mask = BigInt(THREAD_SLOTS - 1);
    let i = Number(((key >> 6n) ^ (key >> 18n)) & mask);
    let free = -1;
    for (let n = 0; n < THREAD_SLOTS; n++, i = (i + 1) & (THREAD_SLOTS - 1)) {
      const off = THREADS + i * L.T_SLOT_SIZE;
      const k = this.get(off + L.T_KEY);
      if (k === key) return off;
      if (k === DELETED && free < 0) free = off;
      if (k === EMPTY) return insert ? (free >= 0 ? free : off) : -1;
    }
    return insert ? free : -1;
  }

  /**
   * Records written and not yet consumed in a block's ring: [tail, head).
   * The program can write its arena: null when head and tail make no ring
   * (head before tail, more than the ring holds, or past 2^53).
   */
  pending(b: ThreadBlock): [number, number] | null {
    const tail = this.num(b.offset + L.B_TAIL), head = this.num(b.offset + L.B_HEAD);
    if (!Number.isSafeInteger(head) || head < tail || head - tail > RING_RECORDS) return null;
    return [tail, head];
  }

  /**
   * A damaged ring starts again empty (a waiting writer is woken); the
   * records in it are lost. At its head, or at 0 when its head is past what
   * a number counts exactly (the writer may be storing its head meanwhile:
   * then it is found damaged again, and set again).
   */
  resync(b: ThreadBlock): void {
    if (Number.isSafeInteger(this.num(b.offset + L.B_HEAD))) return this.consumedExactly(b, this.get(b.offset + L.B_HEAD));
    this.set(b.offset + L.B_HEAD, 0n);
    this.consumedExactly(b, 0n);
  }

  /** Offset of a block's ring (RING_MASK + 1 records). */
  ring(b: ThreadBlock): number {
    return b.offset + RING_OFFSET;
  }

  /** Offset of record number `n` of a block's ring. */
  record(b: ThreadBlock, n: number): number {
    return b.offset + RING_OFFSET + (n & (RING_RECORDS - 1)) * L.RECORD_SIZE;
  }

  /**
   * Records below `tail` are delivered: their room is free again. A thread
   * sleeping for room is woken (recorder.h, FULL RING: the tracer's half of
   * the handshake; Atomics are sequentially consistent, so the store of tail
   * is not reordered after the load of waiting).
   */
  consumed(b: ThreadBlock, tail: number): void {
    this.consumedExactly(b, BigInt(tail));
  }

  private consumedExactly(b: ThreadBlock, tail: bigint): void {
    Atomics.store(this.words, (b.offset + L.B_TAIL) / 8, tail);
    const waiting = (b.offset + L.B_WAITING) / 8;
    if (Atomics.load(this.words, waiting) === 0n) return;
    Atomics.store(this.words, waiting, 0n);
    fast.wake(this.memory, b.offset + L.B_TAIL);
  }

  /**
   * A block's node stack, bottom first: each node's frame, real return
   * address and site. The program can write it: a depth past the stack is
   * read as full, and a node whose site is no site is left out (its pool is
   * not known: nothing is released for it). `depth`: its place on the stack.
   */
  nodes(b: ThreadBlock): { sp: number; ret: number; site: number; tsc: bigint; depth: number }[] {
    const out = [];
    for (let i = 0; i < this.depth(b); i++) {
      const n = b.offset + L.B_NODES + i * L.NODE_SIZE;
      const site = this.num(n + L.N_SITE);
      if (site >= MAX_SITES) continue;
      out.push({ sp: this.num(n + L.N_SP), ret: this.num(n + L.N_RET), site, tsc: this.get(n + L.N_TSC), depth: i });
    }
    return out;
  }

  /** A block's stack depth, within the stack. */
  private depth(b: ThreadBlock): number {
    return Math.min(this.num(b.offset + L.B_DEPTH), NODES_MAX);
  }

  /** Site `site`'s pool counter `field` (P_ACTIVE...), or -1 when the site's word names no pool. */
  private poolWord(site: number, field: number): number {
    const pool = site < MAX_SITES ? Number(this.get(SITES + site * 8) & 0xffffffffn) : -1;
    return pool >= 0 && pool < MAX_POOLS ? (POOLS + pool * L.POOL_SIZE + field) / 8 : -1;
  }

  /**
   * A followed fork child's new arena: the parent's pools (maxActive) and
   * sites, as the recorder's copy in the child (same patches, same stubs)
   * expects them; `sites` is how many the parent has.
   */
  adoptLayout(parent: FastArena, sites: number): void {
    for (let i = 0; i < parent.pools; i++) this.set(POOLS + i * L.POOL_SIZE + L.P_MAX, parent.get(POOLS + i * L.POOL_SIZE + L.P_MAX));
    this.pools = parent.pools;
    for (let i = 0; i < sites; i++) this.set(SITES + i * 8, parent.get(SITES + i * 8));
  }

  /** Copies of calls in flight (a fork child's, from its parent's forking thread), bottom first. */
  pushNodes(b: ThreadBlock, nodes: readonly { sp: number; ret: number; site: number; tsc: bigint }[]): void {
    this.set(b.offset + L.B_DEPTH, 0n);
    this.pushNodesOnTop(b, nodes);
  }

  /** Put nodes back on top of a stopped thread's stack (they were kept while a call below them returned). */
  pushNodesOnTop(b: ThreadBlock, nodes: readonly { sp: number; ret: number; site: number; tsc: bigint }[]): void {
    const depth = this.depth(b);
    nodes = nodes.slice(0, NODES_MAX - depth);
    nodes.forEach((n, i) => {
      const off = b.offset + L.B_NODES + (depth + i) * L.NODE_SIZE;
      this.set(off + L.N_SP, BigInt(n.sp));
      this.set(off + L.N_RET, BigInt(n.ret));
      this.set(off + L.N_SITE, BigInt(n.site));
      this.set(off + L.N_TSC, n.tsc);
      const active = this.poolWord(n.site, L.P_ACTIVE);
      if (active >= 0) Atomics.add(this.words, active, 1n);
    });
    this.set(b.offset + L.B_DEPTH, BigInt(depth + nodes.length));
  }

  /**
   * A call the tracer caught itself (a fallback's entry, the thread stopped
   * at its breakpoint, never inside the recorder) pushed on a block's node
   * stack as the recorder pushes its own, so that the recorder returns it:
   * refused as the recorder refuses, and counted where it counts.
   */
  pushCall(b: ThreadBlock, node: { sp: number; ret: number; site: number; tsc: bigint }): 'ok' | 'max-active' | 'depth' {
    const active = this.poolWord(node.site, L.P_ACTIVE);
    if (active < 0) return 'max-active';
    const max = this.words[active + (L.P_MAX - L.P_ACTIVE) / 8];
    if (Atomics.load(this.words, active) >= max) {
      Atomics.add(this.words, active + (L.P_NMISSED - L.P_ACTIVE) / 8, 1n);
      return 'max-active';
    }
    if (this.depth(b) >= NODES_MAX) {
      Atomics.add(this.words, (b.offset + L.B_MISSED_DEPTH) / 8, 1n);
      return 'depth';
    }
    this.pushNodesOnTop(b, [node]);
    return 'ok';
  }

  /** Empty a block's node stack (its calls ended with the thread): each node's pool gets it back. */
  dropNodes(b: ThreadBlock): void {
    this.popNodes(b, 0);
  }

  /** Keep the `keep` bottom nodes of a stopped thread's stack (the others' frames are gone); their pools get them back. */
  popNodes(b: ThreadBlock, keep: number): void {
    for (const n of this.nodes(b).slice(keep)) {
      const active = this.poolWord(n.site, L.P_ACTIVE);
      if (active >= 0) Atomics.sub(this.words, active, 1n);
    }
    this.set(b.offset + L.B_DEPTH, BigInt(Math.min(keep, this.depth(b))));
  }

  /** Calls run unhooked and records dropped, over the whole arena. */
  counters(): { missedBusy: number; missedNoThread: number; dropped: number; nomatch: number } {
    return {
      missedBusy: this.num(L.H_MISSED_BUSY),
      missedNoThread: this.num(L.H_MISSED_NOTHREAD),
      dropped: this.num(L.H_DROPPED),
      nomatch: this.num(L.H_NOMATCH),
    };
  }
}
