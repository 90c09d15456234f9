import { Backtrace, CallContext, ContextHost } from './context';
import { Hook, HookHandlers } from './hook';
export interface SpawnOptions {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** Default maxActive of hooks that do not set their own. */
    maxActive?: number;
    /** Trace children made by fork/vfork as processes of their own (default: release them, cleaned). */
    followForks?: boolean;
    /**
     * A SIGINT to the program (Ctrl-C) is not delivered: the tracer detaches
     * instead and the program goes on untraced (the CLI's --detach-on-exit).
     */
    detachOnInterrupt?: boolean;
    /** The program's stdin, stdout, stderr: 'inherit' (default) or a file descriptor of ours. */
    stdio?: readonly ('inherit' | number)[];
}
export interface ExitStatus {
    pid: number;
    /** Exit code, or null when a signal ended the program. */
    code: number | null;
    /** Name of the terminating signal (e.g. 'SIGSEGV'), or null. */
    signal: string | null;
    /** The tracer detached: the program went on untraced. */
    detached: boolean;
}
export declare class Tracer implements ContextHost {
    private readonly followForks;
    private readonly nat;
    private readonly procs;
    private readonly threads;
    private readonly hooks;
    private readonly regs;
    private readonly info;
    private draining;
    private failure;
    private status;
    private running;
    /** Threads kept stopped until run(): at a breakpoint (addr) or elsewhere (addr 0), with a signal to deliver. */
    private held;
    private currentTid;
    private currentResumed;
    private mainStatus;
    /** Set while exit handlers of a return run: the real return address of that thread. */
    private currentReturnTo;
    /** How long to keep polling for the next stop after handling one (see README). */
    private readonly spinNs;
    private startupWaiter;
    private exitWaiter;
    private readonly defaultMaxActive;
    /** The process the tracer started (or attached to). */
    readonly pid: number;
    private detachOnInterrupt;
    private constructor();
    /**
     * Start `file` under ptrace. Resolves once the dynamic linker has mapped
     * the program's libraries and before any of the program's code (including
     * library constructors) has run: hook() now, then run().
     */
    static spawn(file: string, args?: readonly string[], options?: SpawnOptions): Promise<Tracer>;
    /**
     * Attach to a running process and all its threads (PTRACE_SEIZE +
     * PTRACE_INTERRUPT). Resolves with every thread stopped: hook, then run().
     * Detach (tracer.detach()) at any moment leaves it as if never traced. If the
     * tracer is killed outright (SIGKILL), the kernel detaches with our
     * breakpoints still planted: the process then dies at its next hooked call.
     * Any other exit of Node detaches cleanly first.
     */
    static attach(pid: number, options?: Pick<SpawnOptions, 'maxActive' | 'followForks'>): Promise<Tracer>;
    private attached;
    private exitGuard;
    /**
     * If Node exits while we trace (an uncaught exception, process.exit), an
     * attached process is detached cleanly first and a spawned one is killed
     * (PTRACE_O_EXITKILL would kill it anyway).
     */
    private guardExit;
    /** Seize every thread (again, until no new one appears), then set up the image as it is. */
    private seizeAll;
    /** Wait for a seized thread's interrupt stop, keeping any signal that came first for later. */
    private holdAfterInterrupt;
    private exited;
    /**
     * Hook the functions `pattern` names: `name`, a glob (`sqlite3_*`), scoped
     * to one object (`libz.so.1:crc32`), a demangled C++ name, or an address.
     * Patterns scoped to an object not loaded yet are planted when it is.
     */
    hook(pattern: string | number | readonly (string | number)[], handlers?: HookHandlers): Hook;
    /** Let the program run; resolves when it exits (or the tracer detaches). */
    run(): Promise<ExitStatus>;
    /**
     * Stop tracing at once: breakpoints removed and every hijacked return
     * address put back on every thread's stack; the program goes on untraced.
     */
    detach(): Promise<void>;
    /** Kill the program (SIGKILL). */
    kill(): void;
    /**
     * Call stack of a thread stopped in a handler, trampolines replaced by the
     * real return addresses (see backtrace.ts).
     */
    backtrace(tid: number, fnAddr: number, returnAddress: number): Backtrace;
    readMemory(pid: number, addr: number | bigint, length: number): Buffer;
    readCString(pid: number, addr: number | bigint, max?: number): string;
    setRegister(index: number, value: bigint): void;
    fpRetval(tid: number): number;
    setFpRetval(tid: number, value: number): void;
    resolveFunction(pid: number, target: string | number): {
        address: number;
        size: number;
    };
    private resolvePattern;
    private plant;
    /**
     * An IFUNC symbol (strlen, memcpy, ...) names a resolver the dynamic linker
     * calls once to pick an implementation for this CPU. Hooking the resolver
     * would see no calls: ask it (a call injected into a stopped thread) and
     * hook what it returns, under the symbol's name.
     */
    private resolveIfunc;
    private unhook;
    private stoppedTid;
    private addProcess;
    private addThread;
    /** A new image (after spawn or exec), stopped at its first instruction, single-threaded. */
    private startImage;
    /** The dynamic linker's r_brk: called around every change of the link map. */
    private onLinkMapChange;
    private startupComplete;
    /** Scan the maps for objects loaded since last time: slot pages near them, pending hooks planted. */
    private loadedModules;
    private plantUnwinderHooks;
    /** The unwinder is about to walk this thread's stack: put every real return address back. */
    private beforeUnwind;
    /** A catch begins: calls whose frames the exception removed ended; the rest are hooked again. */
    private atCatch;
    private releaseHeld;
    private resume;
    private step;
    private listen;
    private drainSoon;
    /** Handle every stop that is waiting; yield to the event loop now and then. */
    private drain;
    private dispatch;
    private onSyscallStop;
    private onEvent;
    /** The process replaced its image: other threads are gone, and so is every hook site. */
    private onExec;
    private forgetProcess;
    /**
     * Follow a child made by fork or vfork as a process of its own: it has our
     * breakpoints, pages and, on the forking thread's stack, our hijacked return
     * addresses, so it gets copies of our sites and of that thread's nodes.
     */
    private adoptChild;
    /**
     * A child made by fork has our breakpoints and hijacked return addresses
     * in its copy of memory: put the originals back before it runs an
     * instruction, then let it go.
     */
    private releaseChild;
    private onThreadGone;
    private onEntry;
    private onReturn;
    /** Nodes whose frames went away without returning: onExit with unwound, then back to the pool. */
    private finishUnwound;
    private flush;
    /**
     * Run a user handler. A throw (or a rejected promise) stops tracing: the
     * tracer detaches cleanly and run() rejects with the handler's error.
     */
    private callHandler;
    private failed;
    /**
     * Stop every thread, undo every change (return addresses, breakpoints),
     * and detach. Injected pages stay mapped: a thread may be executing in a
     * slot, and they are inert without our breakpoints.
     */
    private detachAll;
    private finish;
    private checkUsable;
    static readonly CallContext: typeof CallContext;
}
