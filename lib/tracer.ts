// The tracer: owns the traced processes, turns ptrace stops into rethook
// decisions and handler calls, and undoes everything on detach or failure.
// Every ptrace request is made from Node's main thread, woken by SIGCHLD
// (see native/addon.cc), so handlers run synchronously while the thread that
// hit the breakpoint waits, and the event loop runs between stops.
import * as fs from 'fs';
import { Backtrace, ContextHost, EntryContext, ExitContext } from './context';
import { RethookError } from './errors';
import { Hook, HookHandlers, validateHandlers } from './hook';
import { arch, Info, NativeTracer, StopKind } from './native';
import { readMaps } from './symbols/procfs';
import { walkBacktrace } from './engine/backtrace';
import { resolveProgram, signalName } from './symbols/program';
import { RethookNode, ShadowStack, UnwindReason } from './rethook';
import { rehijackAfterCatch, restoreReturnAddresses, unhijackForUnwind } from './arch/return-slots';
import { hex, Proc, Site, ThreadState } from './tracee/process';
import { FunctionSymbol, Module, modulesFromMaps } from './symbols/modules';
import { closeNames, matchFunctions, moduleMatches, parsePattern } from './symbols/patterns';

const SIGINT = 2, SIGTRAP = 5;
const PR_SET_PDEATHSIG = 1;
const PTRACE_EVENT_FORK = 1, PTRACE_EVENT_VFORK = 2, PTRACE_EVENT_CLONE = 3, PTRACE_EVENT_EXEC = 4;
const RT_CONSISTENT = 0;
const R_DEBUG_BRK = 16, R_DEBUG_STATE = 24;
const DEFAULT_MAX_ACTIVE = 4096;
/**
 * Entries of the C++ unwinder (libgcc_s): before it walks a thread's stack,
 * the real return addresses go back, or it finds no frame description for
 * the trampoline and the program calls std::terminate.
 */
const UNWINDER_ENTRIES = ['_Unwind_RaiseException', '_Unwind_Resume', '_Unwind_Resume_or_Rethrow', '_Unwind_ForcedUnwind'];
/** Where a catch begins (libstdc++): frames below are gone, the ones above are hooked again. */
const CATCH_ENTRY = '__cxa_begin_catch';
const EVENTS_PER_TURN = 4096;

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

export class Tracer implements ContextHost {
  private readonly nat: NativeTracer;
  private readonly procs = new Map<number, Proc>();
  private readonly threads = new Map<number, ThreadState>();
  private readonly hooks: Hook[] = [];
  private readonly regs: BigUint64Array;
  private readonly info: Float64Array;
  private draining = false;
  private failure: Error | null = null;
  private status: ExitStatus | null = null;
  private running = false;
  /** Threads kept stopped until run(): at a breakpoint (addr) or elsewhere (addr 0), with a signal to deliver. */
  private held: { tid: number; addr: number; sig: number }[] = [];
  private currentTid = 0;
  private currentResumed = false;
  /** The hooked call whose handler runs now: function address and real return address. */
  private currentCall: [number, number] | null = null;
  private mainStatus: ExitStatus | null = null;
  /** Set while exit handlers of a return run: the real return address of that thread. */
  private currentReturnTo = 0;
  /** How long to keep polling for the next stop after handling one (see README). */
  private readonly spinNs = Number(process.env.RETHOOK_SPIN_NS ?? 30000);
  private startupWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private exitWaiter: { resolve: (s: ExitStatus) => void; reject: (e: Error) => void } | null = null;
  private readonly defaultMaxActive: number;
  /** The process the tracer started (or attached to). */
  readonly pid: number;

  private detachOnInterrupt = false;

  private constructor(pid: number, nat: NativeTracer, maxActive: number, private readonly followForks: boolean) {
    this.pid = pid;
    this.nat = nat;
    this.regs = nat.regs;
    this.info = nat.info;
    this.defaultMaxActive = maxActive;
  }

  /**
   * Start `file` under ptrace. Resolves once the dynamic linker has mapped
   * the program's libraries and before any of the program's code (including
   * library constructors) has run: hook() now, then run().
   */
  static async spawn(file: string, args: readonly string[] = [], options: SpawnOptions = {}): Promise<Tracer> {
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('Expected args to be an array of strings');
    if (typeof options !== 'object' || options === null) throw new TypeError('Expected options to be an object');
    const maxActive = options.maxActive ?? DEFAULT_MAX_ACTIVE;
    if (!Number.isInteger(maxActive) || maxActive < 1) throw new TypeError('Expected maxActive to be a positive integer');
    if (options.cwd !== undefined && typeof options.cwd !== 'string') throw new TypeError('Expected cwd to be a string');
    if (options.followForks !== undefined && typeof options.followForks !== 'boolean') throw new TypeError('Expected followForks to be a boolean');
    if (options.detachOnInterrupt !== undefined && typeof options.detachOnInterrupt !== 'boolean') throw new TypeError('Expected detachOnInterrupt to be a boolean');
    const stdio = options.stdio ?? [];
    if (!Array.isArray(stdio) || stdio.length > 3 || stdio.some((f) => f !== 'inherit' && !(Number.isInteger(f) && (f as number) >= 0)))
      throw new TypeError("Expected stdio to be an array of up to 3 file descriptors or 'inherit'");
    const env = options.env ?? process.env;
    const program = resolveProgram(file, env.PATH ?? process.env.PATH);
    const envp = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    let tracer: Tracer | null = null;
    const nat = new NativeTracer(() => tracer?.drain());
    let pid: number;
    try {
      pid = nat.spawn(program, [file, ...args], envp, options.cwd ?? '', stdio.map((f) => (f === 'inherit' ? -1 : f)));
      nat.addProcess(pid);
      nat.addThread(pid, pid);
    } catch (e) {
      nat.close();
      throw new RethookError(`cannot execute ${file}: ${(e as Error).message}`);
    }
    tracer = new Tracer(pid, nat, maxActive, options.followForks === true);
    const t = tracer;
    t.detachOnInterrupt = options.detachOnInterrupt === true;
    t.guardExit();
    const started = new Promise<void>((resolve, reject) => (t.startupWaiter = { resolve, reject }));
    const exited = new Promise<ExitStatus>((resolve, reject) => (t.exitWaiter = { resolve, reject }));
    exited.catch(() => undefined);
    t.exited = exited;
    nat.setActive(true);
    try {
      t.startImage(t.addProcess(pid), pid);
      t.drain();
      await started;
    } catch (e) {
      t.kill();
      throw e;
    }
    return t;
  }

