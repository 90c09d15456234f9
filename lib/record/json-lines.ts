// Live JSON lines straight from a record's columns: what live `trace --format
// json` writes in fast mode (lib/cli/commands/trace.ts). The hook records
// (fast mode's transcoder writes the rings into record buffers), each buffer
// is decoded into CallBatch columns (record/live.ts), and each row becomes its
// JSON line here, with no context and no event object per call: the line is
// built from the columns (its start, up to the depth, made once per site and
// thread). Calls are matched and timed by record/events.ts CallEvents (as
// `dump` does); a row with typed values (its site has a signature) or extra
// fields is made into the event `dump` makes and written by
// views/event-json.ts, so both write the same bytes.
//
// Order: a thread's calls are in order in the record, threads' calls are not
// (fast mode drains one ring at a time). The lines of each decoded buffer are
// held per thread and merged by ts (ties in record order) when the buffer is
// done; each thread's newest lines, those past the earliest last ts of the
// threads holding lines, are held back to be merged with the next buffer's
// (a thread drained after the buffer was written out may still have calls
// before them). Before a note and at the end, everything held goes out.
// While the record has shown one thread only, its lines go out as they are
// made, unheld (as record/order.ts lets one thread through): holding costs
// (the lines outlive the young generation), and most programs traced have one
// thread calling the functions hooked.
import { CallBatch, SiteInfo, UNWIND_REASONS } from './batch';
import { Attached, CallEvent, CallEvents } from './events';
import type { RecordHandlers } from './read';
import { entryJson, exitJson, jsonName, jsonNs } from '../views/event-json';
import type { Sink } from '../views/format';
import type { EntryEvent, ExitEvent } from '../views/events';

/** Characters of lines joined before they go to the sink (one write per this many, not one per line). */
const OUT_CHUNK = 1 << 15;

const SMALL_HEX = Array.from({ length: 4096 }, (_, i) => '0x' + i.toString(16));
const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

/** One thread's lines not yet written, in its order. */
class Held {
  lines: string[] = [];
  ts: number[] = [];
  seq: number[] = [];
  at = 0;
  get size(): number {
    return this.lines.length - this.at;
  }
  push(line: string, ts: number, seq: number): void {
    this.lines.push(line);
    this.ts.push(ts);
    this.seq.push(seq);
  }
  /** Drops what was written. */
  compact(): void {
    if (!this.at) return;
    if (this.at === this.lines.length) (this.lines = []), (this.ts = []), (this.seq = []);
    else this.lines.splice(0, this.at), this.ts.splice(0, this.at), this.seq.splice(0, this.at);
    this.at = 0;
  }
}

export class ColumnJson {
  private events: CallEvents | null = null;
  private sites: readonly SiteInfo[] = [];
  private readonly held = new Map<number, Held>();
  private seq = 0;
  /** Lines are held to be merged; false: they go out as they are made (one thread so far, firstTid). */
  private windowed = false;
  private firstTid = -1;
  private out = '';
  /** Per site: the start of its entry and exit lines, for thread headTid[site]. */
  private readonly entryHead: string[] = [];
  private readonly exitHead: string[] = [];
  private readonly headTid: number[] = [];
  /** The last word written per argument slot (and the return's, past them), and its hex: most repeat from call to call. */
  private readonly lastLo: number[] = [];
  private readonly lastHi: number[] = [];
  private readonly lastHex: string[] = [];
  /** The 32-bit halves of the argument and return columns (little-endian), remade when the columns are. */
  private args32 = new Uint32Array(0);
  private argsOf: BigUint64Array | null = null;
  private ret32 = new Uint32Array(0);
  private retOf: BigUint64Array | null = null;

  constructor(private readonly sink: Sink) {}

  /** What the live record reader (record/live.ts) hands the decoded buffers to. */
  readonly handlers: RecordHandlers = {
    sites: (_added, all) => {
      this.sites = all;
      if (!this.events) this.events = new CallEvents(all);
    },
    calls: (b) => this.batch(b),
  };

  /** A decoded buffer is done: its lines merged by ts and written, but for each thread's newest (see above). */
  buffered(): void {
    this.release(false);
  }

