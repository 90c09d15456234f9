// A record's calls as the event objects the views take (lib/events.ts),
// for the views that need objects: the tree, JSON lines, Chrome. Typed
// `argv` / `ret` are rendered again from the site's signature, the argument
// words and the captured strings by lib/types' renderers, the ones the live
// views use (views/format.ts typeEntry/typeExit); EXTRA fields are merged.
// An exit's duration is its ts less its entry's: exits are matched to the
// open entry of their thread by site and depth.
import { CallBatch, Kind, SiteInfo, UNWIND_REASONS } from './batch';
import type { EntryEvent, ExitEvent, TypedJson } from '../events';
import { IN_ORDER } from '../views/event-json';
import { SAID, typeEntry, typeExit, WithSaid } from '../views/format';
import type { CallArgs, ExitContext } from '../context';
import type { Signature, TypedValue } from '../types/model';
import { CallRegisters, readArgs, readReturn } from '../types/values';

export type CallEvent = EntryEvent | ExitEvent;

/** Hex of small words made once (most arguments are small: counts, flags, lengths); others each time. */
const SMALL_HEX = Array.from({ length: 4096 }, (_, i) => '0x' + i.toString(16));
const hex = (v: bigint) => (v < 4096n ? SMALL_HEX[Number(v)] : '0x' + v.toString(16));

/** One thread's open calls, innermost last (also paired in the addon: native/record/json_lines.h works on these arrays). */
export class Open {
  n = 0;
  depth = new Uint32Array(16);
  site = new Uint32Array(16);
  ts = new Float64Array(16);
  constructor(readonly pid: number) {}
  /** Room for `cap` open calls. */
  reserve(cap: number): void {
    if (cap <= this.depth.length) return;
    const m = Math.max(cap, 2 * this.depth.length);
    const d = new Uint32Array(m), s = new Uint32Array(m), t = new Float64Array(m);
    d.set(this.depth);
    s.set(this.site);
    t.set(this.ts);
    this.depth = d;
    this.site = s;
    this.ts = t;
  }
  push(depth: number, site: number, ts: number): void {
    if (this.n === this.depth.length) this.reserve(this.n + 1);
    this.depth[this.n] = depth;
    this.site[this.n] = site;
    this.ts[this.n] = ts;
    this.n++;
  }
}

/** The fields of an EXTRA record that go before `argv` in an entry event (as live events have them). */
const BEFORE_ARGV = ['backtrace', 'backtraceReliable', 'backtraceSources'];

export type Attached = { strings?: Map<number, Buffer>; extra?: Record<string, unknown> };

/** What the renderers read a recorded call's memory through: only the strings captured at its entry. */
function capturedMemory(words: readonly bigint[], strings: Map<number, Buffer> | undefined): CallRegisters['read'] {
  return (addr, len) => {
    if (!strings) return null;
    const a = BigInt(addr);
    for (const [i, bytes] of strings) {
      const base = words[i];
      if (base === undefined || !bytes.length || a < base || a >= base + BigInt(bytes.length)) continue;
      const from = Number(a - base);
      const got = bytes.subarray(from, from + len);
      // Read whole (its NUL is there): what lies past it does not matter. Cut: only what was read.
      if (got.length < len && bytes[bytes.length - 1] === 0) return Buffer.concat([got, Buffer.alloc(len - got.length)]);
      return got;
    }
    return null;
  };
}

/** One floating-point register's worth (xmm0 / v0) holding the recorded word; the others are not known. */
function fpRegister(b: CallBatch, row: number): Buffer {
  const r = Buffer.alloc(16);
  r.writeBigUInt64LE(b.fpWord[row]);
  return r;
}

/** Rendering a record's hostile signature must not stop the views: a value that cannot be rendered is left out. */
function safely<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

/**
 * An ENTRY row's typed arguments, read by its site's signature from its
 * argument `words`, its floating-point word and the strings captured at the
 * call (null: no signature, or one that cannot be rendered). What replay
 * shows, and what tracer.batches()' valuesOf gives.
 */
