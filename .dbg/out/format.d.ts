import type { EntryContext, ExitContext } from './context';
export interface TraceEvents {
    entry(ctx: EntryContext): void;
    exit(ctx: ExitContext): void;
    /** A line about the run itself (missed calls, exit status). */
    note(obj: Record<string, unknown>, text: string): void;
    flush(): void;
}
/** Buffered writes to a file descriptor: one syscall per batch of events, not per event. */
export declare class Sink {
    private readonly fd;
    private buf;
    private size;
    private scheduled;
    constructor(fd: number);
    write(s: string): void;
    flush(): void;
}
export declare function formatDuration(ns: bigint): string;
export declare class JsonFormat implements TraceEvents {
    private readonly out;
    private readonly backtraces;
    constructor(out: Sink, backtraces?: boolean);
    entry(c: EntryContext): void;
    exit(c: ExitContext): void;
    note(obj: Record<string, unknown>): void;
    flush(): void;
}
/**
 * The call tree. A call with no hooked call inside it takes one line
 * (`f(args) = ret <time>`); one with nested calls opens a block.
 */
export declare class TextFormat implements TraceEvents {
    private readonly out;
    private readonly nargs;
    private readonly backtraces;
    /** Per thread: the entry line not printed yet (a leaf so far), and its backtrace suffix. */
    private pending;
    private suffix;
    constructor(out: Sink, nargs: number, backtraces?: boolean);
    private prefix;
    entry(c: EntryContext): void;
    exit(c: ExitContext): void;
    note(_obj: Record<string, unknown>, text: string): void;
    flush(): void;
    private flushPending;
    private takeSuffix;
}