  /**
   * Attach to a running process and all its threads (PTRACE_SEIZE +
   * PTRACE_INTERRUPT). Resolves with every thread stopped: hook, then run().
   * Detach (tracer.detach()) at any moment leaves it as if never traced. If the
   * tracer is killed outright (SIGKILL), the kernel detaches with our
   * breakpoints still planted: the process then dies at its next hooked call.
   * Any other exit of Node detaches cleanly first.
   */
  static async attach(pid: number, options: Pick<SpawnOptions, 'maxActive' | 'followForks'> = {}): Promise<Tracer> {
    if (!Number.isInteger(pid) || pid <= 0) throw new TypeError('Expected pid to be a positive integer');
    const maxActive = options.maxActive ?? DEFAULT_MAX_ACTIVE;
    if (!Number.isInteger(maxActive) || maxActive < 1) throw new TypeError('Expected maxActive to be a positive integer');
    if (!fs.existsSync(`/proc/${pid}`)) throw new RethookError(`no process ${pid}`);
    if (pid === process.pid) throw new RethookError('a process cannot trace itself');
    let tracer: Tracer | null = null;
    const nat = new NativeTracer(() => tracer?.drain());
    const t = (tracer = new Tracer(pid, nat, maxActive, options.followForks === true));
    t.attached = true;
    t.guardExit();
    t.exited = new Promise<ExitStatus>((resolve, reject) => (t.exitWaiter = { resolve, reject }));
    t.exited.catch(() => undefined);
    nat.setActive(true);
    try {
      t.seizeAll(pid);
    } catch (e) {
      t.detachAll();
      t.finish({ pid, code: null, signal: null, detached: true });
      throw e;
    }
    return t;
  }

  private attached = false;
  private exitGuard: (() => void) | null = null;

  /**
   * If Node exits while we trace (an uncaught exception, process.exit), an
   * attached process is detached cleanly first and a spawned one is killed
   * (PTRACE_O_EXITKILL would kill it anyway).
   */
  private guardExit(): void {
    this.exitGuard = () => {
      if (this.status) return;
      try {
        if (this.attached) this.detachAll();
        else this.nat.kill(this.pid, 9);
      } catch {
        /* exiting anyway */
      }
    };
    process.once('exit', this.exitGuard);
  }

  /** Seize every thread (again, until no new one appears), then set up the image as it is. */
  private seizeAll(pid: number): void {
    this.nat.addProcess(pid);
    const proc = new Proc(this.nat, pid);
    this.procs.set(pid, proc);
    const seized = new Set<number>();
    for (let round = 0; round < 100; round++) {
      let tids: number[];
      try {
        tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
      } catch {
        throw new RethookError(`no process ${pid}`);
      }
      const fresh = tids.filter((t) => !seized.has(t));
      if (!fresh.length) break;
      for (const tid of fresh) {
        try {
          this.nat.seize(tid, false);
        } catch (e) {
          if (seized.size === 0) throw new RethookError(`cannot attach to process ${pid}: ${(e as Error).message}`);
          continue; // the thread just exited
        }
        seized.add(tid);
        this.addThread(proc, tid);
        this.nat.addThread(tid, pid);
      }
      for (const tid of fresh) if (seized.has(tid)) this.holdAfterInterrupt(proc, tid);
    }
    const th = this.held[0];
    if (!th) throw new RethookError(`cannot attach to process ${pid}: no thread stopped`);
    proc.refuseShadowStack();
    // The image as it is now: objects mapped, the dynamic linker set up.
    const mods = modulesFromMaps(readMaps(pid), new Map());
    const exe = fs.realpathSync(`/proc/${pid}/exe`);
    const exeMod = mods.find((m) => m.path === exe) ?? mods[0];
    proc.pages.mapRegion(th.tid, exeMod.start);
    this.loadedModules(proc, th.tid);
    const ld = mods.find((m) => m.object('_r_debug') !== null && m.path !== exe);
    if (ld) {
      proc.rDebug = ld.object('_r_debug')!;
      const brk = this.nat.readU64(pid, proc.rDebug + R_DEBUG_BRK);
      if (brk) {
        const addr = Number(brk);
        const fn: FunctionSymbol = { name: '_dl_debug_state', rawName: '_dl_debug_state', address: addr, size: 0, module: null as unknown as Module };
        this.plant(proc, null, fn, false, (t, a) => this.onLinkMapChange(t, a));
      }
    }
    proc.startupDone = true;
  }

  /** Wait for a seized thread's interrupt stop, keeping any signal that came first for later. */
  private holdAfterInterrupt(proc: Proc, tid: number): void {
    let sig = 0;
    for (;;) {
      const kind = this.afterNativeStop(this.nat.waitThread(tid));
      if (kind === StopKind.Exited || kind === StopKind.Killed) {
        this.threads.delete(tid);
        proc.threads.delete(tid);
        this.nat.removeThread(tid);
        return;
      }
      if (kind === StopKind.Interrupt || kind === StopKind.GroupStop) break;
      if (kind === StopKind.Signal || kind === StopKind.Trap) sig = this.info[Info.A] || SIGTRAP;
      else if (kind === StopKind.Event && this.info[Info.A] === PTRACE_EVENT_CLONE) {
        const nt = this.info[Info.Msg];
        this.addThread(proc, nt);
        this.nat.addThread(nt, proc.pid);
      }
      this.nat.resume(tid, 0);
    }
    const th = this.threads.get(tid);
    if (th && tid !== proc.pid && this.nat.loadRegs(tid)) th.stack.range = proc.stackRange(Number(this.regs[arch.sp]));
    this.held.push({ tid, addr: 0, sig });
  }

  private exited!: Promise<ExitStatus>;