export function entryValues(b: CallBatch, r: number, s: SiteInfo, words: readonly bigint[], att: Attached | undefined): TypedValue[] | null {
  const sig = s.signature as Signature | null;
  if (!sig) return null;
  const regs: CallRegisters = { ints: words, fp: () => fpRegister(b, r), sp: 0, read: capturedMemory(words, att?.strings), stringMax: sig.stringMax };
  return safely(() => readArgs(sig, regs));
}

/** An EXIT row's typed return value, from its return `word` and floating-point word (`b` null: none), or null. */
export function exitValue(b: CallBatch | null, r: number, s: SiteInfo, word: bigint): TypedValue | null {
  const ret = (s.signature as Signature | null)?.ret;
  if (!ret) return null;
  const regs: CallRegisters = { ints: [word], fp: () => (b ? fpRegister(b, r) : null), sp: 0, read: () => null };
  return safely(() => readReturn(ret, regs));
}

/**
 * Which calls are made into events at all (views/record.ts InFlightBound):
 * those it refuses are never made (nothing is allocated for them: a record of
 * calls that never return makes millions).
 */
export interface EventBound {
  /** `ts`: the entry's (where a view would mark that calls are dropped from here on). */
  entry(tid: number, depth: number, fn: string, bytes: number, ts: number): boolean;
  exit(tid: number, depth: number, fn: string): boolean;
}

/** Bytes an entry's event takes, about: its JSON line's (EventBound's byte bound, as version 1 counted lines). */
export const entryBytes = (s: SiteInfo): number => 100 + s.function.length + 8 * s.args;

/**
 * Turns a record's batches into events, keeping each thread's open calls
 * across batches (to time exits and close what is open at the end).
 */
export class CallEvents {
  private readonly threads = new Map<number, Open>();
  /** Exits and unwindings with no open call to end (not inherited): not shown. */
  unmatched = 0;

  constructor(private readonly sites: readonly SiteInfo[], private readonly bound: EventBound | null = null) {}

  /** Thread `tid`'s open calls (made empty at its first call). */
  openCalls(pid: number, tid: number): Open {
    let t = this.threads.get(tid);
    if (!t) this.threads.set(tid, (t = new Open(pid)));
    return t;
  }

  /** Calls open now, all threads. */
  get open(): number {
    let n = 0;
    for (const t of this.threads.values()) n += t.n;
    return n;
  }

  /** The events of `b`'s rows, in order, each handed to `emit` as it is made (none is held here). */
  events(b: CallBatch, emit: (e: CallEvent) => void): void {
    this.rows(b, (r, att) => emit(this.entry(b, r, att)),
      (site, depth, ts, durationNs, reason, r, att) => emit(this.exit(b.pid, b.tid, site, depth, ts, durationNs, reason, b.retval[r], b, r, att)));
  }

  /**
   * `b`'s rows as calls, in order, with no object made: each entry shown is
   * handed to `entry` (its row), each exit shown to `exit` (its site, depth,
   * ts, duration, unwinding reason or -1, row), its duration timed from the
   * open entry it ends. What the events are made from; a view that writes
   * straight from the columns (record/json-lines.ts) takes these.
   */
  rows(b: CallBatch, entry: (r: number, att: Attached | undefined) => void,
    exit: (site: number, depth: number, ts: number, durationNs: number, reason: number, r: number, att: Attached | undefined) => void): void {
    let t = this.threads.get(b.tid);
    if (!t) this.threads.set(b.tid, (t = new Open(b.pid)));
    for (let r = 0; r < b.length; r++) {
      const kind = b.kind[r], depth = b.depth[r], site = b.site[r], ts = b.ts[r];
      const att = b.attached.size ? (b.attached.get(r) as Attached | undefined) : undefined;
      if (kind === Kind.Entry) {
        while (t.n && t.depth[t.n - 1] >= depth) t.n--; // calls whose exits never came
        t.push(depth, site, ts);
        const s = this.sites[site];
        if (!this.bound || this.bound.entry(b.tid, depth, s.function, entryBytes(s), ts)) entry(r, att);
        continue;
      }
      while (t.n && t.depth[t.n - 1] > depth) t.n--;
      const top = t.n - 1;
      let durationNs = 0;
      if (top >= 0 && t.depth[top] === depth && t.site[top] === site) {
        // Less what the tracer held the thread for during a trap-mode call (its HELD record): as the live event's.
        durationNs = Math.max(0, ts - t.ts[top] - (b.held ? b.held[r] : 0));
        t.n--;
      } else if (att?.extra?.inherited !== true) {
        this.unmatched++;
        continue;
      }
      if (this.bound && !this.bound.exit(b.tid, depth, this.sites[site].function)) continue;
      exit(site, depth, ts, durationNs, kind === Kind.Unwound ? b.reason[r] : -1, r, att);
    }
  }

