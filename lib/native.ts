// Types for the raw addon, 1:1 with native/addon.cc (as node-pty's native.d.ts).
// Addresses cross as numbers (user-space addresses fit in 53 bits) or bigints.
import * as path from 'path';

export const enum StopKind {
  None = 0,
  Exited = 1,
  Killed = 2,
  Trap = 3,
  Signal = 4,
  Event = 5,
  GroupStop = 6,
  Interrupt = 7,
  Syscall = 8,
}

/** Indices into NativeTracer.info after wait(). */
export const enum Info {
  Kind = 0,
  Tid = 1,
  A = 2,
  Msg = 3,
  Addr = 4,
  SiCode = 5,
}

export interface StepPlanInfo {
  kind: 'emulate' | 'out-of-line' | 'refused';
  length: number;
  needsSlot: boolean;
  reason: string;
}

export interface NativeTracer {
  readonly regs: BigUint64Array;
  readonly info: Float64Array;
  /** stdio: file descriptors for the program's 0, 1, 2 (-1: inherit). */
  spawn(path: string, argv: string[], envp: string[], cwd: string, stdio: number[]): number;
  /** Seize a thread and interrupt it; registers nothing (see addThread). */
  seize(tid: number, exitKill: boolean): void;
  /** Per-process state: memory, breakpoint table, trap set. */
  addProcess(pid: number): void;
  dropProcess(pid: number): void;
  /** Wait for thread `tid` of process `pid` from now on. */
  addThread(tid: number, pid: number): void;
  removeThread(tid: number): void;
  /** The process replaced its image: its memory is new, its breakpoints and traps are gone. */
  execed(pid: number): void;
  /** The next stop or None; with spinNs, keep asking that long, yielding the CPU in between. */
  wait(spinNs?: number): StopKind;
  waitThread(tid: number): StopKind;
  loadRegs(tid: number): boolean;
  storeRegs(tid: number): boolean;
  resume(tid: number, signal: number, storeRegs?: boolean, untilSyscall?: boolean): boolean;
  listen(tid: number): boolean;
  continueFromBreakpoint(tid: number, pid: number, addr: number): boolean;
  fpRetval(tid: number): bigint;
  setFpRetval(tid: number, value: bigint): boolean;
  read(pid: number, addr: number | bigint, len: number): Buffer | null;
  write(pid: number, addr: number | bigint, data: Buffer): boolean;
  readU64(pid: number, addr: number | bigint): bigint | null;
  writeU64(pid: number, addr: number | bigint, value: bigint | number): boolean;
  planBreakpoint(pid: number, addr: number): StepPlanInfo;
  setBreakpoint(pid: number, addr: number, slot: number): void;
  removeBreakpoint(pid: number, addr: number): boolean;
  restoreBreakpoints(pid: number, intoPid: number): boolean;
  copyBreakpoints(fromPid: number, toPid: number): void;
  injectSyscall(tid: number, pid: number, stub: number, writeStub: boolean, nr: number, args: (number | bigint)[]): bigint;
  /** Call fn() in a stopped thread; it returns to returnTo (a trap of ours). */
  callFunction(tid: number, pid: number, fn: number, returnTo: number): bigint;
  /** A trap at addr in process pid is always ours (saves PTRACE_GETSIGINFO there). */
  markTrampoline(pid: number, addr: number): void;
  /** Wait for a detached child of ours that exited; true once it is gone. */
  reap(pid: number): boolean;
  interrupt(tid: number): boolean;
  detach(tid: number, signal?: number): boolean;
  kill(pid: number, signal: number): boolean;
  setActive(active: boolean): void;
  close(): void;
}

export interface ArchInfo {
  name: string;
  pc: number;
  sp: number;
  retval: number;
  args: number[];
  /** Register holding the return address at a function's entry, or -1 for [sp]. */
  returnAddressReg: number;
  /** Frame-pointer register: [fp] = caller's fp, [fp + 8] = return address. */
  framePointer: number;
  /** sp after return minus sp at entry. */
  returnPops: number;
  trapSiCode: number;
  slotSize: number;
  slotReach: number;
  regNames: string[];
  syscallStub: Buffer;
  trampolineCode: Buffer;
  syscalls: { mmap: number; munmap: number; prctl: number };
}

interface Addon {
  NativeTracer: new (wake: () => void) => NativeTracer;
  demangle(names: string[]): string[];
  arch: ArchInfo;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const addon: Addon = require(path.join(__dirname, '..', 'build', 'Release', 'rethook.node'));

export const NativeTracer = withCurrentInterface(addon.NativeTracer);

/**
 * TEMPORARY: adapts an addon built before the thread-table interface
 * (addThread(tid, traced), implicit exec handling, a global trap set).
 */
function withCurrentInterface(Ctor: Addon['NativeTracer']): Addon['NativeTracer'] {
  if ('removeThread' in Ctor.prototype) return Ctor;
  return class {
    constructor(wake: () => void) {
      const n = new Ctor(wake) as unknown as Record<string, (...a: unknown[]) => unknown>;
      const addThread = n.addThread.bind(n);
      const mark = n.markTrampoline.bind(n);
      const set = (k: string, f: (...a: unknown[]) => unknown) => Object.defineProperty(n, k, { value: f });
      set('addThread', (tid) => addThread(tid, true));
      set('removeThread', (tid) => addThread(tid, false));
      set('execed', () => undefined);
      set('markTrampoline', (_pid, addr) => mark(addr));
      return n as unknown as NativeTracer;
    }
  } as unknown as Addon['NativeTracer'];
}
export const demangle = addon.demangle;
export const arch = addon.arch;
