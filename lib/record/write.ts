// Writing the binary record (format version 3, docs/record-format.md): the
// header at once, then chunks in one buffer of at least 1 MiB written out
// with one write when full, at the notes and at the end. A recorder killed
// at any point leaves a file readable up to its last buffer.
//
// Calls come in two ways, into the same per-thread CALLS chunks:
//   - fast mode's rings, transcoded by the addon straight into the buffer
//     (lib/fast/record-drain.ts: no object per call);
//   - everything else (trap mode, fallbacks, the ends the tracer sees itself)
//     through entry()/exit()/unwound() below, a small encoder over the same
//     buffer.
// One chunk is open at a time: records of another thread close it and open
// that thread's. So a thread's records stay in the order they were written.
import { KIND_EXTRA, KIND_HELD, KIND_STRING } from './calls';
import { argsJson, argsText, entryParts, exitParts, filledJson, returnJson, returnText } from '../types/render';
import * as fs from 'fs';
import type { EntryContext, ExitContext } from '../context';
import type { HookHandlers } from '../hook';
import type { Signature } from '../types/model';
import { Kind, UNWIND_REASONS } from './batch';

export const RECORD_MAGIC = 'RHRECORD';
export const RECORD_FORMAT_VERSION = 3;
/** Words kept per site for version 3's XOR (native/record/encode.h kWordSlots): 16 argument slots, then the return word. */
export const WORD_SLOTS = 17;

export const enum ChunkType {
  Sites = 1,
  Calls = 2,
  Note = 3,
  End = 4,
}

/** The longest string a STRING record holds. */
export const STRING_RECORD_MAX = 4096;
/** Bytes of a string trap mode copies at an entry (fast mode's recorder copies up to 96). */
const TRAP_STRING_MAX = 256;

/** The buffer is written out once it holds this much. */
export const FLUSH_AT = 1 << 20;
/** Room past FLUSH_AT: any one record of the fast path fits (native/record/encode.cc: at most 256 bytes). */
const SLACK = 64 << 10;
/** A CALLS chunk's header: type, length, pid, tid, baseTs. */
const CALLS_HEADER = 1 + 4 + 4 + 4 + 8;

/** What a site's records carry, from its signature (docs/record-format.md, SITES). */
export interface SiteShape {
  args: number;
  ret: boolean;
  fp: boolean;
}

/**
 * Integer argument words an entry carries, and whether exits carry the
 * return word and both a floating-point word: the signature's own when it is
 * known and plain (scalars and pointers), else every argument register.
 */
export function siteShape(sig: Signature | null, argRegs: number): SiteShape {
  if (!sig) return { args: argRegs, ret: true, fp: false };
  const plain = !sig.variadic && sig.params.every((p) => ['int', 'bool', 'enum', 'ptr', 'float'].includes(p.type.k))
    && (!sig.ret || ['void', 'int', 'bool', 'enum', 'ptr', 'float'].includes(sig.ret.k));
  const fp = sig.params.some((p) => p.type.k === 'float') || sig.ret?.k === 'float';
  if (!plain) return { args: argRegs, ret: true, fp };
  const ints = sig.params.filter((p) => p.type.k !== 'float').length;
  return { args: Math.min(ints, argRegs), ret: sig.ret?.k !== 'void', fp };
}

/**
 * Whether a call's typed values, rendered from what its records carry (the
 * argument registers, one floating-point register, the `char *` arguments'
 * strings: record/events.ts), are those the live views render from the
 * thread itself: no argument on the stack or in memory, at most one
 * floating-point argument, no string read at the return.
 */
export function recordRendersAsLive(sig: Signature | null, argRegs: number): boolean {
  if (!sig) return true;
  let ints = 0, fps = 0;
  for (const p of sig.params) {
    if (p.type.k === 'float') fps++;
    else if (['int', 'bool', 'enum', 'ptr'].includes(p.type.k)) ints++;
    else return false;
  }
  const r = sig.ret;
  if (ints > argRegs || fps > 1 || sig.variadic) return false;
  return !r || (['void', 'int', 'bool', 'enum', 'ptr', 'float'].includes(r.k) && !(r.k === 'ptr' && r.to?.c));
}

