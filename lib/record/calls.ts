// A CALLS chunk's payload decoded into CallBatch columns (batch.ts): one pass
// over the bytes, nothing made per call (argument words go into the u64
// columns as two u32 halves: no BigInt). Every varint, site id, depth,
// reason and length is checked; a bad one is a RecordDamage at its byte.
import { CallBatch, Kind, SiteInfo, UNWIND_REASONS } from './batch';
import { checkExtra } from './check';
import { LIMITS, RecordFieldError } from '../views/record-check';

/** Words kept per site for version 3's XOR: 16 argument slots, then the return word (lib/record/write.ts WORD_SLOTS). */
const WORD_SLOTS = 17;

/** A damaged record: what is wrong, and at which byte of the file. */
export class RecordDamage extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
    this.name = 'RecordDamage';
  }
}

/** STRING, EXTRA and HELD records (kinds 4, 5 and 6). */
export const KIND_STRING = 4;
export const KIND_EXTRA = 5;
export const KIND_HELD = 6;
/** What a STRING record holds at most; an EXTRA record's JSON. */
export const STRING_MAX = 4096;
export const EXTRA_MAX = 1 << 20;
/** A call's strings and extra fields together. */
export const ATTACHED_PER_CALL_MAX = 4 << 20;
/** Rows of one batch, and the bytes of strings and extra fields it holds: a batch is handed on past either. */
export const BATCH_ROWS = 1 << 16;
export const BATCH_ATTACHED_MAX = 16 << 20;

type Attached = { strings?: Map<number, Buffer>; extra?: Record<string, unknown> };

/** A CallBatch whose columns are reused from batch to batch. */
export class Batch implements CallBatch {
  pid = 0;
  tid = 0;
  length = 0;
  kind = new Uint8Array(BATCH_ROWS);
  site = new Uint32Array(BATCH_ROWS);
  ts = new Float64Array(BATCH_ROWS);
  depth = new Uint32Array(BATCH_ROWS);
  reason = new Uint8Array(BATCH_ROWS);
  held = new Float64Array(BATCH_ROWS);
  retval = new BigUint64Array(BATCH_ROWS);
  argsAt = new Uint32Array(BATCH_ROWS);
  args = new BigUint64Array(BATCH_ROWS * 2);
  fpWord = new BigUint64Array(BATCH_ROWS);
  attached = new Map<number, Attached>();
  /** The u64 columns as u32 halves (little-endian: low half first). */
  retval32 = new Uint32Array(this.retval.buffer);
  args32 = new Uint32Array(this.args.buffer);
  fp32 = new Uint32Array(this.fpWord.buffer);
  /** Argument words used; bytes of attached strings and extra fields. */
  nargs = 0;
  attachedBytes = 0;

  reset(pid: number, tid: number): void {
    this.pid = pid;
    this.tid = tid;
    this.length = 0;
    this.nargs = 0;
    this.attachedBytes = 0;
    if (this.attached.size) this.attached = new Map();
  }

  /** Room for `n` more argument words. */
  argsRoom(n: number): void {
    if (this.nargs + n <= this.args.length) return;
    const grown = new BigUint64Array(Math.max(this.args.length * 2, this.nargs + n));
    grown.set(this.args.subarray(0, this.nargs));
    this.args = grown;
    this.args32 = new Uint32Array(grown.buffer);
  }
}

/**
 * Version 3's words (docs/record-format.md): each argument and return word is
 * written XOR its site's last word in the same slot in the same CALLS chunk.
 * Per site: its last words as u32 halves (WORD_SLOTS of them), and the chunk
 * they are of.
 */
export class WordXor {
  private lo = new Uint32Array(0);
  private hi = new Uint32Array(0);
  private gen = new Uint32Array(0);
  private cur = 0;
  /** A new chunk, of `nsites` sites at most: every site's words are 0 in it. */
  chunk(nsites: number): void {
    this.cur = this.cur === 0xffffffff ? 1 : this.cur + 1;
    if (nsites <= this.gen.length) return;
    const n = Math.max(nsites, 2 * this.gen.length);
    this.lo = new Uint32Array(n * WORD_SLOTS);
    this.hi = new Uint32Array(n * WORD_SLOTS);
    this.gen = new Uint32Array(n);
  }
  /** The word at a[at] (low half), a[at + 1] (high), as written for `slot` of `site`, made the word itself. */
  apply(site: number, slot: number, a: Uint32Array, at: number): void {
    const row = site * WORD_SLOTS, lo = this.lo, hi = this.hi;
    if (this.gen[site] !== this.cur) {
      lo.fill(0, row, row + WORD_SLOTS);
      hi.fill(0, row, row + WORD_SLOTS);
      this.gen[site] = this.cur;
    }
    const i = row + slot;
    a[at] ^= lo[i];
    a[at + 1] ^= hi[i];
    lo[i] = a[at];
    hi[i] = a[at + 1];
  }
}

