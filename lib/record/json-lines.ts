// Live JSON lines straight from a record's columns: what live `trace --format
// json` writes in fast mode (lib/cli/commands/trace.ts). The hook records
// (fast mode's transcoder writes the rings into record buffers), each buffer
// is decoded into CallBatch columns (record/live.ts), and each row becomes its
// JSON line here, with no context, no event object and no string per call:
// the line's bytes are written from the columns into a big buffer (its start,
// up to the depth, made once per site and thread; numbers and hex digit by
// digit), which goes to the sink whole. Calls are matched and timed by
// record/events.ts CallEvents (as `dump` does); a row with typed values (its
// site has a signature) or extra fields is made into the event `dump` makes
// and written by views/event-json.ts, so both write the same bytes.
//
// Order: a thread's calls are in order in the record, threads' calls are not
// (fast mode drains one ring at a time, and a ring may wait). Lines are held
// per thread and merged by ts (ties in record order) when a decoded buffer is
// done: as `dump` orders a record's events (record/order.ts), the WINDOW
// newest are held back to be merged with the next buffers', and so are those
// younger than HOLD_NS (a live stream is not held for long by a slow
// program). Before a note and at the end, everything held goes out. While the
// record has shown one thread only (for 2 windows of lines), its lines go out
// as they are made, unheld (as record/order.ts lets one thread through), until
// a second thread comes: holding costs (the lines are copied again), and most
// programs traced have one thread calling the functions hooked. Held lines are
// bytes too, in a buffer per thread.
import { CallBatch, SiteInfo, UNWIND_REASONS } from './batch';
import { Attached, CallEvent, CallEvents } from './events';
import { WINDOW } from './order';
import type { RecordHandlers } from './read';
import type { ChunkCounts } from './aggregate';
import { arch, JsonLineWriter } from '../native';
import { wordSignature } from '../types/values';
import type { Signature } from '../types/model';
import { RECORD_FORMAT_VERSION } from './write';
import { entryJson, exitJson, jsonName, jsonNs } from '../views/event-json';
import type { Sink } from '../views/format';
import type { EntryEvent, ExitEvent } from '../events';
import { monotonicNs } from '../views/view';

/** Bytes of lines that go to the sink in one write. */
const OUT_BYTES = 1 << 18;
/** Room a line written from the columns may take past its start: digits, hex words (8 of them), the fields' names. */
const LINE_ROOM = 512;
/** At most this many bytes of a thread's lines are held: past it, every line held goes out (merged). */
const HELD_BYTES = 1 << 26;
/** A line held this long (by its ts) goes out: a live stream is not held back for WINDOW more calls. */
const HOLD_NS = 1e9;

const HEX = Buffer.from('0123456789abcdef');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const ARGS = ascii(',"args":['), TS = ascii('],"ts":'), TS_ = ascii(',"ts":'), END = ascii('}\n');
const RETVAL = ascii(',"retval":"'), RETURNED = ascii('","unwound":false,"durationNs":'), UNWOUND = ascii(',"retval":null,"unwound":true,"durationNs":');
const REASONS = UNWIND_REASONS.map((r) => ascii(',"reason":' + jsonName(r)));

/** Words remembered (Bytes.word): the argument registers (8 at most), then the return value's. */
const RET_SLOT = 15;
const SLOTS = 16;

/** Two decimal digits of 0..99, as byte pairs. */
const DIGITS2 = new Uint8Array(200);
for (let i = 0; i < 100; i++) (DIGITS2[2 * i] = 48 + Math.floor(i / 10)), (DIGITS2[2 * i + 1] = 48 + (i % 10));