  /**
   * Hook the functions `pattern` names: `name`, a glob (`sqlite3_*`), scoped
   * to one object (`libz.so.1:crc32`), a demangled C++ name, or an address.
   * Patterns scoped to an object not loaded yet are planted when it is.
   */
  hook(pattern: string | number | readonly (string | number)[], handlers?: HookHandlers): Hook {
    const list = Array.isArray(pattern) ? pattern : [pattern];
    if (list.length === 0 || list.some((p) => typeof p !== 'string' && typeof p !== 'number'))
      throw new TypeError('Expected the pattern to be a string, a number or an array of them');
    const h = validateHandlers(handlers);
    this.checkUsable();
    const hook = new Hook(list.map(String), h, h.maxActive ?? this.defaultMaxActive);
    hook.unhookImpl = (hk) => this.unhook(hk);
    const proc = this.procs.get(this.pid)!;
    const planted: { fn: FunctionSymbol; strict: boolean }[] = [];
    const seen = new Set<number>();
    for (const p of list) {
      const fns = typeof p === 'number' ? [proc.functionAt(p)] : this.resolvePattern(proc, hook, p);
      // A function named exactly must be hooked; one a glob happens to match may be refused and skipped.
      const strict = typeof p === 'number' || !parsePattern(p).isGlob;
      for (const fn of fns) {
        if (seen.has(fn.address)) continue;
        seen.add(fn.address);
        planted.push({ fn, strict });
      }
    }
    for (const { fn, strict } of planted) {
      try {
        this.plant(proc, hook, fn, true);
      } catch (e) {
        if (strict || !(e instanceof RethookError)) throw e;
        hook.refused.push(e.message);
      }
    }
    // Every pattern also applies to objects loaded later (dlopen) and to new images after exec.
    for (const p of list) if (typeof p === 'string') hook.pending.push(parsePattern(p));
    this.hooks.push(hook);
    return hook;
  }

  /** Let the program run; resolves when it exits (or the tracer detaches). */
  run(): Promise<ExitStatus> {
    this.checkUsable();
    if (!this.running) {
      this.running = true;
      this.releaseHeld();
    }
    return this.exited;
  }

  /**
   * Stop tracing at once: breakpoints removed and every hijacked return
   * address put back on every thread's stack; the program goes on untraced.
   */
  async detach(): Promise<void> {
    if (this.status) return;
    this.detachAll();
    this.finish({ pid: this.pid, code: null, signal: null, detached: true });
  }

  /** Kill the program (SIGKILL). */
  kill(): void {
    if (!this.status) this.nat.kill(this.pid, 9);
    this.held = []; // a killed program is not resumed
    this.running = true;
    this.drainSoon();
  }

  /**
   * Call stack of a thread stopped in a handler, trampolines replaced by the
   * real return addresses (see backtrace.ts).
   */
  backtrace(tid: number): Backtrace {
    if (!this.currentCall || tid !== this.currentTid) throw new RethookError(`thread ${tid} is not stopped in a handler`);
    return this.backtraceOf(tid, this.currentCall[0], this.currentCall[1]);
  }

  /** @internal (ContextHost) */
  backtraceOf(tid: number, fnAddr: number, returnAddress: number): Backtrace {
    const th = this.threads.get(tid);
    if (!th || tid !== this.currentTid) throw new RethookError(`thread ${tid} is not stopped in a handler`);
    return walkBacktrace(this.nat, this.regs, th, fnAddr, returnAddress);
  }

  // ---- ContextHost -------------------------------------------------------

  readMemory(pid: number, addr: number | bigint, length: number): Buffer {
    const b = this.nat.read(pid, addr, length);
    if (!b) throw new RethookError(`cannot read ${length} bytes at ${hex(addr)} in process ${pid}`);
    return b;
  }