/** A site as its SITES chunk entry says it. */
export interface SiteEntry extends SiteShape {
  id: number;
  pid: number;
  function: string;
  address: string;
  module: string;
  signature: Signature | null;
}

/** The header's JSON (version 1's header line's fields, plus fallbacks and clock). */
export interface RecordHeaderV2 {
  command: string[];
  pid: number;
  attached: boolean;
  arch: string;
  startTs: number;
  startWallNs: number;
  overheadNs: number | null;
  /** What a hooked call nested in a trap-mode call adds to it (RunInfo.nestedNs); absent in records before rethook 0.3. */
  nestedNs?: number | null;
  mode: string;
  patterns: readonly string[];
  modules: { pid: number; path: string; start: string }[];
  cwd: string;
  tool: string;
  fallbacks: { function: string; reason: string }[];
  clock: { source: 'tsc' | 'cntvct' | 'monotonic'; nsPerTick: number };
}

/** Where a record's bytes go: a file descriptor, or a consumer in this process (the live summary: lib/record/live.ts). */
export type RecordOutput = number | ((b: Buffer) => void);

function writeAll(fd: number, b: Buffer): void {
  let done = 0;
  while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done);
}

/** A call in flight, as a fork child inherits it: its site, depth and argument words. */
interface InheritedCall {
  site: number;
  depth: number;
  args: readonly bigint[];
}

export class RecordWriter {
  /** The bytes waiting to be written; the fast path writes into it too (from `pos`). */
  buf = Buffer.allocUnsafe(FLUSH_AT + SLACK);
  pos = 0;
  /** Entries written (the END chunk's `calls`). */
  calls = 0;
  /** The open CALLS chunk: where it starts (-1: none), its thread, and its last record's ts. */
  private chunkAt = -1;
  private chunkPid = 0;
  private chunkTid = 0;
  chunkLastTs = 0;
  /** Each thread's last ts: a new chunk of it starts from there (its first dt is small and never negative). */
  private readonly threadTs = new Map<number, number>();
  private readonly sites: SiteEntry[] = [];
  private sitesWritten = 0;
  /** Site ids by pid, then address. */
  private readonly siteIds = new Map<number, Map<number, number>>();
  private closed = false;
  /** Bytes written out so far. */
  written = 0;
  /**
   * With followForks(): the calls in flight each thread has here (those this
   * writer encoded: trap mode's), and the fork children whose stream is to
   * open with the calls they inherited (their parent's at the fork).
   */
  private inFlight: Map<number, InheritedCall[]> | null = null;
  private readonly inheriting = new Map<number, { calls: InheritedCall[]; ts: number }>();
  private readonly sendOut: (b: Buffer) => void;
  /**
   * Version 3's words: each argument and return word is written XOR its
   * site's word in the same slot at its last call in the same CALLS chunk.
   * Per site id: its last words (WORD_SLOTS), and the chunk (`gen`) they are
   * of. Shared with fast mode's transcoder (lib/fast/record-drain.ts).
   */
  wordsPrev = new BigUint64Array(WORD_SLOTS * 64);
  wordsGen = new Uint32Array(64);
  gen = 1;
  /**
   * Live JSON's record (lib/record/json-lines.ts): every site carries every
   * argument register and the return word (the raw `args` and `retval` live
   * events show); a process whose sites' typed values the record cannot
   * render as live views do (recordRendersAsLive) is not transcoded: its calls
   * come through the handlers, which render typed values at the call.
   */
  liveValues = false;
  /**
   * The live tree's record (lib/record/tree-lines.ts): with liveValues, the
   * values rendered at the call also carry their text as the tree shows it
   * (`argvText`, `retText`): the JSON of a typed value does not say all of it
   * (`2.0` for a double, `'x'` for a char, a struct's members).
   */
  liveText = false;

