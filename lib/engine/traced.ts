// The traced side's types as the engine uses them: processes, threads and
// breakpoints whose hooks are Hooks (the tracee layer, lib/tracee/, is
// written for any kind of hook and knows none).
import type { Hook } from '../hook';
import type { Proc as TracedProc, Site as TracedSite, ThreadState as TracedThread } from '../tracee/process';
import type { ThreadTable as TracedTable } from '../tracee/threads';

export type Proc = TracedProc<Hook>;
export type Site = TracedSite<Hook>;
export type ThreadState = TracedThread<Hook>;
export type ThreadTable = TracedTable<Hook>;
