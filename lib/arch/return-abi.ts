// Where a function's return address lives, and how rethook swaps it: the
// user-space counterpart of the kernel's arch_rethook_prepare() and
// arch_rethook_fixup_return(). Generic code (engine/) decides which nodes
// return, unwind or are restored; a ReturnAbi only says where the addresses
// are. Each architecture supplies one object (arch/x86_64.ts, arch/arm64.ts):
//
//   returnPops          sp after `ret` minus sp at the first instruction
//   returnAddress       where the call will return to, read at the entry stop
//   hijack              make it return into the trampoline instead (false if
//                       that could not be written: the call goes unhooked,
//                       as uprobes drops the return instance)
//   resumeAt            the registers of a thread leaving the trampoline for
//                       the real return address, as if it had returned there
//   restore             put the real return addresses of a thread's nodes
//                       back (detach, a fork child we do not follow)
//   unhijackForUnwind   the same before an unwinder walks the stack, nodes kept
//   rehijackAfterCatch  the trampoline back in the slots unhijackForUnwind
//                       restored, for the calls a catch left alive
//   frameGone           whether a call's return slot still holds what the
//                       call left there (null where that cannot be told)
//   goroutine           Go's current goroutine (g), kept in a register by
//                       Go's internal ABI
//   resultShiftsArgs    a result returned in memory (a large aggregate, a C++
//                       class not trivially copyable) has its address passed
//                       in the first integer argument register, so the
//                       declared arguments start one register later
//   resultAddress       that address, read at the first instruction
import type { RethookNode } from '../rethook';
import type { TraceeMemory } from '../tracee/memory';
import type { Registers, StoppedThread } from '../tracee/registers';

export interface ReturnAbi {
  readonly returnPops: number;
  /** At a function's first instruction (registers loaded). Null when unreadable. */
  returnAddress(regs: Registers, mem: TraceeMemory): number | null;
  /** At a function's first instruction: return into `tramp`. Registers are stored when the thread resumes. */
  hijack(regs: Registers, mem: TraceeMemory, tramp: number): boolean;
  resumeAt(regs: Registers, to: number): void;
  /** `nodes` outermost first; `thread` is stopped and its registers not loaded. */
  restore(thread: StoppedThread, mem: TraceeMemory, nodes: readonly RethookNode[], tramp: number): void;
  /** `regs`: the thread's registers, loaded; `nodes` outermost first. Marks the nodes restored. */
  unhijackForUnwind(regs: Registers, mem: TraceeMemory, nodes: readonly RethookNode[], tramp: number): void;
  rehijackAfterCatch(mem: TraceeMemory, nodes: readonly RethookNode[], tramp: number): void;
  /** True when the node's return slot was overwritten (its frame is gone), false when intact, null when unknown. */
  frameGone(mem: TraceeMemory, node: RethookNode, tramp: number): boolean | null;
  goroutine(regs: Registers): bigint;
  /** The hidden result pointer takes the first integer argument register (x86-64: rdi) rather than one of its own (arm64: x8). */
  readonly resultShiftsArgs: boolean;
  /** At a function's first instruction: where the caller wants a result returned in memory. */
  resultAddress(regs: Registers): bigint;
}

/**
 * A program for measuring the tracer's round trip (views/calibrate.ts): its
 * machine code calls g `n` times, then exits 0; g calls f once and returns;
 * f is a bare return.
 */
export interface CalibrationCode {
  /** ELF e_machine. */
  machine: number;
  code: Buffer;
  /** Where f is in `code`, and its size. */
  fOffset: number;
  fSize: number;
  /** Where g (f's only caller) is, and its size. */
  gOffset: number;
  gSize: number;
}