  readCString(pid: number, addr: number | bigint, max = 4096): string {
    let a = BigInt(addr);
    const parts: Buffer[] = [];
    let total = 0;
    while (total < max) {
      // Never read across a page boundary in one go: the next page may be unmapped.
      const chunk = Math.min(max - total, 4096 - Number(a & 4095n));
      const b = this.nat.read(pid, a, chunk);
      if (!b) {
        if (total === 0) throw new RethookError(`cannot read a string at ${hex(addr)} in process ${pid}`);
        break;
      }
      const z = b.indexOf(0);
      if (z >= 0) {
        parts.push(b.subarray(0, z));
        break;
      }
      parts.push(b);
      total += chunk;
      a += BigInt(chunk);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  setRegister(index: number, value: bigint): void {
    this.regs[index] = value;
  }

  fpRetval(tid: number): number {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(this.nat.fpRetval(tid));
    return b.readDoubleLE(0);
  }

  setFpRetval(tid: number, value: number): void {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.nat.setFpRetval(tid, b.readBigUInt64LE(0));
  }

  resolveFunction(pid: number, target: string | number): { address: number; size: number } {
    const proc = this.procs.get(pid)!;
    if (typeof target === 'number') return proc.functionAt(target);
    const fns = this.resolvePattern(proc, null, target);
    if (fns.length !== 1) throw new RethookError(`'${target}' names ${fns.length} functions; redirect needs exactly one`);
    return fns[0];
  }

  // ---- symbols and planting ------------------------------------------------

  private resolvePattern(proc: Proc, hook: Hook | null, text: string): FunctionSymbol[] {
    const p = parsePattern(text);
    const out: FunctionSymbol[] = [];
    let moduleSeen = false;
    for (const m of proc.modules.values()) {
      if (!moduleMatches(p, m)) continue;
      moduleSeen = true;
      out.push(...matchFunctions(p, m));
    }
    if (out.length) return out;
    if (p.module && !moduleSeen && hook) return []; // planted when that object is loaded
    const names: string[] = [];
    for (const m of proc.modules.values()) if (moduleMatches(p, m)) for (const f of m.functions()) names.push(f.name);
    const close = closeNames(text, names);
    throw new RethookError(`no function matches '${text}'` + (close.length ? ` (did you mean ${close.map((c) => `'${c}'`).join(', ')}?)` : ''));
  }

  private plant(proc: Proc, hook: Hook | null, fn: FunctionSymbol, strict: boolean, internal?: Site['internal']): boolean {
    if (fn.ifunc) {
      const impl = this.resolveIfunc(proc, fn, strict);
      if (!impl) return false;
      fn = impl;
    }
    const existing = proc.sites.get(fn.address);
    if (existing) {
      // Several hooks on one function share its breakpoint, as kprobes aggregate.
      if (hook && !existing.hooks.includes(hook)) {
        existing.hooks.push(hook);
        hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
      }
      if (internal) existing.internal = internal;
      return true;
    }
    const plan = this.nat.planBreakpoint(proc.pid, fn.address);
    if (plan.kind === 'refused') {
      const bytes = this.nat.read(proc.pid, fn.address, 8);
      throw new RethookError(`cannot hook ${fn.name} at ${hex(fn.address)}: ${plan.reason} (bytes ${bytes ? bytes.toString('hex').replace(/(..)/g, '$1 ').trim() : '?'})`);
    }
    let slot = 0;
    if (plan.needsSlot) {
      slot = proc.pages.takeSlot(fn.address);
      if (!slot) {
        const tid = this.stoppedTid(proc);
        if (!tid) throw new RethookError(`cannot hook ${fn.name}: no out-of-line slot near it, and no stopped thread to map one`);
        proc.pages.mapRegion(tid, fn.address);
        slot = proc.pages.takeSlot(fn.address);
      }
    }
    try {
      this.nat.setBreakpoint(proc.pid, fn.address, slot);
    } catch (e) {
      throw new RethookError(`cannot hook ${fn.name} at ${hex(fn.address)}: ${(e as Error).message}`);
    }
    proc.removed.delete(fn.address);
    proc.sites.set(fn.address, { address: fn.address, fn, hooks: hook ? [hook] : [], internal });
    if (hook) hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
    return true;
  }

  /**
   * An IFUNC symbol (strlen, memcpy, ...) names a resolver the dynamic linker
   * calls once to pick an implementation for this CPU. Hooking the resolver
   * would see no calls: ask it (a call injected into a stopped thread) and
   * hook what it returns, under the symbol's name.
   */
  private resolveIfunc(proc: Proc, fn: FunctionSymbol, strict: boolean): FunctionSymbol | null {
    const cached = proc.ifuncs.get(fn.address);
    if (cached !== undefined) return cached ? { ...fn, address: cached, ifunc: false } : null;
    const tid = this.stoppedTid(proc);
    if (!tid || !proc.pages.trampoline) {
      if (strict) throw new RethookError(`cannot hook ${fn.name}: it is an IFUNC, and resolving it needs the program stopped (hook it before run() or from a handler)`);
      return null;
    }
    let impl = 0;
    try {
      impl = Number(this.nat.callFunction(tid, proc.pid, fn.address, proc.pages.trampoline));
    } catch (e) {
      if (strict) throw new RethookError(`cannot hook ${fn.name}: its IFUNC resolver failed: ${(e as Error).message}`);
    }
    const ok = impl !== 0 && [...proc.modules.values()].some((m) => m.contains(impl));
    proc.ifuncs.set(fn.address, ok ? impl : 0);
    if (!ok) {
      if (strict) throw new RethookError(`cannot hook ${fn.name}: its IFUNC resolver picked ${hex(impl)}, outside every loaded object (the vDSO?)`);
      return null;
    }
    return { ...fn, address: impl, ifunc: false };
  }

  private unhook(hook: Hook): void {
    for (const s of hook.sites) {
      const proc = this.procs.get(s.pid);
      const site = proc?.sites.get(s.address);
      if (!proc || !site || !site.hooks.includes(hook)) continue;
      site.hooks = site.hooks.filter((h) => h !== hook);
      if (site.hooks.length || site.internal) continue;
      this.nat.removeBreakpoint(proc.pid, s.address);
      proc.sites.delete(s.address);
      proc.removed.add(s.address);
    }
    hook.pending.length = 0;
  }

  private stoppedTid(proc: Proc): number {
    if (this.currentTid && this.threads.get(this.currentTid)?.proc === proc) return this.currentTid;
    const h = this.held.find((x) => this.threads.get(x.tid)?.proc === proc);
    if (h) return h.tid;
    return 0;
  }

  // ---- processes and images ---------------------------------------------

  private addProcess(pid: number): Proc {
    const proc = new Proc(this.nat, pid);
    this.procs.set(pid, proc);
    this.addThread(proc, pid);
    return proc;
  }

  private addThread(proc: Proc, tid: number): ThreadState {
    const th: ThreadState = { tid, proc, stack: new ShadowStack() };
    proc.threads.set(tid, th);
    this.threads.set(tid, th);
    return th;
  }

  /** A new image (after spawn or exec), stopped at its first instruction, single-threaded. */
  private startImage(proc: Proc, tid: number): void {
    proc.refuseShadowStack();
    proc.pages.reset();
    proc.sites.clear();
    proc.removed.clear();
    proc.ifuncs.clear();
    proc.modules.clear(); // every object is new: loadedModules() plants pending patterns in each
    proc.startupDone = false;
    const mods = modulesFromMaps(readMaps(proc.pid), proc.modules);
    const exe = fs.realpathSync(`/proc/${proc.pid}/exe`);
    const exeMod = mods.find((m) => m.path === exe) ?? mods[0];
    proc.pages.mapRegion(tid, exeMod.start);
    const ld = mods.find((m) => m.object('_r_debug') !== null && m.path !== exe);
    if (exeMod.elf.interp && ld) {
      proc.rDebug = ld.object('_r_debug')!;
      proc.phase = 'find-r_brk';
      this.resume(tid, 0, false, true);
    } else {
      this.loadedModules(proc, tid);
      if (this.startupComplete(proc, tid, 0) !== 'hold') this.resume(tid, 0);
    }
  }

  /** The dynamic linker's r_brk: called around every change of the link map. */
  private onLinkMapChange(th: ThreadState, addr: number): 'continue' | 'hold' {
    const proc = th.proc;
    const state = this.nat.read(proc.pid, proc.rDebug + R_DEBUG_STATE, 4);
    if (!state || state.readInt32LE(0) !== RT_CONSISTENT) return 'continue';
    this.loadedModules(proc, th.tid);
    if (!proc.startupDone) return this.startupComplete(proc, th.tid, addr);
    return 'continue';
  }

  private startupComplete(proc: Proc, tid: number, addr: number): 'continue' | 'hold' {
    proc.startupDone = true;
    if (proc.pid !== this.pid || this.running) return 'continue';
    this.held = [{ tid, addr, sig: 0 }];
    const w = this.startupWaiter;
    this.startupWaiter = null;
    w?.resolve();
    return 'hold';
  }

  /** Scan the maps for objects loaded since last time: slot pages near them, pending hooks planted. */
  private loadedModules(proc: Proc, tid: number): void {
    const mods = modulesFromMaps(readMaps(proc.pid), proc.modules);
    const fresh: Module[] = [];
    const now = new Map<string, Module>();
    for (const m of mods) {
      if (proc.modules.get(m.path) !== m) fresh.push(m);
      now.set(m.path, m);
    }
    proc.modules.clear();
    for (const [k, v] of now) proc.modules.set(k, v);
    for (const m of fresh) if (!proc.pages.hasRegionNear(m.start)) proc.pages.mapRegion(tid, m.start);
    for (const m of fresh) this.plantUnwinderHooks(proc, m);
    for (const hook of this.hooks) {
      if (!hook.live) continue;
      for (const p of hook.pending) {
        for (const m of fresh) {
          for (const fn of matchFunctions(p, m)) {
            try {
              this.plant(proc, hook, fn, false);
            } catch (e) {
              if (!(e instanceof RethookError)) throw e;
              hook.refused.push(e.message);
            }
          }
        }
      }
    }
  }

  private plantUnwinderHooks(proc: Proc, m: Module): void {
    for (const f of m.functions()) {
      if (UNWINDER_ENTRIES.includes(f.rawName)) this.plant(proc, null, f, false, (th) => this.beforeUnwind(th));
      else if (f.rawName === CATCH_ENTRY) this.plant(proc, null, f, false, (th) => this.atCatch(th));
    }
  }

  /** The unwinder is about to walk this thread's stack: put every real return address back. */
  private beforeUnwind(th: ThreadState): 'continue' {
    unhijackForUnwind(this.nat, th.proc.pid, th.stack.nodes, th.proc.pages.trampoline, this.regs);
    return 'continue';
  }

  /** A catch begins: calls whose frames the exception removed ended; the rest are hooked again. */
  private atCatch(th: ThreadState): 'continue' {
    const dead = th.stack.popAtOrBelow(Number(this.regs[arch.sp]));
    if (dead.length) this.finishUnwound(th, dead, 'exception');
    if (!this.status) rehijackAfterCatch(this.nat, th.proc.pid, th.stack.nodes, th.proc.pages.trampoline);
    return 'continue';
  }

  private releaseHeld(): void {
    const all = this.held;
    this.held = [];
    for (const h of all) {
      const th = this.threads.get(h.tid);
      if (!th) continue;
      if (h.addr) {
        this.nat.loadRegs(h.tid);
        this.step(h.tid, th.proc.pid, h.addr);
      } else {
        this.resume(h.tid, h.sig);
      }
    }
  }

  // ---- the event loop ---------------------------------------------------

  // Every way of letting a stopped thread go; marks the current stop as resumed.
  private resume(tid: number, sig: number, storeRegs = false, untilSyscall = false): boolean {
    if (tid === this.currentTid) this.currentResumed = true;
    return this.nat.resume(tid, sig, storeRegs, untilSyscall);
  }

  private step(tid: number, pid: number, addr: number): boolean {
    if (tid === this.currentTid) this.currentResumed = true;
    return this.nat.continueFromBreakpoint(tid, pid, addr);
  }

  private listen(tid: number): boolean {
    if (tid === this.currentTid) this.currentResumed = true;
    return this.nat.listen(tid);
  }

  private drainSoon(): void {
    setImmediate(() => this.drain());
  }

  /** Handle every stop that is waiting; yield to the event loop now and then. */
  private drain(): void {
    if (this.draining || this.status) return;
    this.draining = true;
    try {
      for (let n = 0; n < EVENTS_PER_TURN; n++) {
        const kind = this.afterNativeStop(this.nat.wait(n === 0 ? 0 : this.spinNs));
        if (kind === StopKind.None) return;
        this.currentTid = this.info[Info.Tid];
        this.currentResumed = false;
        try {
          this.dispatch(kind);
        } catch (e) {
          this.failure ??= e instanceof Error ? e : new Error(String(e));
        }
        this.currentTid = 0;
        this.currentCall = null;
        if (this.failure) {
          this.failed();
          return;
        }
        if (this.status) return;
      }
      this.drainSoon();
    } finally {
      this.draining = false;
    }
  }

  /**
   * The bookkeeping every reported stop needs in the addon (it no longer does
   * it by itself): an exited thread is no longer waited for, and an exec gives
   * the process a new address space (memory reopened, breakpoints and trap set
   * emptied; the exec event is reported for the thread-group leader's tid).
   */
  private afterNativeStop(kind: StopKind): StopKind {
    const tid = this.info[Info.Tid];
    if (kind === StopKind.Exited || kind === StopKind.Killed) this.nat.removeThread(tid);
    else if (kind === StopKind.Event && this.info[Info.A] === PTRACE_EVENT_EXEC && this.procs.has(tid)) this.nat.execed(tid);
    return kind;
  }

  private dispatch(kind: StopKind): void {
    const info = this.info;
    const tid = info[Info.Tid];
    const th = this.threads.get(tid);
    if (!th) {
      // A thread announced by a clone event we have not handled yet cannot
      // happen (we add it at the event); anything else is not ours to keep.
      if (kind !== StopKind.Exited && kind !== StopKind.Killed) this.resume(tid, 0);
      return;
    }
    const proc = th.proc;
    switch (kind) {
      case StopKind.Trap: {
        const addr = info[Info.Addr];
        if (info[Info.SiCode] !== arch.trapSiCode) return void this.resume(tid, SIGTRAP);
        if (addr === proc.pages.trampoline) return this.onReturn(th);
        const site = proc.sites.get(addr);
        if (site) return this.onEntry(th, site, addr);
        if (proc.removed.has(addr)) {
          this.regs[arch.pc] = BigInt(addr); // raised before the breakpoint went away
          return void this.resume(tid, 0, true);
        }
        return void this.resume(tid, SIGTRAP); // the program's own trap
      }
      case StopKind.Signal:
        if (info[Info.A] === SIGINT && this.detachOnInterrupt && proc.pid === this.pid) {
          // Swallowed: detaching from a signal-delivery-stop without the signal drops it.
          this.detachAll();
          return this.finish({ pid: this.pid, code: null, signal: null, detached: true });
        }
        return void this.resume(tid, info[Info.A]);
      case StopKind.Syscall:
        return this.onSyscallStop(th);
      case StopKind.Event:
        return this.onEvent(th, info[Info.A], info[Info.Msg]);
      case StopKind.GroupStop:
        return void this.listen(tid);
      case StopKind.Interrupt:
        // A new thread's first stop: it runs on its own stack now.
        if (!th.stack.range && tid !== proc.pid && this.nat.loadRegs(tid)) th.stack.range = proc.stackRange(Number(this.regs[arch.sp]));
        return void this.resume(tid, 0);
      case StopKind.Exited:
      case StopKind.Killed:
        return this.onThreadGone(th, kind, info[Info.A]);
    }
  }

  private onSyscallStop(th: ThreadState): void {
    const proc = th.proc;
    if (proc.phase === 'exec-exit') {
      // execve has returned into the new image: its registers are final now.
      proc.phase = 'ready';
      return this.startImage(proc, th.tid);
    }
    if (proc.phase === 'find-r_brk') {
      const brk = this.nat.readU64(proc.pid, proc.rDebug + R_DEBUG_BRK);
      if (brk && brk !== 0n) {
        proc.phase = 'ready';
        const addr = Number(brk);
        const fn: FunctionSymbol = { name: '_dl_debug_state', rawName: '_dl_debug_state', address: addr, size: 0, module: null as unknown as Module };
        this.plant(proc, null, fn, true, (t, a) => this.onLinkMapChange(t, a));
        return void this.resume(th.tid, 0);
      }
      return void this.resume(th.tid, 0, false, true);
    }
    this.resume(th.tid, 0);
  }

  private onEvent(th: ThreadState, event: number, msg: number): void {
    const proc = th.proc;
    switch (event) {
      case PTRACE_EVENT_CLONE:
        this.addThread(proc, msg);
        this.nat.addThread(msg, proc.pid);
        break;
      case PTRACE_EVENT_FORK:
      case PTRACE_EVENT_VFORK:
        if (this.followForks) this.adoptChild(th, msg, event === PTRACE_EVENT_VFORK);
        else this.releaseChild(th, msg, event === PTRACE_EVENT_VFORK);
        break;
      case PTRACE_EVENT_EXEC:
        return this.onExec(proc, th);
    }
    this.resume(th.tid, 0);
  }

  /** The process replaced its image: other threads are gone, and so is every hook site. */
  private onExec(proc: Proc, th: ThreadState): void {
    for (const [tid, other] of proc.threads) {
      if (tid === th.tid) continue;
      this.flush(other, 'exec');
      this.threads.delete(tid);
      proc.threads.delete(tid);
      this.nat.removeThread(tid);
    }
    this.flush(th, 'exec');
    if (proc.silent) {
      // A vfork child we were only keeping safe: its new image has none of our breakpoints.
      this.forgetProcess(proc);
      this.currentResumed = true;
      this.nat.detach(th.tid, 0);
      return;
    }
    for (const hook of this.hooks) {
      const keep = hook.sites.filter((s) => s.pid !== proc.pid);
      hook.sites.splice(0, hook.sites.length, ...keep);
    }
    proc.phase = 'exec-exit';
    this.resume(th.tid, 0, false, true);
  }

  private forgetProcess(proc: Proc): void {
    for (const tid of proc.threads.keys()) {
      this.threads.delete(tid);
      this.nat.removeThread(tid);
    }
    proc.threads.clear();
    this.procs.delete(proc.pid);
    this.nat.dropProcess(proc.pid);
  }

  /**
   * Follow a child made by fork or vfork as a process of its own: it has our
   * breakpoints, pages and, on the forking thread's stack, our hijacked return
   * addresses, so it gets copies of our sites and of that thread's nodes.
   */
  private adoptChild(parent: ThreadState, child: number, vfork: boolean): void {
    const pp = parent.proc;
    this.nat.addProcess(child);
    this.nat.addThread(child, child);
    this.nat.copyBreakpoints(pp.pid, child);
    const cp = new Proc(this.nat, child);
    cp.pages.copyFrom(pp.pages);
    for (const [k, m] of pp.modules) cp.modules.set(k, m);
    for (const [a, site] of pp.sites) {
      cp.sites.set(a, { ...site, hooks: [...site.hooks] });
      for (const h of site.hooks) h.sites.push({ pid: child, address: a, function: site.fn?.name ?? '' });
    }
    cp.rDebug = pp.rDebug;
    cp.startupDone = true;
    this.procs.set(child, cp);
    const th = this.addThread(cp, child);
    const copies: RethookNode[] = [];
    for (const n of parent.stack.nodes) {
      const c = (n.owner as Hook).pool.take(n.owner);
      if (!c) break;
      Object.assign(c, { ...n, args: n.args, data: n.data });
      copies.push(c);
    }
    if (copies.length === parent.stack.nodes.length) th.stack.nodes.push(...copies);
    else {
      // Not enough nodes for the copies: the child gets its real return addresses back instead.
      for (const c of copies) (c.owner as Hook).pool.give(c);
      if (!vfork) restoreReturnAddresses(this.nat, this.regs, child, child, parent.stack.nodes, pp.pages.trampoline);
    }
  }

  /**
   * A child made by fork has our breakpoints and hijacked return addresses
   * in its copy of memory: put the originals back before it runs an
   * instruction, then let it go.
   */
  private releaseChild(parent: ThreadState, child: number, vfork: boolean): void {
    this.nat.addProcess(child);
    this.nat.addThread(child, child);
    if (vfork) {
      // It shares the parent's memory (breakpoints included) until it execs or
      // exits: keep it traced until then, stepping over our breakpoints silently.
      this.nat.copyBreakpoints(parent.proc.pid, child);
      const cp = new Proc(this.nat, child);
      cp.silent = true;
      cp.pages.copyFrom(parent.proc.pages);
      for (const [a, site] of parent.proc.sites) cp.sites.set(a, { ...site, hooks: [] });
      cp.startupDone = true;
      this.procs.set(child, cp);
      this.addThread(cp, child);
      return;
    }
    // fork: put the originals back in the child's copy of memory before it runs an instruction.
    let kind = this.afterNativeStop(this.nat.waitThread(child));
    while (kind !== StopKind.Interrupt && kind !== StopKind.Exited && kind !== StopKind.Killed) {
      this.nat.resume(child, 0);
      kind = this.afterNativeStop(this.nat.waitThread(child));
    }
    if (kind === StopKind.Interrupt) {
      this.nat.restoreBreakpoints(parent.proc.pid, child);
      restoreReturnAddresses(this.nat, this.regs, child, child, parent.stack.nodes, parent.proc.pages.trampoline);
      this.nat.detach(child, 0);
    }
    this.nat.removeThread(child);
    this.nat.dropProcess(child);
  }

  private onThreadGone(th: ThreadState, kind: StopKind, value: number): void {
    const proc = th.proc;
    this.flush(th, 'thread-exit');
    proc.threads.delete(th.tid);
    this.threads.delete(th.tid);
    if (th.tid !== proc.pid) return;
    for (const other of proc.threads.values()) {
      this.flush(other, 'thread-exit');
      this.threads.delete(other.tid);
    }
    this.procs.delete(proc.pid);
    this.nat.dropProcess(proc.pid);
    if (proc.pid === this.pid) {
      this.mainStatus = kind === StopKind.Exited
        ? { pid: proc.pid, code: value, signal: null, detached: false }
        : { pid: proc.pid, code: null, signal: signalName(value), detached: false };
      if (this.startupWaiter) {
        const w = this.startupWaiter;
        this.startupWaiter = null;
        w.reject(new RethookError(`program exited during startup (${this.mainStatus.signal ?? `code ${this.mainStatus.code}`})`));
      }
    }
    // Done when the program and every child followed are gone.
    if (this.mainStatus && ![...this.procs.values()].some((p) => !p.silent)) this.finish(this.mainStatus);
  }

  // ---- return hooking ----------------------------------------------------

  private onEntry(th: ThreadState, site: Site, addr: number): void {
    const tid = th.tid;
    const proc = th.proc;
    if (proc.silent) return void this.step(tid, proc.pid, addr);
    if (site.internal && site.internal(th, addr) === 'hold') return;
    const regs = this.regs;
    const sp = Number(regs[arch.sp]);
    const retReg = arch.returnAddressReg;
    const ret = retReg < 0 ? Number(this.nat.readU64(proc.pid, sp)) : Number(regs[retReg]);
    const tramp = proc.pages.trampoline;
    const stack = th.stack;
    let tail = ret === tramp;
    const dead = stack.reapAtEntry(sp, tail);
    if (dead.length) this.finishUnwound(th, dead, 'longjmp');
    if (this.status) return;
    let action: EntryContext['_action'] = { kind: 'continue' };
    const before = stack.depth;
    for (const hook of site.hooks) {
      const outer = stack.top();
      if (tail && (!outer || outer.frame !== sp)) {
        // Our trampoline as a return address with no call of ours at this
        // frame cannot be resolved: let this call run unhooked.
        hook.pool.nmissed++;
        continue;
      }
      const node = hook.pool.take(hook);
      if (!node) continue;
      node.frame = sp;
      node.realRet = tail ? outer!.realRet : ret;
      node.chained = tail;
      node.fnName = site.fn!.name;
      node.fnAddr = addr;
      node.depth = stack.depth;
      const args = new Array<bigint>(arch.args.length);
      for (let i = 0; i < args.length; i++) args[i] = regs[arch.args[i]];
      node.args = args;
      let keep = true;
      const onEntry = hook.handlers.onEntry;
      if (onEntry) {
        const ctx = new EntryContext(this, proc.pid, tid, node.fnName, addr, args, node.realRet, sp, node.depth);
        this.currentCall = [ctx.address, ctx.returnAddress];
        keep = this.callHandler('onEntry', node.fnName, () => onEntry(ctx)) !== false;
        ctx._live = false;
        if (this.status) return; // the handler detached or killed: the thread is no longer ours
        node.data = ctx.data;
        if (action.kind === 'continue') action = ctx._action;
      }
      if (!keep || action.kind === 'skip') {
        hook.pool.give(node);
        if (action.kind === 'skip') break;
        continue;
      }
      node.entryNs = process.hrtime.bigint();
      if (!stack.range) stack.range = proc.stackRange(tid === proc.pid ? -1 : sp);
      stack.push(node);
      if (!tail) {
        if (retReg < 0) this.nat.writeU64(proc.pid, sp, tramp);
        else regs[retReg] = BigInt(tramp);
        tail = true; // a further hook on this function shares the hijacked return
      }
    }
    if (action.kind === 'skip') {
      // Nodes pushed by earlier hooks of this same entry: the call never happens.
      while (stack.depth > before) {
        const n = stack.nodes.pop()!;
        (n.owner as Hook).pool.give(n);
      }
      // Return to the caller at once; a caller entered by tail call returns through the trampoline.
      regs[arch.retval] = action.retval;
      regs[arch.pc] = BigInt(ret);
      regs[arch.sp] = BigInt(sp + arch.returnPops);
      return void this.resume(tid, 0, true);
    }
    if (action.kind === 'redirect') {
      regs[arch.pc] = BigInt(action.address);
      return void this.resume(tid, 0, true);
    }
    this.step(tid, proc.pid, addr);
  }

  private onReturn(th: ThreadState): void {
    const regs = this.regs;
    const sp = Number(regs[arch.sp]);
    const { unwound, returning } = th.stack.popReturn(sp - arch.returnPops);
    if (unwound.length) this.finishUnwound(th, unwound, 'longjmp');
    if (this.status) return;
    if (returning.length === 0) {
      throw new RethookError(`thread ${th.tid} returned into the trampoline at sp ${hex(sp)} with no call of ours in flight there`);
    }
    const realRet = returning[returning.length - 1].realRet;
    this.currentReturnTo = realRet; // where detaching from inside a handler sends this thread
    const now = process.hrtime.bigint();
    for (const node of returning) {
      const hook = node.owner as Hook;
      const onExit = hook.handlers.onExit;
      if (hook.live && onExit) {
        const ctx = new ExitContext(this, th.proc.pid, th.tid, node.fnName, node.fnAddr, node.args, node.realRet, node.frame,
          node.depth, regs[arch.retval], now - node.entryNs, false, null, arch.retval);
        this.currentCall = [ctx.address, ctx.returnAddress];
        ctx.data = node.data;
        this.callHandler('onExit', node.fnName, () => onExit(ctx));
        ctx._live = false;
      }
      hook.pool.give(node);
    }
    this.currentReturnTo = 0;
    if (this.status) return;
    regs[arch.pc] = BigInt(realRet);
    if (arch.returnAddressReg >= 0) regs[arch.returnAddressReg] = BigInt(realRet);
    this.resume(th.tid, 0, true);
  }

  /** Nodes whose frames went away without returning: onExit with unwound, then back to the pool. */
  private finishUnwound(th: ThreadState, nodes: RethookNode[], reason: UnwindReason): void {
    const now = process.hrtime.bigint();
    for (const node of nodes) {
      const hook = node.owner as Hook;
      const onExit = hook.handlers.onExit;
      if (hook.live && onExit && reason !== 'detach' && !this.status) {
        // A frame found dead while an unwinder had our return addresses put back went with an exception.
        const why = reason === 'longjmp' && node.restored ? 'exception' : reason;
        const ctx = new ExitContext(this, th.proc.pid, th.tid, node.fnName, node.fnAddr, node.args, node.realRet, node.frame,
          node.depth, 0n, now - node.entryNs, true, why, arch.retval);
        this.currentCall = [ctx.address, ctx.returnAddress];
        ctx.data = node.data;
        this.callHandler('onExit', node.fnName, () => onExit(ctx));
        ctx._live = false;
      }
      hook.pool.give(node);
    }
  }

  private flush(th: ThreadState, reason: UnwindReason): void {
    const nodes = th.stack.drain();
    if (nodes.length) this.finishUnwound(th, nodes, reason);
  }

  /**
   * Run a user handler. A throw (or a rejected promise) stops tracing: the
   * tracer detaches cleanly and run() rejects with the handler's error.
   */
  private callHandler<T>(which: string, fn: string, call: () => T): T | undefined {
    const fail = (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      this.failure ??= new RethookError(`${which} handler for ${fn} threw: ${msg.split('\n')[0]}`);
      if (!this.draining) this.failed();
    };
    try {
      const r = call();
      if (r && typeof (r as unknown as Promise<unknown>).then === 'function') (r as unknown as Promise<unknown>).then(undefined, fail);
      return r;
    } catch (e) {
      fail(e);
      return undefined;
    }
  }

  // ---- leaving --------------------------------------------------------------

  private failed(): void {
    if (this.status) return;
    const err = this.failure!;
    try {
      this.detachAll();
    } catch {
      this.nat.kill(this.pid, 9); // could not clean up: never leave a damaged program running
    }
    this.finish(null, err);
  }

  /**
   * Stop every thread, undo every change (return addresses, breakpoints),
   * and detach. Injected pages stay mapped: a thread may be executing in a
   * slot, and they are inert without our breakpoints.
   */
  private detachAll(): void {
    const pending = new Map<number, number>();
    // Threads already stopped: the current stop's (unless it was resumed) and the held one.
    const stopped = new Map<number, number>(); // tid -> trap address (0: not at a trap)
    if (this.currentTid && !this.currentResumed && this.threads.has(this.currentTid))
      stopped.set(this.currentTid, this.info[Info.Kind] === StopKind.Trap ? this.info[Info.Addr] : 0);
    for (const h of this.held) {
      stopped.set(h.tid, h.addr);
      if (h.sig) pending.set(h.tid, h.sig);
    }
    for (const th of this.threads.values()) if (!stopped.has(th.tid)) this.nat.interrupt(th.tid);
    for (const th of [...this.threads.values()]) {
      if (stopped.has(th.tid)) continue;
      const kind = this.afterNativeStop(this.nat.waitThread(th.tid));
      if (kind === StopKind.Exited || kind === StopKind.Killed) {
        this.threads.delete(th.tid);
        th.proc.threads.delete(th.tid);
        continue;
      }
      stopped.set(th.tid, 0);
      if (kind === StopKind.Trap) {
        const addr = this.info[Info.Addr];
        if (this.info[Info.SiCode] === arch.trapSiCode && (addr === th.proc.pages.trampoline || th.proc.sites.has(addr) || th.proc.removed.has(addr)))
          stopped.set(th.tid, addr);
        else pending.set(th.tid, SIGTRAP);
      } else if (kind === StopKind.Signal) {
        pending.set(th.tid, this.info[Info.A]);
      } else if (kind === StopKind.Event && this.info[Info.A] === PTRACE_EVENT_CLONE) {
        // A thread born meanwhile: it starts traced and stopped; detach it with the rest.
        const nt = this.info[Info.Msg];
        this.nat.addThread(nt, th.proc.pid);
        this.addThread(th.proc, nt);
        let k = this.afterNativeStop(this.nat.waitThread(nt));
        while (k !== StopKind.Interrupt && k !== StopKind.Exited && k !== StopKind.Killed) {
          this.resume(nt, 0);
          k = this.afterNativeStop(this.nat.waitThread(nt));
        }
        if (k === StopKind.Interrupt) stopped.set(nt, 0);
      }
    }
    // A thread stopped on one of our traps resumes where it would have gone.
    for (const [tid, addr] of stopped) {
      const th = this.threads.get(tid);
      if (!th || !addr) continue;
      this.nat.loadRegs(tid);
      if (addr === th.proc.pages.trampoline) {
        const { returning } = th.stack.popReturn(Number(this.regs[arch.sp]) - arch.returnPops);
        const ret = returning.length ? returning[returning.length - 1].realRet : tid === this.currentTid ? this.currentReturnTo : 0;
        if (ret) {
          this.regs[arch.pc] = BigInt(ret);
          if (arch.returnAddressReg >= 0) this.regs[arch.returnAddressReg] = BigInt(ret);
        }
      } else {
        this.regs[arch.pc] = BigInt(addr); // the original instruction is back
      }
      this.nat.storeRegs(tid);
    }
    for (const proc of this.procs.values()) {
      for (const th of proc.threads.values()) {
        const nodes = th.stack.drain(); // innermost first
        restoreReturnAddresses(this.nat, this.regs, proc.pid, th.tid, nodes.slice().reverse(), proc.pages.trampoline);
        for (const n of nodes) (n.owner as Hook).pool.give(n);
      }
      this.nat.restoreBreakpoints(proc.pid, proc.pid);
    }
    // A program we started dies with us (PR_SET_PDEATHSIG) only while traced:
    // detached, it must outlive us. That setting is its own: it clears it.
    const main = this.procs.get(this.pid);
    if (!this.attached && main?.pages.stub && this.threads.has(this.pid)) {
      try {
        this.nat.injectSyscall(this.pid, this.pid, main.pages.stub, false, arch.syscalls.prctl, [PR_SET_PDEATHSIG, 0]);
      } catch {
        /* it exits anyway */
      }
    }
    for (const th of this.threads.values()) {
      this.nat.detach(th.tid, pending.get(th.tid) ?? 0);
      this.nat.removeThread(th.tid);
    }
    this.held = [];
  }

  private finish(status: ExitStatus | null, err?: Error): void {
    if (this.status) return;
    this.status = status ?? { pid: this.pid, code: null, signal: null, detached: true };
    if (this.exitGuard) process.removeListener('exit', this.exitGuard);
    this.nat.setActive(false);
    this.nat.close();
    if (this.status.detached && !this.attached) this.reapLater();
    if (this.startupWaiter) {
      this.startupWaiter.reject(err ?? new RethookError('tracing ended during startup'));
      this.startupWaiter = null;
    }
    const w = this.exitWaiter;
    this.exitWaiter = null;
    if (err) w?.reject(err);
    else w?.resolve(this.status);
  }

  /** A program we started and let go is still our child: wait for it when it exits (no zombie). */
  private reapLater(): void {
    const timer = setInterval(() => {
      if (this.nat.reap(this.pid)) clearInterval(timer);
    }, 200);
    timer.unref();
  }

  private checkUsable(): void {
    if (this.status) throw new RethookError('the traced program has exited or the tracer detached');
  }
}
