// The contract every architecture backend supplies. This header is the only
// place that knows there are several architectures: binding.gyp compiles one
// backend (x86_64.cc or arm64.cc, each with its pure decoder) and defines the
// matching RETHOOK_ARCH_*; generic code (session, inject, stop_wait, addon)
// includes only this header and never tests the architecture itself.
//
// An architecture supplies:
//   - a decoder header (x86_64_decode.h / arm64_decode.h, included below) in
//     a namespace of its own, free of ptrace and <sys/user.h>, declaring
//     `Emulation` (its typed record of what an emulated instruction does) and
//     `Plan` = BasicStepPlan<Emulation> (step_plan.h). arch.h aliases that
//     namespace as `arch_impl`, so StepPlan below is the backend's own type;
//   - kArch: the data table below (breakpoint bytes, register layout, where the
//     return address lives at a function's first instruction, syscall ABI),
//     written with designated initializers;
//   - ArchRegs' layout: the register file as ptrace reads and writes it;
//   - arch_get_regs / arch_set_regs, the FP return value and FP argument registers;
//   - arch_dwarf_regs: the register file in DWARF numbering (for CFI unwinding);
//   - arch_plan_step_over: decide how a thread stopped on a breakpoint executes
//     the displaced instruction without the breakpoint ever being lifted
//     (emulate it in the register file, or run it out of line in a slot that
//     jumps back), or refuse it with a reason; arch_build_slot fills the slot;
//   - arch_step_over: carry out such a plan on a stopped thread's registers;
//   - arch_syscall_stub / arch_prepare_syscall / arch_syscall_result: the bytes
//     "syscall; trap" and the ABI used to inject system calls;
//   - arch_trampoline_code: the trap our hijacked returns land on.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../remote_ptr.h"
#include "step_plan.h"

#if defined(RETHOOK_ARCH_X86_64)
#if !defined(__x86_64__)
#error "RETHOOK_ARCH_X86_64 set for a compiler that does not target x86-64"
#endif
#include "x86_64_decode.h"
namespace rethook {
namespace arch_impl = x86;
}
#elif defined(RETHOOK_ARCH_ARM64)
#if !defined(__aarch64__)
#error "RETHOOK_ARCH_ARM64 set for a compiler that does not target arm64"
#endif
#include "arm64_decode.h"
namespace rethook {
namespace arch_impl = arm64;
}
#else
#error "binding.gyp defines RETHOOK_ARCH_X86_64 or RETHOOK_ARCH_ARM64"
#endif

namespace rethook {

struct ArchTable {
  const char* name;
  // Bytes written over a function's first instruction.
  uint8_t breakpoint[4];
  size_t breakpoint_len;
  // pc reported after the trap minus this = the breakpoint's address.
  size_t trap_pc_adjust;
  // Register layout as exposed to TypeScript: index into the 64-bit words of
  // ArchRegs.
  int reg_pc, reg_sp, reg_retval, reg_fp_first;
  int reg_args[8];
  int nargs;
  // Where the return address is at a function's first instruction: in a
  // register (arm64: x30) or, when reg_return_address < 0, at [sp] (x86-64).
  int reg_return_address;
  // Frame-pointer chain for backtraces: the register (rbp / x29); at [fp] the
  // caller's fp, at [fp + 8] the return address.
  int reg_frame_pointer;
  // sp after the return minus sp at entry: 8 on x86-64 (ret pops), 0 on arm64.
  int return_pops;
  // Register names in ArchRegs order, for diagnostics and the TS table.
  std::vector<std::string> reg_names;
  // si_code of the SIGTRAP a breakpoint raises (x86-64: SI_KERNEL; arm64: TRAP_BRKPT).
  int trap_si_code;
  // System call numbers the tracer injects.
  long nr_mmap, nr_munmap;
  // Alignment and size of one out-of-line slot.
  size_t slot_size;
  // Farthest a slot may be from the code it serves (a relative branch's reach).
  uint64_t slot_reach;
};

extern const ArchTable kArch;

// The register file, as an array of 64-bit words (TS sees the same words).
struct ArchRegs {
  uint64_t words[64];
  size_t count;
};

bool arch_get_regs(int tid, ArchRegs* regs);
bool arch_set_regs(int tid, const ArchRegs& regs);
// The thread pointer (fs base / tpidr_el0) of a stopped thread: how fast
// mode's recorder finds the thread's block (native/fast/recorder.h).
bool arch_thread_pointer(int tid, uint64_t* out);
// The floating-point return register (xmm0 / d0) as raw 64 bits.
bool arch_get_fp_retval(int tid, uint64_t* out);
bool arch_set_fp_retval(int tid, uint64_t value);
// The floating-point argument registers xmm0-7 / v0-7, 16 bytes each, in order
// (128 bytes): what a function's float and double arguments arrived in.
bool arch_get_fp_args(int tid, uint8_t out[128]);
// The registers as DWARF numbers them, for the CFI unwinder (native/dwarf):
// out[i] is DWARF register i, for i < *count (x86-64: rax, rdx, rcx, rbx, rsi,
// rdi, rbp, rsp, r8-r15; arm64: x0-x30, sp). The pc is regs' pc.
void arch_dwarf_regs(const ArchRegs& regs, uint64_t out[33], unsigned* count);
// Mark the registers so that resuming does not restart an interrupted syscall
// (x86-64: orig_rax = -1).
void arch_cancel_syscall_restart(ArchRegs* regs);
// Set up "syscall nr(args...)" to run in the stub written at `stub` (the
// backend picks the instruction it starts at); read its result afterwards.
void arch_prepare_syscall(ArchRegs* regs, RemotePtr stub, long nr, const uint64_t args[6]);
uint64_t arch_syscall_result(const ArchRegs& regs);
// "syscall; trap" (arm64 puts a nop first), the trap (breakpoint_len bytes) last: its reported pc is
// stub + size - breakpoint_len + trap_pc_adjust.
std::vector<uint8_t> arch_syscall_stub();

// The backend's plan: the generic fields of BasicStepPlan plus its own typed
// `emulation` record, which generic code carries but never reads.
using StepPlan = arch_impl::Plan;

// Decode the instruction at `addr` (its original bytes in `code`) and decide.
StepPlan arch_plan_step_over(RemotePtr addr, const uint8_t* code, size_t len);
// Fill plan->slot_code for a slot at `slot`; false (with plan->reason) when the
// slot is out of reach of the instruction's relative operands.
bool arch_build_slot(StepPlan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot);

// Carry out the plan on regs of a thread stopped on the breakpoint at addr
// (regs' pc already rewound to addr). May write the tracee's stack through
// `write_u64`. Returns false with *err set when memory access fails.
struct MemoryAccess {
  virtual bool write_u64(RemotePtr addr, uint64_t v) = 0;
  virtual bool read_u64(RemotePtr addr, uint64_t* v) = 0;
  virtual ~MemoryAccess() = default;
};
bool arch_step_over(const StepPlan& plan, RemotePtr addr, RemotePtr slot, ArchRegs* regs,
                    MemoryAccess* mem, std::string* err);

// The return trampoline's code: a trap the tracer recognizes by address
// (breakpoint_len bytes), then whatever holds a thread let go from it without
// its SIGTRAP at trap + trap_pc_adjust (x86-64: a jump to itself; nothing on
// arm64, where that pc is the trap itself).
std::vector<uint8_t> arch_trampoline_code();

}  // namespace rethook