  /** Every call still open ended at `ts`, unwound (`reason`: detach or exit), as `dump` ends them at the record's end; then everything written. */
  closeAll(ts: number, reason: (typeof UNWIND_REASONS)[number]): void {
    this.events?.closeAll(ts, UNWIND_REASONS.indexOf(reason), (e: CallEvent) => this.thread(e.tid).push(exitJson(e as ExitEvent), e.ts, this.seq++));
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

  /** A word of a 32-bit-halves column at element `i`, as the events write it, remembered for `slot`. */
  private hex(w: Uint32Array, i: number, slot: number): string {
    const lo = w[2 * i], hi = w[2 * i + 1];
    if (hi === 0 && lo < 4096) return SMALL_HEX[lo];
    if (lo === this.lastLo[slot] && hi === this.lastHi[slot]) return this.lastHex[slot];
    this.lastLo[slot] = lo;
    this.lastHi[slot] = hi;
    let s: string;
    if (hi === 0) s = '0x' + lo.toString(16);
    else {
      const l = lo.toString(16);
      s = '0x' + hi.toString(16) + ZEROS[8 - l.length] + l;
    }
    return (this.lastHex[slot] = s);
  }

  private heads(b: CallBatch, site: number): void {
    if (this.headTid[site] === b.tid && this.entryHead[site] !== undefined) return;
    const s = this.sites[site];
    const who = '"pid":' + b.pid + ',"tid":' + b.tid + ',"function":' + jsonName(s.function);
    this.entryHead[site] = '{"type":"entry",' + who + ',"address":"0x' + s.address.toString(16) + '","depth":';
    this.exitHead[site] = '{"type":"exit",' + who + ',"depth":';
    this.headTid[site] = b.tid;
  }

  private batch(b: CallBatch): void {
    const ev = this.events;
    if (!ev || !b.length) return;
    if (b.args !== this.argsOf) (this.argsOf = b.args), (this.args32 = new Uint32Array(b.args.buffer, b.args.byteOffset, 2 * b.args.length));
    if (b.retval !== this.retOf) (this.retOf = b.retval), (this.ret32 = new Uint32Array(b.retval.buffer, b.retval.byteOffset, 2 * b.retval.length));
    if (!this.windowed && b.tid !== this.firstTid) {
      if (this.firstTid < 0) this.firstTid = b.tid;
      else this.windowed = true;
    }
    const held = this.windowed ? this.thread(b.tid) : null;
    const sites = this.sites;
    const args32 = this.args32, ret32 = this.ret32;
    ev.rows(b, (r: number, att: Attached | undefined) => {
      const site = b.site[r], s = sites[site];
      const ts = b.ts[r];
      let line: string;
      if (att !== undefined || s.signature) line = entryJson(ev.entry(b, r, att) as EntryEvent);
      else {
        this.heads(b, site);
        let args = '';
        for (let i = 0, at = b.argsAt[r]; i < s.args; i++) args += (i ? ',"' : '"') + this.hex(args32, at + i, i) + '"';
        line = this.entryHead[site] + b.depth[r] + ',"args":[' + args + '],"ts":' + jsonNs(ts) + '}\n';
      }
      if (held) held.push(line, ts, this.seq++);
      else this.emit(line);
    }, (site, depth, ts, durationNs, reason, r, att) => {
      const s = sites[site];
      let line: string;
      if (att !== undefined || (reason < 0 && s.signature)) line = exitJson(ev.exit(b.pid, b.tid, site, depth, ts, durationNs, reason, b.retval[r], b, r, att));
      else {
        this.heads(b, site);
        line = this.exitHead[site] + depth + (reason < 0 ? ',"retval":"' + this.hex(ret32, r, 16) + '","unwound":false,"durationNs":'
          : ',"retval":null,"unwound":true,"durationNs":') + jsonNs(durationNs) + (reason < 0 ? '' : ',"reason":' + jsonName(UNWIND_REASONS[reason])) +
          ',"ts":' + jsonNs(ts) + '}\n';
      }
      if (held) held.push(line, ts, this.seq++);
      else this.emit(line);
    });
  }

  /** The lines held, merged by ts (ties in record order), written up to the earliest last ts of the threads holding lines (`all`: every one). */
  private release(all: boolean): void {
    let cut = Infinity, n = 0;
    let only: Held | null = null;
    for (const h of this.held.values()) {
      if (!h.size) continue;
      n++;
      only = h;
      if (!all) cut = Math.min(cut, h.ts[h.ts.length - 1]);
    }
    if (n === 1) {
      // One thread holds lines: all of them go, in its order.
      const h = only!;
      for (let i = h.at; i < h.lines.length; i++) this.emit(h.lines[i]);
      h.at = h.lines.length;
    } else if (n > 1) {
      const hs = [...this.held.values()].filter((h) => h.size);
      for (;;) {
        let best: Held | null = null;
        for (const h of hs) {
          if (h.at === h.lines.length || h.ts[h.at] > cut) continue;
          if (!best || h.ts[h.at] < best.ts[best.at] || (h.ts[h.at] === best.ts[best.at] && h.seq[h.at] < best.seq[best.at])) best = h;
        }
        if (!best) break;
        this.emit(best.lines[best.at++]);
      }
    }
    for (const h of this.held.values()) h.compact();
    if (this.out) {
      this.sink.write(this.out);
      this.out = '';
    }
  }

  private emit(line: string): void {
    this.out += line;
    if (this.out.length > OUT_CHUNK) {
      this.sink.write(this.out);
      this.out = '';
    }
  }
}