/** A growing byte buffer lines are written into (exported for its unit test). */
export class Bytes {
  buf: Buffer;
  pos = 0;
  /** The digits of the last large number's part above 1e9 (a ts's, from call to call): made once. */
  private lastHigh = -1;
  private highDigits = new Uint8Array(0);
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }
  put(a: Uint8Array): void {
    if (a.length > 24) {
      this.buf.set(a, this.pos);
      this.pos += a.length;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < a.length; i++) b[p++] = a[i];
    this.pos = p;
  }
  /** A string line (made by views/event-json.ts), UTF-8. */
  text(s: string): void {
    this.room(3 * s.length);
    this.pos += (this.buf as Buffer & { utf8Write(s: string, at: number): number }).utf8Write(s, this.pos);
  }
  /** A non-negative integer below 2^31, in decimal. */
  private small(n: number): void {
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    this.pos += digits;
    this.digits(n, this.pos, digits);
  }
  /** `count` digits of n (below 2^31) ending before `end`, two at a time. */
  private digits(n: number, end: number, count: number): void {
    const b = this.buf;
    let p = end;
    while (count >= 2) {
      const q = (n / 100) | 0, r = 2 * (n - 100 * q);
      b[--p] = DIGITS2[r + 1];
      b[--p] = DIGITS2[r];
      n = q;
      count -= 2;
    }
    if (count) b[--p] = 48 + n;
  }
  /** A number as JSON.stringify writes it (a ts or duration in ns: integers up to 2^53 digit by digit). */
  num(n: number): void {
    if (n >= 0 && n < 2147483648 && (n | 0) === n) return this.small(n);
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n))) return this.text(jsonNs(n));
    const hi = Math.floor(n / 1e9), lo = n - hi * 1e9;
    if (hi !== this.lastHigh) {
      this.lastHigh = hi;
      this.highDigits = Buffer.from(String(hi), 'latin1');
    }
    this.put(this.highDigits);
    this.pos += 9;
    this.digits(lo, this.pos, 9);
  }
  /**
   * hex(lo, hi), remembered for `slot` (an argument register, or the return
   * value): most argument registers hold at a call what they held at the one
   * before (a pointer's 14 bytes copied, not 12 digits made).
   */
  word(lo: number, hi: number, slot: number): void {
    if (hi === 0 && lo < 256) return this.hex(lo, 0);
    const at = 24 * slot;
    const saved = this.saved;
    if (this.savedLo[slot] !== lo || this.savedHi[slot] !== hi || !this.savedLen[slot]) {
      const start = this.pos;
      this.hex(lo, hi);
      const n = this.pos - start;
      for (let i = 0; i < n; i++) saved[at + i] = this.buf[start + i];
      this.savedLo[slot] = lo;
      this.savedHi[slot] = hi;
      this.savedLen[slot] = n;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = at, end = at + this.savedLen[slot]; i < end; i++) b[p++] = saved[i];
    this.pos = p;
  }
  /**
   * `n` argument words from args32[at] on, quoted, comma-separated. The words
   * past the first are mostly those of the call before (the first, a loop's
   * index, changes): when they all are, their bytes are copied at once.
   */
  args(args32: Uint32Array, at: number, n: number): void {
    const b = this.buf;
    if (!n) return;
    b[this.pos++] = 34; // "
    this.word(args32[at], args32[at + 1], 0);
    b[this.pos++] = 34;
    if (n === 1) return;
    const rest = this.rest, words = 2 * (n - 1);
    let same = this.restWords === words;
    for (let i = 0; same && i < words; i++) same = rest[i] === args32[at + 2 + i];
    if (same) return this.put(this.restBytes);
    const start = this.pos;
    for (let i = 1, w = at + 2; i < n; i++, w += 2) {
      b[this.pos++] = 44; // ,
      b[this.pos++] = 34;
      this.word(args32[w], args32[w + 1], i);
      b[this.pos++] = 34;
    }
    for (let i = 0; i < words; i++) rest[i] = args32[at + 2 + i];
    this.restWords = words;
    this.restBytes = Uint8Array.from(b.subarray(start, this.pos));
  }
  private readonly rest = new Uint32Array(2 * SLOTS);
  private restWords = -1;
  private restBytes = new Uint8Array(0);
  private readonly saved = new Uint8Array(24 * SLOTS);
  private readonly savedLo = new Float64Array(SLOTS);
  private readonly savedHi = new Float64Array(SLOTS);
  private readonly savedLen = new Uint8Array(SLOTS);

  /** A 64-bit word given as its halves, as the events write it: '0x' and its hex digits, no leading zeros. */
  hex(lo: number, hi: number): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = 48;
    b[p++] = 120;
    if (hi) {
      for (let i = (35 - Math.clz32(hi)) >> 2; i-- > 0; ) b[p++] = HEX[(hi >>> (4 * i)) & 15];
      for (let i = 8; i-- > 0; ) b[p++] = HEX[(lo >>> (4 * i)) & 15];
    } else if (!lo) b[p++] = 48;
    else for (let i = (35 - Math.clz32(lo)) >> 2; i-- > 0; ) b[p++] = HEX[(lo >>> (4 * i)) & 15];
    this.pos = p;
  }
}

