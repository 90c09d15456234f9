// How the views write: the sink (buffered to files and pipes, at once to a
// terminal), and how a call's arguments and return value are rendered.
import * as fs from 'fs';
import * as tty from 'tty';
import type { EntryContext, ExitContext } from '../context';
import { argsJson, argsText as typedArgsText, callName, entryParts, exitParts, filledJson, returnJson, returnText } from '../types/render';
import { escapeC, escapeText } from '../symbols/text';
import { memoize } from '../memo';
import { IN_ORDER } from './event-json';
import type { EntryEvent, ExitEvent, TypedJson } from '../events';

export { formatDuration } from './view';

// ---- a call's arguments and return value: the one place they are rendered ----

/**
 * A register in hex, remembered per slot (argument register i, or the return
 * value): most argument registers hold at a call what they held at the one
 * before, and a BigInt's toString(16) is slow (it ran 7 times per call).
 */
function hexIn(slot: number, v: bigint): string {
  if (v === lastValue[slot]) return lastHex[slot];
  lastValue[slot] = v;
  return (lastHex[slot] = '0x' + v.toString(16));
}
const lastValue: bigint[] = [];
const lastHex: string[] = [];
const RET_SLOT = 16; // past the argument registers (6 on x86-64, 8 on arm64)

/** A call's arguments as its entry event carries them (JSON `args`). */
export function renderArgs(ctx: EntryContext): string[] {
  return ctx.args.map((v, i) => hexIn(i, v));
}

/** A call's return value as its exit event carries it (JSON `retval`): null when it did not return. */
export function renderRet(ctx: ExitContext): string | null {
  return ctx.retval === null ? null : hexIn(RET_SLOT, ctx.retval);
}

/**
 * The text of typed values rendered at the call, from a record's EXTRA
 * (`argvText`, `retText`: RecordWriter.rendersAtCall), kept on its event
 * for the tree; not written to JSON (its `argv` and `ret` are).
 */
export const SAID: unique symbol = Symbol('text rendered at the call');
export type WithSaid = { [SAID]?: { args?: string; ret?: string } };

/** What a live event's text is made from (entryParts, exitParts), kept on it; not written to JSON. */
const LIVE = Symbol('live');
type WithLive = { [LIVE]?: EntryParts | ExitParts };
type EntryParts = ReturnType<typeof entryParts>;
type ExitParts = ReturnType<typeof exitParts>;

/**
 * Typed fields of a call's entry event (`argv`, next to the raw `args`) when
 * its signature is known, and what its text as the tree shows it is made of.
 */
export function typeEntry(parts: EntryParts, e: EntryEvent, json: boolean, live = true): void {
  if (json) {
    const argv = argsJson(parts);
    if (argv) e.argv = argv as unknown as TypedJson[];
  }
  if (live) (e as WithLive)[LIVE] = parts;
}

/** Typed `ret` of an exit event (when `json`), and what its text (`= 0`, `= "x"`, '' for void) is made of. */
export function typeExit(ctx: ExitContext, e: ExitEvent, json: boolean, live = true): void {
  const parts = exitParts(ctx);
  if (json) {
    const ret = returnJson(parts);
    if (ret) e.ret = ret as unknown as TypedJson;
    const filled = filledJson(parts);
    if (filled) e.filled = filled as unknown as TypedJson[];
  }
  if (live) (e as WithLive)[LIVE] = parts;
}

/**
 * What the views listening to live events read of them: 'all' fields, or only
 * 'text' (the tree and the summaries: no typed JSON fields; see entryEvent);
 * 'plain': all fields and nothing else (`tracer.events()`: no hidden
 * properties for the text or the JSON writer's field order).
 */
export type EventFields = 'all' | 'text' | 'plain';

/** The raw `args` of a 'text' event whose typed values say it all. */
export const NO_ARGS: string[] = Object.freeze([]) as unknown as string[];

/** A function's name as a call line shows it (C++ without its parameter list: the arguments follow). */
export function callLabel(fn: string): string {
  return callName(fn);
}