/** Where a payload is: its bytes and the file offset of its first byte. */
export interface Payload {
  buf: Buffer;
  start: number;
  end: number;
  fileOffset: number;
}

export interface ChunkResult {
  /** ENTRY rows. */
  entries: number;
  /** Rows (ENTRY, EXIT, UNWOUND). */
  rows: number;
  /** STRING and EXTRA records with no call before them in their chunk (not shown). */
  orphans: number;
}

/** Why a varint could not be read (slow paths below): the payload ended in it, or it is too long. */
const PAST_END = -1, TOO_LONG = -2;
/** Where the slow paths leave the position after the varint, or an error code. */
let after = 0;

/** A varint of 2 bytes or more starting at `pos` (its first byte already seen to be >= 0x80), as a number (rounded past 2^53). */
function longNum(buf: Buffer, pos: number, end: number): number {
  let v = 0, mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return ((after = PAST_END), 0);
    const c = buf[pos++];
    if (i === 9 && c > 1) return ((after = TOO_LONG), 0);
    v += (c & 0x7f) * mul;
    if (c < 0x80) return ((after = pos), v);
    mul *= 0x80;
  }
  return ((after = TOO_LONG), 0);
}

/** A varint of 2 bytes or more as a u64, into two u32 slots of `to` at `at` (low, high). */
function longWord(buf: Buffer, pos: number, end: number, to: Uint32Array, at: number): void {
  let lo = 0, hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return void (after = PAST_END);
    const c = buf[pos++];
    const bits = c & 0x7f;
    if (i < 4) lo |= bits << (7 * i);
    else if (i === 4) {
      lo |= bits << 28;
      hi = bits >>> 4;
    } else if (i < 9) hi |= bits << (7 * i - 32);
    else {
      if (c > 1) return void (after = TOO_LONG);
      hi |= bits << 31;
    }
    if (c < 0x80) {
      to[at] = lo >>> 0;
      to[at + 1] = hi >>> 0;
      return void (after = pos);
    }
  }
  after = TOO_LONG;
}

/**
 * Decodes one CALLS payload (after its pid, tid and baseTs) into `b`, handing
 * `b` to `emit` whenever it is full and at the end (one thread's rows in
 * order). `sites` are the sites declared so far.
 */
