export { Tracer } from './tracer';
export { resolveProgram } from './program';
export type { SpawnOptions, ExitStatus } from './tracer';
export { Hook } from './hook';
export type { HookHandlers, HookSite } from './hook';
export { CallContext, EntryContext, ExitContext } from './context';
export type { Backtrace, BacktraceFrame } from './context';
export { RethookError } from './errors';
export type { UnwindReason } from './rethook';