  /** Ends every open call as unwound at `ts` (the record's end: `reason` detach or exit), innermost first, each handed to `emit` as it is made. */
  closeAll(ts: number, reason: number, emit: (e: CallEvent) => void): void {
    for (const [tid, t] of this.threads) {
      while (t.n) {
        t.n--;
        if (this.bound && !this.bound.exit(tid, t.depth[t.n], this.sites[t.site[t.n]].function)) continue;
        emit(this.exit(t.pid, tid, t.site[t.n], t.depth[t.n], ts, Math.max(0, ts - t.ts[t.n]), reason, 0n, null, -1, undefined));
      }
    }
  }

  /** Row `r` of `b`, an entry, as its event. */
  entry(b: CallBatch, r: number, att: Attached | undefined): EntryEvent {
    const s = this.sites[b.site[r]];
    const words: bigint[] = new Array(s.args);
    for (let i = 0, at = b.argsAt[r]; i < s.args; i++) words[i] = b.args[at + i];
    const e = {
      type: 'entry', pid: b.pid, tid: b.tid, function: s.function, address: hex(s.address), depth: b.depth[r], args: words.map(hex),
    } as EntryEvent & Record<string, unknown>;
    const extra = att?.extra;
    if (extra) for (const k of BEFORE_ARGV) if (extra[k] !== undefined) e[k] = extra[k];
    if (extra?.argv !== undefined) e.argv = extra.argv as TypedJson[];
    else if (s.signature) {
      const values = entryValues(b, r, s, words, att);
      typeEntry({ args: words as unknown as CallArgs, values, signature: s.signature as Signature }, e, true); // a record holds the words its site says (fewer than six: the rest are not read)
    }
    if (extra) for (const k in extra) if (!BEFORE_ARGV.includes(k) && k !== 'argv' && k !== 'argvText') e[k] = extra[k];
    if (typeof extra?.argvText === 'string') (e as WithSaid)[SAID] = { args: extra.argvText };
    e.ts = b.ts[r];
    (e as { [IN_ORDER]?: true })[IN_ORDER] = true;
    return e;
  }

  /** An exit as its event (`b`, `r`: its row, for the floating-point word; null, -1 for a call ended by closeAll). */
  exit(pid: number, tid: number, site: number, depth: number, ts: number, durationNs: number, reason: number, word: bigint,
    b: CallBatch | null, r: number, att: Attached | undefined): ExitEvent {
    const s = this.sites[site];
    const unwound = reason >= 0;
    const e = {
      type: 'exit', pid, tid, function: s.function, depth, retval: unwound ? null : hex(word), unwound, durationNs,
    } as ExitEvent & Record<string, unknown>;
    const extra = att?.extra;
    if (!unwound && extra?.ret !== undefined) e.ret = extra.ret as TypedJson;
    else if (!unwound && s.signature && (s.signature as Signature).ret) {
      const returnValue = exitValue(b, r, s, word);
      typeExit({ retval: word, unwound: false, returnValue } as unknown as ExitContext, e, true);
    }
    if (unwound) e.reason = UNWIND_REASONS[reason];
    if (extra) for (const k in extra) if (k !== 'ret' && k !== 'retText') e[k] = extra[k];
    if (typeof extra?.retText === 'string' && !unwound) (e as WithSaid)[SAID] = { ret: extra.retText };
    e.ts = ts;
    (e as { [IN_ORDER]?: true })[IN_ORDER] = true;
    return e;
  }
}

/** The events of one batch (`state` carries each thread's open calls from batch to batch). */
export function eventsOf(batch: CallBatch, sites: readonly SiteInfo[], state = new CallEvents(sites)): CallEvent[] {
  const out: CallEvent[] = [];
  state.events(batch, (e) => out.push(e));
  return out;
}
