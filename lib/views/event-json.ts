// The JSON line of a live entry or exit event, written field by field instead
// of by JSON.stringify (which cost half of the CLI's formatting per call: it
// walks every key of every nested object). The result is byte for byte what
// JSON.stringify gives; anything this writer does not know the shape of (a
// replayed event, an added field) goes to JSON.stringify.
import { memoize } from '../memo';
import type { EntryEvent, ExitEvent } from '../events';

/**
 * Set by the builders of live events (the CLI's entryEvent and exitEvent),
 * whose fields are always added in the order written here. Spreading an event
 * (the filters add `shownDepth`) carries it along. Such an event's `address`,
 * `args` and `retval` are hex made by views/format.ts (nothing to escape), and
 * its `argv` and `ret` entries are made by types/render.ts (jsonTyped).
 */
export const IN_ORDER: unique symbol = Symbol('event fields in their documented order');

type Ordered = { [IN_ORDER]?: true; shownDepth?: number };

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters and lone surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** jsonString of what repeats from call to call: function names, parameter names and types. */
export const jsonName: (s: string) => string = memoize(jsonString);

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? '' + n : 'null';
}

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000', '00000000'];

/**
 * A timestamp or duration in ns: as jsonNumber, quicker for integers past 2^31
 * (a monotonic ts is ~1e14): two small integers' digits are made fast, a
 * large double's are not (it took an eighth of the formatting).
 */
export function jsonNs(n: number): string {
  if (n < 2147483648 || n > Number.MAX_SAFE_INTEGER || !Number.isInteger(n)) return jsonNumber(n);
  const lo = n % 1e9;
  const low = '' + lo;
  return '' + (n - lo) / 1e9 + ZEROS[9 - low.length] + low;
}

/** A JSON value as JSON.stringify writes it; objects and arrays are left to it. */
function jsonValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return jsonNumber(v);
    case 'string':
      return jsonString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return v === null ? 'null' : JSON.stringify(v);
  }
}

/** Hex strings as the builders make them: nothing in them to escape. */
function hexList(a: string[]): string {
  let s = '[';
  for (let i = 0; i < a.length; i++) s += (i ? ',"' : '"') + a[i] + '"';
  return s + ']';
}

interface Typed {
  name?: string;
  type?: string;
  value?: unknown;
  error?: string;
  truncated?: boolean;
}

/** One `argv` entry or a `ret`, as types/render.ts makes them (fields in this order, each optional). */
function typedValue(v: Typed): string {
  let s = '';
  if (v.name !== undefined) s += ',"name":' + jsonName(v.name);
  if (v.type !== undefined) s += ',"type":' + jsonName(v.type);
  if (v.value !== undefined) s += ',"value":' + jsonValue(v.value);
  if (v.error !== undefined) s += ',"error":' + jsonName(v.error);
  if (v.truncated !== undefined) s += ',"truncated":' + v.truncated;
  return '{' + s.slice(1) + '}';
}

function typedList(a: Typed[]): string {
  let s = '[';
  for (let i = 0; i < a.length; i++) s += (i ? ',' : '') + typedValue(a[i]);
  return s + ']';
}

/** Own enumerable keys an event has besides those written (shownDepth is never written). */
function fieldCount(e: object): number {
  return Object.keys(e).length - ((e as Ordered).shownDepth !== undefined ? 1 : 0);
}

/** An entry event as one JSON line (with its newline), without the tree's `shownDepth`. */
export function entryJson(e: EntryEvent): string {
  return liveEntry(e) ?? JSON.stringify(withoutShownDepth(e)) + '\n';
}

/** An exit event as one JSON line (with its newline), without the tree's `shownDepth`. */
export function exitJson(e: ExitEvent): string {
  return liveExit(e) ?? JSON.stringify(withoutShownDepth(e)) + '\n';
}

/** `s`, the fields before ts, closed with ts when they were all of the event's (n of them); else null. */
function closed(s: string, n: number, e: EntryEvent | ExitEvent): string | null {
  return fieldCount(e) === n ? s + ',"ts":' + jsonNs(e.ts) + '}\n' : null;
}

/**
 * The start of a line up to its depth's value: the same from call to call of
 * one function on one thread, so the last one is kept (one flat string
 * instead of eight pieces joined again at every call).
 */
class Head {
  private pid = -1;
  private tid = -1;
  private fn = '';
  private address = '';
  private text = '';
  constructor(private readonly make: (e: EntryEvent | ExitEvent) => string) {}
  of(e: EntryEvent | ExitEvent, address: string): string {
    if (e.pid !== this.pid || e.tid !== this.tid || e.function !== this.fn || address !== this.address) {
      this.pid = e.pid;
      this.tid = e.tid;
      this.fn = e.function;
      this.address = address;
      this.text = flat(this.make(e));
    }
    return this.text;
  }
}

/**
 * s made one flat string in place (V8 keeps a concatenation as a tree of its
 * pieces until something needs it whole; converting it to a number does, as
 * the flatstr package does it).
 */
function flat(s: string): string {
  void ((s as unknown as number) | 0);
  return s;
}

const entryHeads = new Head((e) => '{"type":"entry","pid":' + jsonNumber(e.pid) + ',"tid":' + jsonNumber(e.tid) + ',"function":' + jsonName(e.function) +
  ',"address":"' + (e as EntryEvent).address + '","depth":');
const exitHeads = new Head((e) => '{"type":"exit","pid":' + jsonNumber(e.pid) + ',"tid":' + jsonNumber(e.tid) + ',"function":' + jsonName(e.function) + ',"depth":');
const entryHead = (e: EntryEvent): string => entryHeads.of(e, e.address);
const exitHead = (e: ExitEvent): string => exitHeads.of(e, '');

function liveEntry(e: EntryEvent): string | null {
  const x = e as EntryEvent & Ordered & { argv?: Typed[] };
  if (!x[IN_ORDER] || x.backtrace !== undefined) return null;
  let s = entryHead(e) + jsonNumber(e.depth) + ',"args":' + hexList(e.args);
  let n = 8;
  if (x.argv !== undefined) (s += ',"argv":' + typedList(x.argv)), n++;
  if (e.goroutine !== undefined) (s += ',"goroutine":' + jsonNumber(e.goroutine)), n++;
  return closed(s, n, e);
}

function liveExit(e: ExitEvent): string | null {
  const x = e as ExitEvent & Ordered & { ret?: Typed; filled?: Typed[] };
  if (!x[IN_ORDER]) return null;
  let s = exitHead(e) + jsonNumber(e.depth) + ',"retval":' + (e.retval === null ? 'null' : '"' + e.retval + '"') + ',"unwound":' + e.unwound + ',"durationNs":' + jsonNs(e.durationNs);
  let n = 9;
  if (x.ret !== undefined) (s += ',"ret":' + typedValue(x.ret)), n++;
  if (x.filled !== undefined) (s += ',"filled":' + typedList(x.filled)), n++;
  if (e.reason !== undefined) (s += ',"reason":' + jsonName(e.reason)), n++;
  if (e.inherited !== undefined) (s += ',"inherited":' + e.inherited), n++;
  if (e.goroutine !== undefined) (s += ',"goroutine":' + jsonNumber(e.goroutine)), n++;
  return closed(s, n, e);
}

/** The event without what a filter added for the tree. */
export function withoutShownDepth(e: object): object {
  if (!('shownDepth' in e)) return e;
  const { shownDepth: _, ...rest } = e as { shownDepth?: number };
  return rest;
}