/**
 * A typed site's values as the addon's line writers show them, when every one
 * is a word the record carries (lib/types/values.ts wordSignature); null:
 * untyped, or TypeScript's (the words this machine's ABI reads, as replay's).
 */
export function typedWords(s: SiteInfo): Buffer | null {
  return s.signature ? wordSignature(s.signature as Signature, Math.min(s.args, arch.args.length)) : null;
}

/** One thread's lines not yet written, in its order: their bytes, where each ends, its ts and record order. */
class Held {
  readonly bytes = new Bytes(1 << 16);
  ends: number[] = [];
  ts: number[] = [];
  seq: number[] = [];
  /** The first line not written, and where it starts. */
  at = 0;
  from = 0;
  get size(): number {
    return this.ends.length - this.at;
  }
  line(ts: number, seq: number, end = this.bytes.pos): void {
    this.ends.push(end);
    this.ts.push(ts);
    this.seq.push(seq);
  }
  /** Drops what was written. */
  compact(): void {
    if (!this.at) return;
    const b = this.bytes;
    if (this.at === this.ends.length) {
      (this.ends = []), (this.ts = []), (this.seq = []);
      b.pos = 0;
    } else {
      b.buf.copy(b.buf, 0, this.from, b.pos);
      b.pos -= this.from;
      this.ends.splice(0, this.at), this.ts.splice(0, this.at), this.seq.splice(0, this.at);
      for (let i = 0; i < this.ends.length; i++) this.ends[i] -= this.from;
    }
    this.at = 0;
    this.from = 0;
  }
}

export class ColumnJson {
  private events: CallEvents | null = null;
  private sites: readonly SiteInfo[] = [];
  private readonly held = new Map<number, Held>();
  private seq = 0;
  private readonly out = new Bytes(OUT_BYTES + LINE_ROOM);
  /** Lines are held to be merged; false: they go out as they are made (one thread so far, firstTid; -1: several). */
  private windowed = true;
  private firstTid = 0;
  private rows = 0;
  /** Per site: the start of its entry and exit lines (up to the depth's value), for thread headTid[site]. */
  private readonly entryHead: Buffer[] = [];
  private readonly exitHead: Buffer[] = [];
  private readonly headTid: number[] = [];
  /** The 32-bit halves of the argument and return columns (little-endian), remade when the columns are. */
  private args32 = new Uint32Array(0);
  private argsOf: BigUint64Array | null = null;
  private ret32 = new Uint32Array(0);
  private retOf: BigUint64Array | null = null;

  constructor(private readonly sink: Sink) {}

  /** The addon's writer of plain chunks' lines, and what it hands back. */
  private readonly native = new JsonLineWriter(RECORD_FORMAT_VERSION >= 3); // a live record is this rethook's own
  private readonly result = new Float64Array(10);
  private lineEnds = new Uint32Array(1024);
  private lineTs = new Float64Array(1024);

  /** What the live record reader (record/live.ts) hands the buffers to: each CALLS chunk whose calls are all plain is written by the addon, the others decoded. */
  readonly handlers: RecordHandlers = {
    sites: (added, all) => {
      this.sites = all;
      if (!this.events) this.events = new CallEvents(all);
      for (const s of added) {
        const name = ',"function":' + jsonName(s.function);
        const typed = typedWords(s);
        this.native.site(s.id, s.args, s.ret, s.fp, !s.signature || typed !== null, Buffer.from(name + ',"address":"0x' + s.address.toString(16) + '","depth":'),
          Buffer.from(name + ',"depth":'), typed ?? undefined);
      }
    },
    callsChunk: (pid, tid, baseTs, buf, start, end) => this.chunk(pid, tid, baseTs, buf, start, end),
    calls: (b) => this.batch(b),
  };