  /**
   * `output`: the record file's fd, or a consumer of its bytes (the header,
   * then whole buffers of chunks as they are flushed; a chunk too big for the
   * buffer comes as its 5-byte head, then its payload). A consumer must not
   * keep the buffer it is given: it is written over after the call.
   */
  /**
   * `timesOnly` (a live summary, which counts times and nothing else): every
   * site carries no argument, return or floating-point word, so a call is
   * its ENTRY and EXIT records' tag, dt and depth (about 6 bytes).
   */
  constructor(output: RecordOutput, private readonly header: RecordHeaderV2, private readonly opts: { timesOnly?: boolean } = {}) {
    this.sendOut = typeof output === 'number' ? (b) => writeAll(output, b) : output;
    const json = Buffer.from(JSON.stringify(header));
    const head = Buffer.alloc(16);
    head.write(RECORD_MAGIC, 0, 'latin1');
    head.writeUInt32LE(RECORD_FORMAT_VERSION, 8);
    head.writeUInt32LE(json.length, 12);
    this.out(Buffer.concat([head, json]));
  }

  /** The limit the fast path writes up to (a record may start at or before it). */
  get limit(): number {
    return FLUSH_AT;
  }

  /** The id of the site at `address` in process `pid`, registered (written before its first call) if new. */
  site(pid: number, address: number, fn: string, module: string, sig: Signature | null, shape: SiteShape): number {
    let byAddress = this.siteIds.get(pid);
    if (!byAddress) this.siteIds.set(pid, (byAddress = new Map()));
    let id = byAddress.get(address);
    if (id === undefined) {
      id = this.sites.length;
      byAddress.set(address, id);
      const carried = this.opts.timesOnly ? { args: 0, ret: false, fp: false } : shape;
      this.sites.push({ id, pid, function: fn, address: '0x' + address.toString(16), module, ...carried, signature: sig });
      if (id >= this.wordsGen.length) {
        const gen = new Uint32Array(2 * this.wordsGen.length), prev = new BigUint64Array(WORD_SLOTS * gen.length);
        gen.set(this.wordsGen);
        prev.set(this.wordsPrev);
        this.wordsGen = gen;
        this.wordsPrev = prev;
      }
    }
    return id;
  }

  /** What a site's records carry (siteShape; with liveValues, every register). */
  shapeOf(sig: Signature | null, argRegs: number): SiteShape {
    const shape = siteShape(sig, argRegs);
    return this.liveValues ? { args: argRegs, ret: true, fp: shape.fp } : shape;
  }

  /** False when a call of `sig` must be rendered at the call (liveValues): fast mode's transcoder does not write such calls. */
  carries(sig: Signature | null, argRegs: number): boolean {
    return !this.liveValues || recordRendersAsLive(sig, argRegs);
  }

  siteInfo(id: number): SiteEntry {
    return this.sites[id];
  }

  /**
   * Whether a call of site `id` (with a signature) has its typed values
   * rendered at the call into its EXTRA record (argv, ret and, but for live
   * JSON, their text): always for live views (liveValues), else when they
   * cannot be rendered from the words and strings the record carries (an
   * argument on the stack, a second double: a trap-mode call's).
   */
  rendersAtCall(id: number, argRegs: number): boolean {
    if (this.liveValues) return true;
    let v = this.atCall[id];
    if (v === undefined) v = this.atCall[id] = !recordRendersAsLive(this.sites[id].signature, argRegs);
    return v;
  }
  private readonly atCall: boolean[] = [];

  /** Known already: the id, or -1. */
  siteIdOf(pid: number, address: number): number {
    return this.siteIds.get(pid)?.get(address) ?? -1;
  }

  /**
   * The CALLS chunk of thread `tid` of `pid` is the open one (new sites are
   * written first): records go at `pos`.
   */
  openCalls(pid: number, tid: number): void {
    if (this.chunkAt >= 0 && this.chunkTid === tid && this.chunkPid === pid && this.sitesWritten === this.sites.length) return;
    this.closeChunk();
    if (this.sitesWritten < this.sites.length) {
      this.chunk(ChunkType.Sites, Buffer.from(JSON.stringify(this.sites.slice(this.sitesWritten))));
      this.sitesWritten = this.sites.length;
    }
    if (this.pos + CALLS_HEADER > FLUSH_AT) this.flush();
    const base = this.threadTs.get(tid) ?? this.header.startTs;
    const b = this.buf;
    this.gen = this.gen === 0xffffffff ? 1 : this.gen + 1; // the words of a new chunk XOR nothing (0 stays: no chunk's)
    this.chunkAt = this.pos;
    b[this.pos] = ChunkType.Calls;
    b.writeUInt32LE(pid >>> 0, this.pos + 5);
    b.writeUInt32LE(tid >>> 0, this.pos + 9);
    b.writeUInt32LE(base % 0x100000000, this.pos + 13);
    b.writeUInt32LE(Math.floor(base / 0x100000000), this.pos + 17);
    this.pos += CALLS_HEADER;
    this.chunkPid = pid;
    this.chunkTid = tid;
    this.chunkLastTs = base;
  }

