// The one event model: what a hooked call looks like as a plain object, for
// every consumer alike. `tracer.events()` yields these, the views take them
// (live or replayed from a record), and `--format json` writes them, one per
// line, fields in this order. Field names are published: new ones are only
// ever added. Words (addresses, registers, return values) are hex strings,
// times are ns as numbers, so an event is JSON as it is (JSON.stringify of a
// BigInt throws) and the same from a live run, a record and the API.
import type { UnwindReasonName } from './record/batch';

/** A typed value by its signature (`argv`, `ret`, `filled`), as JSON renders it. */
export interface TypedJson {
  /** The parameter's name (absent for a return value or an unnamed parameter). */
  name?: string;
  /** Its C type, as the signature spells it. */
  type: string;
  /** A number, a string (C strings: the text read; other pointers: hex), a boolean... absent for void. */
  value?: unknown;
  /** Why the value could not be read (a bad pointer). */
  error?: string;
  /** The string was longer than what was read. */
  truncated?: true;
}

/** A hooked function was entered. */
export interface EntryEvent {
  type: 'entry';
  pid: number;
  tid: number;
  /** Name of the hooked function (demangled for C++). */
  function: string;
  /** The function's address, hex. */
  address: string;
  /** Hooked calls nested on this thread (0 = outermost). */
  depth: number;
  /** The argument registers as at entry, hex (as many as the signature has, else all the ABI's integer ones). */
  args: string[];
  /** The arguments by name and type, when a signature is known (DWARF, a prototype or a spec). */
  argv?: TypedJson[];
  /** The callers (with --backtrace / trap mode), innermost first, and whether the unwinding was sure of them. */
  backtrace?: string[];
  backtraceReliable?: boolean;
  backtraceSources?: (string | null)[];
  /** A followed fork child's copy of a call its parent had in flight at the fork (its ts: the fork's). */
  inherited?: true;
  /** Go programs: the goroutine's id (calls nest per goroutine: `depth` counts its calls). */
  goroutine?: number;
  /** CLOCK_MONOTONIC ns of the entry. */
  ts: number;
}

/** A hooked call returned, or its frame was unwound (`unwound`, `reason`). */
export interface ExitEvent {
  type: 'exit';
  pid: number;
  tid: number;
  function: string;
  depth: number;
  /** Hex; null when the call did not return (unwound): it has no return value. */
  retval: string | null;
  /** The return value by its type, when a signature is known. */
  ret?: TypedJson;
  /** Buffers the call filled in (a non-const `char *` argument), as they are at the return (trap mode). */
  filled?: TypedJson[];
  unwound: boolean;
  /** From the entry to the return. In trap mode, as measured: it includes the tracer's round trip (see RunInfo.overheadNs). */
  durationNs: number;
  /** Why the frame was unwound (only when `unwound`). */
  reason?: UnwindReasonName;
  /** The call was made in the parent before a fork and returned in this followed child. */
  inherited?: true;
  /** Go programs: the goroutine's id, as at the entry. */
  goroutine?: number;
  /** CLOCK_MONOTONIC ns of the return (or the unwinding). */
  ts: number;
}

/** A traced process ended (or the tracer detached from it). The API's stream ends with the first process's. */
export interface ProcessExitEvent {
  type: 'process-exit';
  pid: number;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it ('SIGSEGV'), or null. */
  signal: string | null;
  /** The tracer let go of it while it ran on. */
  detached?: boolean;
  ts?: number;
}

/** Anything else a run says (missed, refused, warning, fork, exec, fallbacks...): `type` and fields of its own. */
export interface NoteEvent {
  type: string;
  [k: string]: unknown;
}

/** What `tracer.events()` yields: the calls, then how the program ended. */
export type TraceEvent = EntryEvent | ExitEvent | ProcessExitEvent;

/** Any line of `--format json` or of a replayed record. */
export type LineEvent = EntryEvent | ExitEvent | NoteEvent;