  /** A decoded buffer is done (or FLUSH_AFTER_MS went by): the lines held merged by ts and written, but for the newest (see above). */
  buffered(): void {
    this.release(false);
  }

  /** Every call still open ended at `ts`, unwound (`reason`: detach or exit), as `dump` ends them at the record's end; then everything written. */
  closeAll(ts: number, reason: (typeof UNWIND_REASONS)[number]): void {
    this.events?.closeAll(ts, UNWIND_REASONS.indexOf(reason), (e: CallEvent) => {
      const h = this.thread(e.tid);
      h.bytes.text(exitJson(e as ExitEvent));
      h.line(e.ts, this.seq++);
    });
    this.release(true);
  }

  /** Everything held written now (before a note, and at the end). */
  drain(): void {
    this.release(true);
  }

  private thread(tid: number): Held {
    let h = this.held.get(tid);
    if (!h) this.held.set(tid, (h = new Held()));
    return h;
  }

  private heads(b: CallBatch, site: number): void {
    if (this.headTid[site] === b.tid && this.entryHead[site] !== undefined) return;
    const s = this.sites[site];
    const who = '"pid":' + b.pid + ',"tid":' + b.tid + ',"function":' + jsonName(s.function);
    this.entryHead[site] = Buffer.from('{"type":"entry",' + who + ',"address":"0x' + s.address.toString(16) + '","depth":');
    this.exitHead[site] = Buffer.from('{"type":"exit",' + who + ',"depth":');
    this.headTid[site] = b.tid;
  }

  /** A CALLS payload written by the addon, when its calls are all plain: as batch() writes them, byte for byte. */
  private chunk(pid: number, tid: number, baseTs: number, buf: Buffer, start: number, end: number): ChunkCounts | undefined {
    const ev = this.events;
    if (!ev) return undefined;
    const open = ev.openCalls(pid, tid);
    // One thread for the first 2 windows of lines: let through unheld from there, until a second thread comes (as batch()).
    if (this.firstTid === 0) this.firstTid = tid;
    else if (tid !== this.firstTid) (this.windowed = true), (this.firstTid = -1);
    const held = this.windowed ? this.thread(tid) : null;
    const o = held ? held.bytes : this.out;
    const r = this.result;
    for (;;) {
      const status = this.native.chunk(buf, start, end, pid, tid, baseTs, open.depth, open.site, open.ts, open.n, o.buf, o.pos,
        held ? this.lineEnds : null, held ? this.lineTs : null, r);
      if (status === 1) return undefined;
      if (status === 0) break;
      open.reserve(r[7]);
      o.room(r[8] - o.pos);
      if (r[9] > this.lineEnds.length) (this.lineEnds = new Uint32Array(r[9])), (this.lineTs = new Float64Array(r[9]));
    }
    const [rows, entries, lines, unmatched, lastTs, pos, openN] = r;
    o.pos = pos;
    open.n = openN;
    ev.unmatched += unmatched;
    if (held) for (let i = 0; i < lines; i++) held.line(this.lineTs[i], this.seq++, this.lineEnds[i]);
    // (batch() lets them through before writing a batch, the rows known; here the lines held are all let through after.)
    if (this.firstTid > 0 && this.windowed && (this.rows += rows) > 2 * WINDOW) {
      this.release(true);
      this.windowed = false;
    }
    if (held && o.pos > HELD_BYTES) this.release(true);
    else if (!held && o.pos > OUT_BYTES) this.write();
    return { rows, entries, orphans: 0, lastTs };
  }