export function decodeCalls(p: Payload, pid: number, tid: number, baseTs: number, sites: readonly SiteInfo[], b: Batch, emit: (b: CallBatch) => void,
  timesOnly = false, xor: WordXor | null = null): ChunkResult {
  xor?.chunk(sites.length);
  const buf = p.buf, end = p.end, nsites = sites.length;
  let pos = p.start, ts = baseTs, entries = 0, rows = 0, orphans = 0;
  let recordAt = pos;
  /** Bytes of strings and extra fields on the last row. */
  let rowAttached = 0;
  const damage = (what: string): never => {
    throw new RecordDamage(p.fileOffset + (recordAt - p.start), what);
  };
  const bad = (code: number): never => damage(code === PAST_END ? 'a call record runs past the end of its CALLS chunk' : 'a varint of more than 64 bits');
  // The varints of the hot path: one byte inline, longer ones in longNum / longWord.
  let c = 0, v = 0;

  b.reset(pid, tid);
  const kinds = b.kind, siteCol = b.site, tsCol = b.ts, depthCol = b.depth, argsAt = b.argsAt, reasons = b.reason, r32 = b.retval32, f32 = b.fp32, held = b.held;
  while (pos < end) {
    recordAt = pos;
    // tag
    c = buf[pos];
    if (c < 0x80) (v = c), pos++;
    else {
      v = longNum(buf, pos, end);
      if (after < 0) bad(after);
      pos = after;
    }
    const kind = v % 8;
    const site = (v - kind) / 8;
    // dt
    if (pos >= end) bad(PAST_END);
    c = buf[pos];
    if (c < 0x80) (v = c), pos++;
    else {
      v = longNum(buf, pos, end);
      if (after < 0) bad(after);
      pos = after;
    }
    const dt = v;
    if (kind === KIND_STRING || kind === KIND_EXTRA) {
      const got = attach(kind, buf, pos, end, b, rowAttached, timesOnly);
      if (got.orphan) orphans++;
      if (got.inheritedEntry) entries--; // a fork child's inherited call opens its stream: not a call it made
      if (got.damage) {
        recordAt = got.at;
        damage(got.damage);
      }
      pos = got.pos;
      rowAttached = got.rowAttached;
      continue;
    }
    if (kind === KIND_HELD) {
      // varint ns, for the EXIT or UNWOUND row before it in this chunk.
      if (pos >= end) bad(PAST_END);
      v = longNum(buf, pos, end);
      if (after < 0) bad(after);
      pos = after;
      if (v > LIMITS.ns) damage(`a HELD record of ${v} ns (at most 2^64)`);
      const row = b.length - 1;
      if (row < 0 || kinds[row] === Kind.Entry) damage('a HELD record after no EXIT or UNWOUND record of its chunk');
      held[row] = v;
      continue;
    }
    if (kind < Kind.Entry || kind > Kind.Unwound) damage(`a record of kind ${kind} (1 to 6 are known)`);
    if (site >= nsites) damage(`a call of site ${site}, which no SITES chunk before it declared (${nsites} are)`);
    if (b.length === BATCH_ROWS || b.attachedBytes > BATCH_ATTACHED_MAX) {
      emit(b);
      b.reset(pid, tid);
    }
    const s = sites[site];
    const r = b.length;
    rowAttached = 0;
    ts += dt;
    // depth
    if (pos >= end) bad(PAST_END);
    c = buf[pos];
    if (c < 0x80) (v = c), pos++;
    else {
      v = longNum(buf, pos, end);
      if (after < 0) bad(after);
      pos = after;
      if (v > LIMITS.depth) damage(`a depth of ${v} (at most ${LIMITS.depth})`);
    }
    kinds[r] = kind;
    siteCol[r] = site;
    tsCol[r] = ts;
    depthCol[r] = v;
    argsAt[r] = b.nargs;
    reasons[r] = 0;
    held[r] = 0;
    if (timesOnly && kind !== Kind.Unwound) {
      // The words gone over: each varint's bytes up to its last (< 0x80), at most 10; then the floating-point word.
      const n = kind === Kind.Entry ? s.args : s.ret ? 1 : 0;
      for (let i = 0; i < n; i++) {
        const from = pos;
        while (pos < end && buf[pos] >= 0x80) pos++;
        if (pos >= end) bad(PAST_END);
        const len = ++pos - from;
        if (len > 10 || (len === 10 && buf[pos - 1] > 1)) bad(TOO_LONG);
      }
      if (s.fp) {
        if (pos + 8 > end) bad(PAST_END);
        pos += 8;
      }
      r32[2 * r] = r32[2 * r + 1] = f32[2 * r] = f32[2 * r + 1] = 0;
      if (kind === Kind.Entry) entries++;
      b.length = r + 1;
      rows++;
      continue;
    }
    if (kind === Kind.Entry) {
      const n = s.args;
      if (b.nargs + n > b.args.length) b.argsRoom(n);
      const a32 = b.args32;
      for (let i = 0, at = 2 * b.nargs; i < n; i++, at += 2) {
        if (pos >= end) bad(PAST_END);
        c = buf[pos];
        if (c < 0x80) {
          a32[at] = c;
          a32[at + 1] = 0;
          pos++;
        } else {
          longWord(buf, pos, end, a32, at);
          if (after < 0) bad(after);
          pos = after;
        }
        if (xor) xor.apply(site, i, a32, at);
      }
      b.nargs += n;
      r32[2 * r] = 0;
      r32[2 * r + 1] = 0;
      entries++;
    } else if (kind === Kind.Exit) {
      if (!s.ret) (r32[2 * r] = 0), (r32[2 * r + 1] = 0);
      else {
        if (pos >= end) bad(PAST_END);
        c = buf[pos];
        if (c < 0x80) {
          r32[2 * r] = c;
          r32[2 * r + 1] = 0;
          pos++;
        } else {
          longWord(buf, pos, end, r32, 2 * r);
          if (after < 0) bad(after);
          pos = after;
        }
        if (xor) xor.apply(site, WORD_SLOTS - 1, r32, 2 * r);
      }
    } else {
      if (pos >= end) bad(PAST_END);
      const why = buf[pos++];
      if (why >= UNWIND_REASONS.length) damage(`an unwinding reason of ${why} (0 to ${UNWIND_REASONS.length - 1} are known)`);
      reasons[r] = why;
      r32[2 * r] = 0;
      r32[2 * r + 1] = 0;
    }
    if (s.fp && kind !== Kind.Unwound) {
      if (pos + 8 > end) bad(PAST_END);
      f32[2 * r] = buf.readUInt32LE(pos);
      f32[2 * r + 1] = buf.readUInt32LE(pos + 4);
      pos += 8;
    } else (f32[2 * r] = 0), (f32[2 * r + 1] = 0);
    b.length = r + 1;
    rows++;
  }
  if (ts > LIMITS.ns) damage(`a time of ${ts} ns (at most 2^64)`);
  if (b.length) emit(b);
  return { entries, rows, orphans };
}