/** A typed value from a record (`argv` / `ret` entries) as text: a string as the live tree shows it. */
function recordValue(v: { name?: string; type?: string; value?: unknown; error?: string; truncated?: boolean }): string {
  const val = v.value;
  let text: string;
  if (v.error) text = `${String(val)} <${v.error}>`;
  else if (typeof val === 'string' && /char\s*\*/.test(v.type ?? '')) text = `"${escapeC(val, '"')}"${v.truncated ? '...' : ''}`;
  else if (val !== null && typeof val === 'object') text = '{...}';
  else text = String(val);
  return v.name ? `${v.name}=${text}` : text;
}

/** The arguments as the text tree shows them (live: as rendered at the call; replayed: from the record). */
export function argsText(e: EntryEvent, nargs: number): string {
  const live = (e as WithLive)[LIVE] as EntryParts | undefined;
  if (live !== undefined && live.values) return typedArgsText(live, 8);
  // Rendered at the call by the live tree's record (RecordWriter.liveText): as the per-call path shows it.
  const said = (e as WithSaid)[SAID]?.args;
  if (said !== undefined) return escapeText(said);
  const argv = (e as unknown as { argv?: { name?: string; type?: string; value?: unknown; error?: string }[] }).argv;
  if (argv) return escapeText(argv.map(recordValue).join(', ')); // from a record: untrusted text
  return e.args.slice(0, nargs).join(', ');
}

/** The return value as the text tree shows it: `= value`, or '' for a void function. */
export function retText(e: ExitEvent): string {
  const live = (e as WithLive)[LIVE] as ExitParts | undefined;
  const said = (e as WithSaid)[SAID]?.ret;
  if (said !== undefined) return escapeText(said);
  // Live (or re-rendered from a record's words: then a record's `filled` buffers follow, below).
  if (live !== undefined && (live.filled?.length || !(e as unknown as { filled?: unknown }).filled)) return returnText(live);
  const ret = (e as unknown as { ret?: { type?: string; value?: unknown; error?: string } }).ret;
  const text = live !== undefined ? returnText(live) : ret ? (ret.type === 'void' ? '' : `= ${escapeText(recordValue(ret))}`) : e.retval === null ? '' : `= ${e.retval}`;
  // The buffers the call filled in, from a record: untrusted, shown only as well-formed entries.
  const filled = (e as unknown as { filled?: unknown }).filled;
  if (!Array.isArray(filled) || !filled.length || !filled.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) return text;
  const shown = `[${escapeText(filled.map((v) => recordValue(v as Parameters<typeof recordValue>[0])).join(', '))}]`;
  return text ? `${text} ${shown}` : shown;
}

// ---- the sink ----------------------------------------------------------------

/** True when `fd` is a terminal that the program's own stdout or stderr (ours, inherited) also writes to. */
export function sharesTerminal(fd: number): boolean {
  if (!tty.isatty(fd)) return false;
  try {
    const dev = fs.fstatSync(fd).rdev;
    return [1, 2].some((o) => tty.isatty(o) && fs.fstatSync(o).rdev === dev);
  } catch {
    return false;
  }
}

/**
 * How long buffered output may wait. Not "the next turn of the event loop":
 * trap mode goes back to the loop between two stops, so that was a write
 * syscall (and a setImmediate) per event, a sixth of the JSON formatting.
 */
export const FLUSH_AFTER_MS = 20;
/** How much buffered output may wait (a write syscall per this many bytes at most). */
const SINK_BYTES = 1 << 17;

/**
 * Writes to a file descriptor. Buffered (one syscall per 64 KiB or per
 * FLUSH_AFTER_MS, not per event) unless `sync`: then each write goes out at once, while the
 * program is still stopped at the event, so the trace and the program's own
 * output appear on a shared terminal in the order they happened. When the
 * reader goes away (EPIPE: `| head`), nothing more is written and `onClosed`
 * runs, once.
 */
/** Buffer's own UTF-8 writer (what buf.write(s, offset) calls after checking its arguments; not in @types/node). */
type Utf8Writable = Buffer & { utf8Write(s: string, offset: number): number };

