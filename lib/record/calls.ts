// A CALLS chunk's payload decoded into CallBatch columns (batch.ts): one pass
// over the bytes, nothing made per call (argument words go into the u64
// columns as two u32 halves: no BigInt). Every varint, site id, depth,
// reason and length is checked; a bad one is a RecordDamage at its byte.
import { CallBatch, Kind, SiteInfo, UNWIND_REASONS } from './batch';
import { checkExtra } from './check';
import { LIMITS, RecordFieldError } from '../views/record-check';

/** A damaged record: what is wrong, and at which byte of the file. */
export class RecordDamage extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
    this.name = 'RecordDamage';
  }
}

/** STRING and EXTRA records (kinds 4 and 5). */
export const KIND_STRING = 4;
export const KIND_EXTRA = 5;
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

/**
 * Decodes one CALLS payload (after its pid, tid and baseTs) into `b`, handing
 * `b` to `emit` whenever it is full and at the end (one thread's rows in
 * order). `sites` are the sites declared so far.
 */
export function decodeCalls(p: Payload, pid: number, tid: number, baseTs: number, sites: readonly SiteInfo[], b: Batch, emit: (b: CallBatch) => void): ChunkResult {
  const buf = p.buf, end = p.end, nsites = sites.length;
  let pos = p.start, ts = baseTs, entries = 0, rows = 0, orphans = 0;
  let recordAt = 0;
  /** Bytes of strings and extra fields on the last row. */
  let rowAttached = 0;
  const damage = (what: string): never => {
    throw new RecordDamage(p.fileOffset + (recordAt - p.start), what);
  };
  const cut = (): never => damage('a call record runs past the end of its CALLS chunk');

  /** A varint as a number (exact up to 2^53, rounded above: ts and lengths). */
  const num = (): number => {
    if (pos >= end) cut();
    let c = buf[pos++];
    if (c < 0x80) return c;
    let v = c & 0x7f, mul = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) cut();
      c = buf[pos++];
      if (i === 9 && c > 1) damage('a varint longer than 64 bits');
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 0x80;
    }
    return damage('a varint of more than 10 bytes');
  };
  /** A varint as a u64 into two u32 slots of `to` at `at` (low, high). */
  const word = (to: Uint32Array, at: number): void => {
    let lo = 0, hi = 0, c = 0, i = 0;
    for (; i < 10; i++) {
      if (pos >= end) cut();
      c = buf[pos++];
      const bits = c & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi = bits >>> 4;
      } else if (i < 9) hi |= bits << (7 * i - 32);
      else {
        if (c > 1) damage('a varint longer than 64 bits');
        hi |= bits << 31;
      }
      if (c < 0x80) break;
    }
    if (i === 10) damage('a varint of more than 10 bytes');
    to[at] = lo >>> 0;
    to[at + 1] = hi >>> 0;
  };
  const fp = (to: Uint32Array, at: number): void => {
    if (pos + 8 > end) cut();
    to[at] = buf.readUInt32LE(pos);
    to[at + 1] = buf.readUInt32LE(pos + 4);
    pos += 8;
  };
  const attachTo = (bytes: number): Attached | null => {
    const row = b.length - 1;
    if (row < 0) {
      orphans++;
      return null;
    }
    let a = b.attached.get(row);
    if (!a) b.attached.set(row, (a = {}));
    rowAttached += bytes;
    if (rowAttached > ATTACHED_PER_CALL_MAX) damage(`more than ${ATTACHED_PER_CALL_MAX >> 20} MiB of strings and extra fields on one call`);
    b.attachedBytes += bytes;
    return a;
  };

  b.reset(pid, tid);
  while (pos < end) {
    recordAt = pos;
    const tag = num();
    const kind = tag % 8;
    const dt = num();
    if (kind === KIND_STRING || kind === KIND_EXTRA) {
      if (kind === KIND_STRING) {
        const index = num();
        if (index >= LIMITS.args) damage(`a STRING record of argument ${index} (there are at most ${LIMITS.args})`);
        const n = num();
        if (n > STRING_MAX) damage(`a STRING record of ${n} bytes (at most ${STRING_MAX})`);
        if (pos + n > end) cut();
        const a = attachTo(n);
        if (a) (a.strings ??= new Map()).set(index, Buffer.from(buf.subarray(pos, pos + n)));
        pos += n;
      } else {
        const n = num();
        if (n > EXTRA_MAX) damage(`an EXTRA record of ${n} bytes (at most ${EXTRA_MAX >> 20} MiB)`);
        if (pos + n > end) cut();
        let x: Record<string, unknown>;
        try {
          x = checkExtra(JSON.parse(buf.toString('utf8', pos, pos + n)));
        } catch (e) {
          if (e instanceof RecordFieldError) damage(`EXTRA field '${e.field}': ${e.message.replace(/^field '[^']*': /, '')}`);
          damage('an EXTRA record that is not JSON');
        }
        const a = attachTo(n);
        if (a) a.extra = a.extra ? { ...a.extra, ...x! } : x!;
        pos += n;
      }
      continue;
    }
    if (kind < Kind.Entry || kind > Kind.Unwound) damage(`a record of kind ${kind} (1 to 5 are known)`);
    const site = (tag - kind) / 8;
    if (site >= nsites) damage(`a call of site ${site}, which no SITES chunk before it declared (${nsites} are)`);
    if (b.length === BATCH_ROWS || b.attachedBytes > BATCH_ATTACHED_MAX) {
      emit(b);
      b.reset(pid, tid);
    }
    const s = sites[site];
    const r = b.length;
    rowAttached = 0;
    ts += dt;
    const depth = num();
    if (depth > LIMITS.depth) damage(`a depth of ${depth} (at most ${LIMITS.depth})`);
    b.kind[r] = kind;
    b.site[r] = site;
    b.ts[r] = ts;
    b.depth[r] = depth;
    if (kind === Kind.Entry) {
      b.reason[r] = 0;
      b.argsRoom(s.args);
      b.argsAt[r] = b.nargs;
      const a32 = b.args32;
      for (let i = 0; i < s.args; i++) word(a32, 2 * (b.nargs + i));
      b.nargs += s.args;
      b.retval[r] = 0n;
      if (s.fp) fp(b.fp32, 2 * r);
      else b.fpWord[r] = 0n;
      entries++;
    } else if (kind === Kind.Exit) {
      b.reason[r] = 0;
      b.argsAt[r] = b.nargs;
      if (s.ret) word(b.retval32, 2 * r);
      else b.retval[r] = 0n;
      if (s.fp) fp(b.fp32, 2 * r);
      else b.fpWord[r] = 0n;
    } else {
      if (pos >= end) cut();
      const why = buf[pos++];
      if (why >= UNWIND_REASONS.length) damage(`an unwinding reason of ${why} (0 to ${UNWIND_REASONS.length - 1} are known)`);
      b.reason[r] = why;
      b.argsAt[r] = b.nargs;
      b.retval[r] = 0n;
      b.fpWord[r] = 0n;
    }
    b.length = r + 1;
    rows++;
  }
  if (ts > LIMITS.ns) damage(`a time of ${ts} ns (at most 2^64)`);
  if (b.length) emit(b);
  return { entries, rows, orphans };
}