  private batch(b: CallBatch): void {
    const ev = this.events;
    if (!ev || !b.length) return;
    if (b.args !== this.argsOf) (this.argsOf = b.args), (this.args32 = new Uint32Array(b.args.buffer, b.args.byteOffset, 2 * b.args.length));
    if (b.retval !== this.retOf) (this.retOf = b.retval), (this.ret32 = new Uint32Array(b.retval.buffer, b.retval.byteOffset, 2 * b.retval.length));
    // One thread for the first 2 windows of lines: let through unheld from there, until a second thread comes (as record/order.ts).
    if (this.firstTid === 0) this.firstTid = b.tid;
    else if (b.tid !== this.firstTid) (this.windowed = true), (this.firstTid = -1);
    if (this.firstTid > 0 && this.windowed && (this.rows += b.length) > 2 * WINDOW) {
      this.release(true);
      this.windowed = false;
    }
    const held = this.windowed ? this.thread(b.tid) : null;
    const o = held ? held.bytes : this.out;
    const sites = this.sites;
    const args32 = this.args32, ret32 = this.ret32;
    const done = (ts: number) => {
      if (held) {
        held.line(ts, this.seq++);
        if (o.pos > HELD_BYTES) this.release(true);
      } else if (o.pos > OUT_BYTES) this.write();
    };
    ev.rows(b, (r: number, att: Attached | undefined) => {
      const site = b.site[r], s = sites[site];
      if (att !== undefined || s.signature) o.text(entryJson(ev.entry(b, r, att) as EntryEvent));
      else {
        this.heads(b, site);
        const head = this.entryHead[site];
        o.room(head.length + LINE_ROOM);
        o.put(head);
        o.num(b.depth[r]);
        o.put(ARGS);
        o.args(args32, 2 * b.argsAt[r], s.args);
        o.put(TS);
        o.num(b.ts[r]);
        o.put(END);
      }
      done(b.ts[r]);
    }, (site, depth, ts, durationNs, reason, r, att) => {
      const s = sites[site];
      if (att !== undefined || (reason < 0 && s.signature)) o.text(exitJson(ev.exit(b.pid, b.tid, site, depth, ts, durationNs, reason, b.retval[r], b, r, att)));
      else {
        this.heads(b, site);
        const head = this.exitHead[site];
        o.room(head.length + LINE_ROOM);
        o.put(head);
        o.num(depth);
        if (reason < 0) {
          o.put(RETVAL);
          o.word(ret32[2 * r], ret32[2 * r + 1], RET_SLOT);
          o.put(RETURNED);
        } else o.put(UNWOUND);
        o.num(durationNs);
        if (reason >= 0) o.put(REASONS[reason]);
        o.put(TS_);
        o.num(ts);
        o.put(END);
      }
      done(ts);
    });
  }

  /** The lines waiting in `out` to the sink. */
  private write(): void {
    if (!this.out.pos) return;
    this.sink.writeBytes(this.out.buf.subarray(0, this.out.pos));
    this.out.pos = 0;
  }

  /**
   * The lines held, merged by ts (ties in record order), written: all of them
   * (`all`), or the earliest while more than WINDOW are held or they are
   * older than HOLD_NS.
   */
  private release(all: boolean): void {
    let held = 0;
    const hs: Held[] = [];
    for (const h of this.held.values()) {
      if (!h.size) continue;
      hs.push(h);
      held += h.size;
    }
    let over = all ? Infinity : held - WINDOW;
    const old = all ? Infinity : monotonicNs() - HOLD_NS;
    const o = this.out;
    while (hs.length) {
      // The thread with the earliest line, and the one after it: its lines before the other's go in one copy.
      let best: Held | null = null, next: Held | null = null;
      for (const h of hs) {
        if (h.at === h.ends.length) continue;
        if (!best || before(h, best)) (next = best), (best = h);
        else if (!next || before(h, next)) next = h;
      }
      if (!best || (over <= 0 && best.ts[best.at] > old)) break;
      let end = best.at + 1;
      over--;
      const nts = next ? next.ts[next.at] : Infinity, nseq = next ? next.seq[next.at] : Infinity;
      while (end < best.ends.length && (over > 0 || best.ts[end] <= old) && (best.ts[end] < nts || (best.ts[end] === nts && best.seq[end] < nseq))) end++, over--;
      const to = best.ends[end - 1];
      o.room(to - best.from);
      best.bytes.buf.copy(o.buf, o.pos, best.from, to);
      o.pos += to - best.from;
      best.at = end;
      best.from = to;
      if (o.pos > OUT_BYTES) this.write();
    }
    for (const h of hs) h.compact();
    this.write();
  }
}

/** h's next line comes before g's (by ts, then record order). */
function before(h: Held, g: Held): boolean {
  return h.ts[h.at] < g.ts[g.at] || (h.ts[h.at] === g.ts[g.at] && h.seq[h.at] < g.seq[g.at]);
}