/** What attach() did: where the next record starts, or what is wrong with this one (at `at`). */
interface Attach {
  pos: number;
  rowAttached: number;
  orphan: boolean;
  damage: string | null;
  at: number;
  /** An EXTRA `inherited: true` on an ENTRY row. */
  inheritedEntry?: boolean;
}

/** A STRING or EXTRA record (after its tag and dt, at `pos`) attached to the last row of `b`. */
function attach(kind: number, buf: Buffer, pos: number, end: number, b: Batch, rowAttached: number, timesOnly = false): Attach {
  const at = pos;
  const fail = (damage: string): Attach => ({ pos, rowAttached, orphan: false, damage, at });
  const num = (): number => {
    if (pos >= end) return ((after = PAST_END), 0);
    if (buf[pos] < 0x80) return ((after = pos + 1), buf[pos]);
    return longNum(buf, pos, end);
  };
  const pastEnd = 'a STRING or EXTRA record runs past the end of its CALLS chunk';
  const first = num();
  if (after < 0) return fail(after === PAST_END ? pastEnd : 'a varint of more than 64 bits');
  pos = after;
  let index = -1, n = first;
  if (kind === KIND_STRING) {
    index = first;
    if (index >= LIMITS.args) return fail(`a STRING record of argument ${index} (there are at most ${LIMITS.args})`);
    n = num();
    if (after < 0) return fail(after === PAST_END ? pastEnd : 'a varint of more than 64 bits');
    pos = after;
    if (n > STRING_MAX) return fail(`a STRING record of ${n} bytes (at most ${STRING_MAX})`);
  } else if (n > EXTRA_MAX) return fail(`an EXTRA record of ${n} bytes (at most ${EXTRA_MAX >> 20} MiB)`);
  if (pos + n > end) return fail(pastEnd);
  let extra: Record<string, unknown> | null = null;
  if (kind === KIND_EXTRA) {
    const got = readExtra(buf, pos, n);
    if (typeof got === 'string') return fail(got);
    extra = got;
  }
  const row = b.length - 1;
  if (row < 0) return { pos: pos + n, rowAttached, orphan: true, damage: null, at };
  if (timesOnly && !extra) return { pos: pos + n, rowAttached, orphan: false, damage: null, at }; // a string: not kept
  rowAttached += n;
  if (rowAttached > ATTACHED_PER_CALL_MAX) return fail(`more than ${ATTACHED_PER_CALL_MAX >> 20} MiB of strings and extra fields on one call`);
  b.attachedBytes += n;
  let a = b.attached.get(row);
  if (!a) b.attached.set(row, (a = {}));
  if (extra) a.extra = a.extra ? { ...a.extra, ...extra } : extra;
  else (a.strings ??= new Map()).set(index, Buffer.from(buf.subarray(pos, pos + n)));
  return { pos: pos + n, rowAttached, orphan: false, damage: null, at, inheritedEntry: extra?.inherited === true && b.kind[row] === Kind.Entry };
}

/** An EXTRA record's JSON, buf[pos, pos + n), checked; or what is wrong with it. */
export function readExtra(buf: Buffer, pos: number, n: number): Record<string, unknown> | string {
  try {
    return checkExtra(JSON.parse(buf.toString('utf8', pos, pos + n)));
  } catch (e) {
    if (e instanceof RecordFieldError) return `EXTRA field '${e.field}': ${e.message.replace(/^field '[^']*': /, '')}`;
    return 'an EXTRA record that is not JSON';
  }
}