  /** The open CALLS chunk ends here (an empty one is taken back). */
  private closeChunk(): void {
    if (this.chunkAt < 0) return;
    const len = this.pos - this.chunkAt - 5;
    if (len === CALLS_HEADER - 5) this.pos = this.chunkAt;
    else this.buf.writeUInt32LE(len, this.chunkAt + 1);
    this.threadTs.set(this.chunkTid, this.chunkLastTs);
    this.chunkAt = -1;
  }

  /** A whole chunk (SITES, NOTE, END). */
  private chunk(type: ChunkType, payload: Buffer): void {
    this.closeChunk();
    if (this.pos + 5 + payload.length > FLUSH_AT) this.flush();
    if (5 + payload.length > this.buf.length) {
      const head = Buffer.alloc(5);
      head[0] = type;
      head.writeUInt32LE(payload.length, 1);
      this.out(head);
      this.out(payload);
      return;
    }
    this.buf[this.pos] = type;
    this.buf.writeUInt32LE(payload.length, this.pos + 1);
    payload.copy(this.buf, this.pos + 5);
    this.pos += 5 + payload.length;
  }

  /** Room for `n` more bytes of the open chunk (written out and opened again when the buffer is full). */
  private room(n: number): void {
    if (this.pos + n <= FLUSH_AT) return;
    const pid = this.chunkPid, tid = this.chunkTid;
    this.flush();
    if (n > this.buf.length - CALLS_HEADER) this.buf = Buffer.allocUnsafe(n + CALLS_HEADER + SLACK);
    this.openCalls(pid, tid);
  }