export class Sink {
  // The bytes waiting, encoded as each write comes (joining the strings at
  // the flush cost more: a join flattens every line built by concatenation
  // again, and writeSync encoded the whole of it once more).
  private buf = Buffer.allocUnsafe(SINK_BYTES);
  private used = 0;
  private scheduled = false;
  closed = false;
  onClosed: (() => void) | null = null;
  constructor(readonly fd: number, readonly sync = false) {}
  write(s: string): void {
    if (this.sync) {
      this.out(s);
      return;
    }
    // At most 3 bytes per UTF-16 unit: a string that may not fit goes after what waits.
    if (this.used + 3 * s.length > SINK_BYTES) {
      this.flush();
      if (3 * s.length > SINK_BYTES) {
        this.out(s);
        return;
      }
    }
    this.used += (this.buf as Utf8Writable).utf8Write(s, this.used);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), FLUSH_AFTER_MS);
    }
  }
  /** Binary output (pprof, Perfetto): after what waits, at once. */
  writeBytes(b: Uint8Array): void {
    this.flush();
    this.out(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  flush(): void {
    this.scheduled = false;
    if (!this.used) return;
    const n = this.used;
    this.used = 0;
    this.out(this.buf.subarray(0, n));
  }
  private out(s: Buffer | string): void {
    if (this.closed) return;
    // A string goes to writeSync as it is; the bytes past a short write, as a Buffer.
    let data = s;
    for (let tries = 0; data.length; ) {
      try {
        if (typeof data !== 'string') data = data.subarray(fs.writeSync(this.fd, data));
        else {
          const n: number = fs.writeSync(this.fd, data);
          data = n < Buffer.byteLength(data) ? Buffer.from(data).subarray(n) : '';
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && ++tries < 100000) continue; // a non-blocking terminal or pipe that is full
        if (code !== 'EPIPE') throw e;
        this.closed = true;
        this.onClosed?.();
        return;
      }
    }
  }
}

// ---- a call's events, as the views take them from its contexts ----

/** A function's address in hex, made once per address: a double's toString(16) is slow, and runs at every entry. */
const addressHex = memoize((a: number) => '0x' + a.toString(16));

/**
 * A call's entry as the views take it. `fields` says what the listening views
 * read: 'all' (JSON lines, records, chrome: every field) or 'text' (the tree,
 * summaries: no typed JSON `argv`, and the raw `args` only when the function
 * has no known signature; the tree shows the typed values from what the event
 * keeps for its text). Leaving them out is a tenth of the text's formatting.
 */
export function entryEvent(c: EntryContext, backtraces: boolean, fields: EventFields = 'all'): EntryEvent {
  const parts = entryParts(c);
  const o: EntryEvent = {
    type: 'entry', pid: c.pid, tid: c.tid, function: c.function, address: addressHex(c.address), depth: c.depth,
    args: fields !== 'text' || !parts.values ? renderArgs(c) : NO_ARGS,
  } as EntryEvent;
  if (backtraces) {
    const bt = c.backtrace();
    o.backtrace = bt.frames.slice(1).map((f) => f.symbol);
    o.backtraceReliable = bt.reliable;
    if (bt.frames.some((f) => f.source)) o.backtraceSources = bt.frames.slice(1).map((f) => f.source ?? null);
  }
  typeEntry(parts, o, fields !== 'text', fields !== 'plain');
  if (c.goroutine !== undefined) o.goroutine = c.goroutine;
  o.ts = Number(c.timestampNs);
  if (fields !== 'plain') (o as { [IN_ORDER]?: true })[IN_ORDER] = true;
  return o;
}

/** A call's exit as the views take it (`fields` as for entryEvent: with 'text', no typed JSON `ret`). */
export function exitEvent(c: ExitContext, fields: EventFields = 'all'): ExitEvent {
  const o = {
    type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: renderRet(c), unwound: c.unwound, durationNs: Number(c.durationNs),
  } as ExitEvent;
  typeExit(c, o, fields !== 'text', fields !== 'plain');
  if (c.reason) o.reason = c.reason;
  if (c.inherited) o.inherited = true;
  if (c.goroutine !== undefined) o.goroutine = c.goroutine;
  o.ts = Number(c.timestampNs);
  if (fields !== 'plain') (o as { [IN_ORDER]?: true })[IN_ORDER] = true;
  return o;
}
