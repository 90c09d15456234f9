// The public API. Only re-exports: each piece lives in its own file.
export { Tracer } from './tracer';
export { resolveProgram } from './symbols/program';
export type { SpawnOptions, AttachOptions, ExitStatus, ProcessEvent, StdioOption } from './tracer';
export type { EntryEvent, EventsOptions, ExitEvent, ProcessExitEvent, TraceEvent, TraceEventStream } from './tracer';
export { Hook } from './hook';
export type { FastEntryContext, FastExitContext, FastHookHandlers, HookHandlers, HookSite, WithData } from './hook';
export { CallContext, EntryContext, ExitContext } from './context';
export type { Backtrace, BacktraceFrame, CallArgs } from './context';
export { RethookError } from './errors';
export type { RethookErrorCode } from './errors';
export type { UnwindReason } from './rethook';
export type { CType, Param, Signature, TypedValue } from './types/model';
export { Summary } from './views/summary';
export type { SummaryRow, SummaryOptions, SortKey } from './views/summary';
