// The one columnar shape of calls: what the record reader yields, what the
// live fast-mode pipeline hands its bulk consumers, and what the batch API
// gives users. No object per call: a batch is one thread's records, in order,
// as typed-array columns. The format these come from: docs/record-format.md.

/** Record kinds (the low 3 bits of a record's tag in a CALLS chunk). */
export const enum Kind {
  Entry = 1,
  Exit = 2,
  Unwound = 3,
}

/** Why an UNWOUND record's call did not return (its reason byte). */
export const UNWIND_REASONS = ['longjmp', 'exception', 'thread-exit', 'exec', 'detach', 'exit', 'other'] as const;
export type UnwindReasonName = (typeof UNWIND_REASONS)[number];

/** A hooked function as the record's SITES chunks describe it. */
export interface SiteInfo {
  id: number;
  pid: number;
  function: string;
  address: bigint;
  module: string;
  /** Integer argument words each entry carries. */
  args: number;
  /** Exits carry the return word. */
  ret: boolean;
  /** Entries and exits carry one floating-point word. */
  fp: boolean;
  /** What the typed renderer needs; null when unknown. */
  signature: unknown;
}

/**
 * One thread's calls, in order: row i is one ENTRY, EXIT or UNWOUND record.
 * Columns may be longer than `length` (they are reused between batches: copy
 * what you keep).
 */
export interface CallBatch {
  pid: number;
  tid: number;
  length: number;
  kind: Uint8Array;
  site: Uint32Array;
  /** CLOCK_MONOTONIC ns. */
  ts: Float64Array;
  depth: Uint32Array;
  /** UNWOUND rows: an index into UNWIND_REASONS; else 0. */
  reason: Uint8Array;
  /** EXIT rows of sites with `ret`: the return word; else 0n. */
  retval: BigUint64Array;
  /** ENTRY rows: where the row's argument words start in `args` (site.args of them). */
  argsAt: Uint32Array;
  args: BigUint64Array;
  /** ENTRY/EXIT rows of sites with `fp`: the floating-point word's bits. */
  fpWord: BigUint64Array;
  /**
   * EXIT and UNWOUND rows of calls caught in trap mode: how long (ns) the
   * tracer held the thread stopped during the call (at its entry and at the
   * stops of the calls nested in it): the call's duration is its ts less its
   * entry's, less this. 0 elsewhere; absent: 0 for every row.
   */
  held?: Float64Array;
  /** Rows with STRING or EXTRA records: row -> its strings (by argument index) and extra fields. */
  attached: Map<number, { strings?: Map<number, Buffer>; extra?: Record<string, unknown> }>;
}
