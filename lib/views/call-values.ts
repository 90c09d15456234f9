// A call's arguments and return value for the trace viewers (Chrome JSON's
// `args`, Perfetto's debug annotations): the typed values as the JSON events
// carry them (`argv`, `ret`: what the tree shows), by parameter name; the raw
// registers only for a function whose signature is not known.
import type { EntryEvent, ExitEvent } from '../events';

/** One `argv` entry or a `ret`, as the JSON events carry it (types/render.ts). */
interface Typed {
  name?: string;
  type?: string;
  value?: unknown;
  error?: string;
  truncated?: boolean;
}

/** What a viewer shows of a typed value: the JSON value, with its error or truncation said. */
function shown(v: Typed): unknown {
  if (v.error) return `${String(v.value)} <${v.error}>`;
  if (v.truncated && typeof v.value === 'string') return `${v.value}...`;
  return v.value ?? null;
}

/** Keys of our own beside the arguments; a parameter of the same name is shown as `$name`. */
const OURS = new Set(['args', 'retval', 'return', 'durationNs', 'unwound', 'reason', 'inherited', 'cut']);

/**
 * The values of one call, in order: each argument by name (typed, when the
 * signature is known), the raw `args`, `return` (typed, when known), the raw
 * `retval` (the names Chrome events carried first stay), then unwound and
 * its reason, or inherited.
 * `entry` is null when the call's entry was not seen (inherited).
 */
export function callValues(entry: EntryEvent | null, exit: ExitEvent | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (entry) {
    const argv = (entry as unknown as { argv?: Typed[] }).argv;
    if (argv) {
      argv.forEach((a, i) => {
        const name = a.name || `arg${i}`;
        out[OURS.has(name) || name in out ? `$${name}` : name] = shown(a);
      });
    }
    out.args = entry.args; // the raw registers, as Chrome events have always carried them (a published field)
  } else out.inherited = true;
  if (!exit) return out;
  if (exit.unwound) {
    out.unwound = true;
    if (exit.reason !== undefined) out.reason = exit.reason;
  } else {
    const ret = (exit as unknown as { ret?: Typed }).ret;
    if (ret) {
      if (ret.type !== 'void') out.return = shown(ret);
    }
    out.retval = exit.retval; // raw, as ever (a published field)
  }
  return out;
}

/**
 * Where a call's span starts as the timelines draw it: at its entry's ts (it
 * ends at its exit's), so that spans nest and threads line up in real time.
 * In fast mode that lasts exactly its durationNs; in trap mode it also holds
 * the time the tracer held the thread at the stops of the call (durationNs,
 * which the event's args carry, leaves that out). No entry seen (inherited):
 * its durationNs before its exit.
 */
export function callStart(e: ExitEvent, entry: { ts: number } | null): number {
  return entry ? Math.min(entry.ts, e.ts) : e.ts - e.durationNs;
}