  /** Write out what waits (the open chunk closed: the next record opens another). */
  flush(): void {
    this.closeChunk();
    if (!this.pos) return;
    this.out(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  private out(b: Buffer): void {
    if (this.closed) return;
    this.sendOut(b);
    this.written += b.length;
  }

  // ---- the encoder (trap mode, fallbacks, the ends the tracer sees itself)

  private varint(v: number): void {
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A u64 word as a varint. */
  private word(v: bigint): void {
    v = BigInt.asUintN(64, v);
    if (v < 0x20000000000000n) return this.varint(Number(v));
    let lo = Number(v & 0xffffffffn), hi = Number(v >> 32n);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo >= 0x80) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  /** Word `slot` of a call of `site` as version 3 writes it: XOR the site's last in the open chunk (which it becomes). */
  private xorWord(site: number, slot: number, v: bigint): bigint {
    const at = site * WORD_SLOTS;
    if (this.wordsGen[site] !== this.gen) {
      this.wordsPrev.fill(0n, at, at + WORD_SLOTS);
      this.wordsGen[site] = this.gen;
    }
    v = BigInt.asUintN(64, v);
    const x = v ^ this.wordsPrev[at + slot];
    this.wordsPrev[at + slot] = v;
    return x;
  }

  /** tag and dt of a record at `ts` (ns) of the open chunk (a step back in time writes 0). */
  private head(kind: number, site: number, ts: number): void {
    this.varint(kind + site * 8);
    const dt = Math.round(ts - this.chunkLastTs);
    if (dt > 0) {
      this.varint(dt);
      this.chunkLastTs += dt;
    } else this.varint(0);
  }

  private fpWord(bits: Buffer | null): void {
    if (bits) bits.copy(this.buf, this.pos, 0, 8);
    else this.buf.fill(0, this.pos, this.pos + 8);
    this.pos += 8;
  }

  /** Followed fork children's streams open with the calls they inherited (see forked()). */
  followForks(): void {
    this.inFlight ??= new Map();
  }

  /**
   * A followed fork child `pid` appeared at `ts`, forked by thread
   * `parentTid`: its stream will open with ENTRY records (EXTRA
   * `inherited: true`, at `ts`, not counted as calls) of the calls the parent
   * had in flight, so that the child's returns from them end calls of its own.
   */
  forked(parentTid: number, pid: number, ts: number): void {
    const calls = this.inFlight?.get(parentTid);
    if (calls?.length) this.inheriting.set(pid, { calls: calls.map((c) => ({ ...c })), ts });
  }

  private openInherited(pid: number): void {
    const from = this.inheriting.get(pid)!;
    this.inheriting.delete(pid);
    for (const c of from.calls) {
      // The child's own site of the same function (sites are per process).
      const s = this.sites[c.site];
      const site = this.site(pid, Number(BigInt(s.address)), s.function, s.module, s.signature, { args: s.args, ret: s.ret, fp: s.fp });
      this.entry(pid, pid, site, from.ts, c.depth, c.args, null, null, { inherited: true }, true);
    }
  }

  private track(tid: number, kind: Kind, site: number, depth: number, args: readonly bigint[] | null): void {
    let st = this.inFlight!.get(tid);
    if (!st) this.inFlight!.set(tid, (st = []));
    if (kind === Kind.Entry) {
      while (st.length && st[st.length - 1].depth >= depth) st.pop();
      st.push({ site, depth, args: args ?? [] });
    } else {
      while (st.length && st[st.length - 1].depth > depth) st.pop();
      const top = st[st.length - 1];
      if (top && top.depth === depth && top.site === site) st.pop();
    }
  }

  /** An ENTRY record: `args` (as many as the site carries), its floating-point word, strings and extra fields. */
  entry(pid: number, tid: number, site: number, ts: number, depth: number, args: readonly bigint[], fpBits: Buffer | null,
    strings?: readonly [number, Buffer][] | null, extra?: Record<string, unknown> | null, inherited = false): void {
    if (this.inheriting.size && !inherited && this.inheriting.has(pid)) this.openInherited(pid);
    if (this.inFlight) this.track(tid, Kind.Entry, site, depth, args.slice(0, this.sites[site].args));
    const s = this.sites[site];
    this.openCalls(pid, tid);
    this.room(40 + 10 * s.args);
    this.head(Kind.Entry, site, ts);
    this.varint(depth);
    for (let i = 0; i < s.args; i++) this.word(this.xorWord(site, i, args[i] ?? 0n));
    if (s.fp) this.fpWord(fpBits);
    if (!inherited) this.calls++;
    if (strings) for (const [i, bytes] of strings) this.string(i, bytes);
    if (extra) this.extra(extra);
  }

  /** An EXIT record; `heldNs`: how long the tracer held the thread during the call (a HELD record when not 0). */
  exit(pid: number, tid: number, site: number, ts: number, depth: number, retval: bigint | null, fpBits: Buffer | null,
    extra?: Record<string, unknown> | null, heldNs = 0): void {
    if (this.inheriting.size && this.inheriting.has(pid)) this.openInherited(pid);
    if (this.inFlight) this.track(tid, Kind.Exit, site, depth, null);
    const s = this.sites[site];
    this.openCalls(pid, tid);
    this.room(60);
    this.head(Kind.Exit, site, ts);
    this.varint(depth);
    if (s.ret) this.word(this.xorWord(site, WORD_SLOTS - 1, retval ?? 0n));
    if (s.fp) this.fpWord(fpBits);
    if (heldNs > 0) this.held(heldNs);
    if (extra) this.extra(extra);
  }

  /** An UNWOUND record: `reason` an index into UNWIND_REASONS; `heldNs` as exit()'s. */
  unwound(pid: number, tid: number, site: number, ts: number, depth: number, reason: number, extra?: Record<string, unknown> | null, heldNs = 0): void {
    if (this.inheriting.size && this.inheriting.has(pid)) this.openInherited(pid);
    if (this.inFlight) this.track(tid, Kind.Unwound, site, depth, null);
    this.openCalls(pid, tid);
    this.room(50);
    this.head(Kind.Unwound, site, ts);
    this.varint(depth);
    this.buf[this.pos++] = reason;
    if (heldNs > 0) this.held(heldNs);
    if (extra) this.extra(extra);
  }

  /** A HELD record, for the EXIT or UNWOUND just written (room made by it). */
  private held(ns: number): void {
    this.varint(KIND_HELD);
    this.varint(0);
    this.varint(Math.round(ns));
  }

  private string(argIndex: number, bytes: Buffer): void {
    const n = Math.min(bytes.length, STRING_RECORD_MAX);
    this.room(20 + n);
    this.varint(KIND_STRING);
    this.varint(0);
    this.varint(argIndex);
    this.varint(n);
    bytes.copy(this.buf, this.pos, 0, n);
    this.pos += n;
  }

  private extra(fields: Record<string, unknown>): void {
    const json = Buffer.from(JSON.stringify(fields, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    this.room(20 + json.length);
    this.varint(KIND_EXTRA);
    this.varint(0);
    this.varint(json.length);
    json.copy(this.buf, this.pos);
    this.pos += json.length;
  }

  /** A NOTE chunk: one note event, after every call written before it; written out at once. */
  note(e: object): void {
    this.chunk(ChunkType.Note, Buffer.from(JSON.stringify(e)));
    this.flush();
  }

  /** The END chunk, and everything written out. Nothing is written after it. */
  end(e: object): void {
    this.chunk(ChunkType.End, Buffer.from(JSON.stringify(e)));
    this.flush();
    this.closed = true;
  }
}

// ---- a hook that records: the handlers trap mode (and fast mode's JS path) call

const RECORDS_TO = Symbol('rethook.recordsTo');
type Tagged = { [RECORDS_TO]?: RecordWriter };

/** The writer a hook's handlers do nothing but record to (fast mode then transcodes its rings natively), or null. */
export function recordWriterOf(handlers: HookHandlers): RecordWriter | null {
  const e = handlers.onEntry as Tagged | undefined, x = handlers.onExit as Tagged | undefined;
  const w = e?.[RECORDS_TO] ?? null;
  return w && x?.[RECORDS_TO] === w ? w : null;
}

/** Where a pid's address is, by the modules the header listed (or ''). */
export type ModuleOf = (pid: number, address: number) => string;

/**
 * Handlers that record every call to `w` and do nothing else. With
 * `backtrace`, each entry carries its backtrace (an EXTRA record).
 */
export function recordingHandlers(w: RecordWriter, opts: {
  backtrace: boolean; argRegs: number; moduleOf: ModuleOf; noReads?: boolean;
  /** Calls of goroutines (a Go program's) go to these instead: a record's calls nest per thread, not per goroutine (live JSON). */
  goroutines?: Pick<HookHandlers, 'onEntry' | 'onExit'> | null;
}): Pick<HookHandlers, 'onEntry' | 'onExit'> {
  const goroutines = opts.goroutines ?? null;
  // noReads (a live summary: only times count): no string or floating-point register read from the thread per call.
  const reads = !opts.noReads;
  const siteOf = (c: EntryContext | ExitContext) => {
    const id = w.siteIdOf(c.pid, c.address);
    if (id >= 0) return id;
    const sig = c.signature;
    return w.site(c.pid, c.address, c.function, opts.moduleOf(c.pid, c.address), sig, w.shapeOf(sig, opts.argRegs));
  };
  const onEntry = (c: EntryContext) => {
    if (goroutines && c.goroutine !== undefined) return goroutines.onEntry!(c);
    const site = siteOf(c);
    const s = w.siteInfo(site);
    let extra: Record<string, unknown> | null = null;
    if (opts.backtrace) {
      const bt = c.backtrace();
      extra = { backtrace: bt.frames.slice(1).map((f) => f.symbol), backtraceReliable: bt.reliable };
    }
    if (c.goroutine !== undefined) (extra ??= {}).goroutine = c.goroutine;
    if (c.inherited) (extra ??= {}).inherited = true;
    // Typed values the record cannot render from its words (or live views'), from a call with a context:
    // rendered now, from the thread, as the live views do; with their text but for live JSON's.
    if (c.signature && reads && w.rendersAtCall(site, opts.argRegs)) {
      const parts = entryParts(c);
      const argv = argsJson(parts);
      if (argv) (extra ??= {}).argv = argv;
      if (argv && (w.liveText || !w.liveValues)) extra!.argvText = argsText(parts, 8);
    }
    w.entry(c.pid, c.tid, site, Number(c.timestampNs), c.depth, c.args, s.fp && reads ? fpArgBits(c) : null, reads ? stringsOf(c, s.args) : null, extra);
  };
  const onExit = (c: ExitContext) => {
    if (goroutines && c.goroutine !== undefined) return goroutines.onExit!(c);
    const site = siteOf(c);
    let extra: Record<string, unknown> | null = null;
    if (c.goroutine !== undefined) (extra ??= {}).goroutine = c.goroutine;
    if (c.inherited) (extra ??= {}).inherited = true;
    // The buffers a trap-mode call filled in (`char *` arguments read again at the return), as live JSON's `filled`.
    const live = !c.unwound && c.signature && reads && w.rendersAtCall(site, opts.argRegs);
    if (!c.unwound && (c.filled || live)) {
      const parts = exitParts(c);
      const filled = c.filled ? filledJson(parts) : null;
      if (filled) (extra ??= {}).filled = filled;
      const ret = live ? returnJson(parts) : null;
      if (ret) (extra ??= {}).ret = ret;
      if (live && (w.liveText || !w.liveValues)) (extra ??= {}).retText = returnText(parts);
    }
    const ts = Number(c.timestampNs);
    // What the tracer held the thread for during the call (its entry's stop, the nested calls' stops): not the call's time.
    const held = c.inherited ? 0 : Number(c.timestampNs - c.entryTimestampNs - c.durationNs);
    if (c.unwound) {
      const r = UNWIND_REASONS.indexOf((c.reason ?? 'other') as (typeof UNWIND_REASONS)[number]);
      w.unwound(c.pid, c.tid, site, ts, c.depth, r < 0 ? UNWIND_REASONS.length - 1 : r, extra, held);
    } else {
      w.exit(c.pid, c.tid, site, ts, c.depth, c.retval, w.siteInfo(site).fp && reads ? fpRetBits(c) : null, extra, held);
    }
  };
  (onEntry as Tagged)[RECORDS_TO] = w;
  (onExit as Tagged)[RECORDS_TO] = w;
  return { onEntry: onEntry as HookHandlers['onEntry'], onExit: onExit as HookHandlers['onExit'] };
}

/** The C strings the signature's `char *` arguments point to, read now (trap mode; fast mode's recorder copied its own). */
function stringsOf(c: EntryContext, nargs: number): [number, Buffer][] | null {
  const sig = c.signature;
  if (!sig) return null;
  let out: [number, Buffer][] | null = null;
  let reg = 0;
  for (const p of sig.params) {
    if (p.type.k === 'float') continue;
    const i = reg++;
    if (i >= nargs) break;
    if (p.type.k !== 'ptr' || !p.type.to?.c || !c.args[i]) continue;
    let bytes: Buffer;
    try {
      // With its NUL when it was read whole (as fast mode's recorder copies it); without, cut.
      const text = Buffer.from(c.readCString(c.args[i], TRAP_STRING_MAX), 'utf8');
      bytes = text.length < TRAP_STRING_MAX ? Buffer.concat([text, Buffer.alloc(1)]) : text;
    } catch {
      bytes = Buffer.alloc(0); // not readable: the reader shows it as such
    }
    (out ??= []).push([i, bytes]);
  }
  return out;
}

type WithHost = { host: { fpRegs(): Buffer | null } };

function fpArgBits(c: EntryContext): Buffer | null {
  try {
    return (c as unknown as WithHost).host.fpRegs();
  } catch {
    return null;
  }
}

function fpRetBits(c: ExitContext): Buffer | null {
  if (c.unwound) return null;
  const b = Buffer.alloc(8);
  b.writeDoubleLE(c.fpRetval);
  return b;
}
