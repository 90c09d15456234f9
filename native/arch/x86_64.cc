// x86-64 backend of the contract in arch.h.
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstring>

#include "arch.h"

namespace rethook {

// Word indices into struct user_regs_struct.
enum : int {
  R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI,
  ORIG_RAX, RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS, NREGS
};

// x86 register number (as encoded in instructions) -> word index.
static const int kEncodedReg[16] = {RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
                                    R8,  R9,  R10, R11, R12, R13, R14, R15};

const ArchTable kArch = {
    .name = "x86_64",
    .breakpoint = {0xCC},  // int3
    .breakpoint_len = 1,
    .trap_pc_adjust = 1,  // the trap reports rip = breakpoint + 1
    .reg_pc = RIP,
    .reg_sp = RSP,
    .reg_retval = RAX,
    .reg_fp_first = -1,
    .reg_args = {RDI, RSI, RDX, RCX, R8, R9},
    .nargs = 6,
    .reg_return_address = -1,  // return address at [rsp]
    .reg_frame_pointer = RBP,
    .return_pops = 8,  // ret pops it
    .reg_names = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
                  "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
                  "gs_base", "ds", "es", "fs", "gs"},
    .trap_si_code = 0x80,  // SI_KERNEL
    .nr_mmap = 9,
    .nr_munmap = 11,
    .slot_size = 32,              // up to 15 bytes of instruction + a 5-byte jmp back
    .slot_reach = 0x7fff0000ULL,  // rel32 reach, with a margin
};

bool arch_get_regs(int tid, ArchRegs* regs) {
  static_assert(sizeof(user_regs_struct) == NREGS * 8, "layout");
  regs->count = NREGS;
  return ptrace(PTRACE_GETREGS, tid, nullptr, regs->words) == 0;
}

bool arch_set_regs(int tid, const ArchRegs& regs) {
  return ptrace(PTRACE_SETREGS, tid, nullptr, regs.words) == 0;
}

bool arch_get_fp_retval(int tid, uint64_t* out) {
  user_fpregs_struct fp;
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) != 0) return false;
  memcpy(out, &fp.xmm_space[0], 8);
  return true;
}

bool arch_thread_pointer(int tid, uint64_t* out) {
  user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return false;
  *out = r.fs_base;
  return true;
}

bool arch_set_fp_retval(int tid, uint64_t value) {
  user_fpregs_struct fp;
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) != 0) return false;
  memcpy(&fp.xmm_space[0], &value, 8);
  return ptrace(PTRACE_SETFPREGS, tid, nullptr, &fp) == 0;
}

bool arch_get_fp_args(int tid, uint8_t out[128]) {
  user_fpregs_struct fp;
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) != 0) return false;
  memcpy(out, &fp.xmm_space[0], 128);  // xmm0..xmm7, 16 bytes each
  return true;
}

void arch_dwarf_regs(const ArchRegs& regs, uint64_t out[33], unsigned* count) {
  // DWARF x86-64 numbering: rax rdx rcx rbx rsi rdi rbp rsp r8..r15.
  static const int order[16] = {RAX, RDX, RCX, RBX, RSI, RDI, RBP, RSP, R8, R9, R10, R11, R12, R13, R14, R15};
  for (int i = 0; i < 16; i++) out[i] = regs.words[order[i]];
  *count = 16;
}

void arch_cancel_syscall_restart(ArchRegs* regs) { regs->words[ORIG_RAX] = ~0ULL; }

void arch_prepare_syscall(ArchRegs* regs, RemotePtr pc, long nr, const uint64_t a[6]) {
  static const int order[6] = {RDI, RSI, RDX, R10, R8, R9};
  regs->words[RAX] = uint64_t(nr);
  for (int i = 0; i < 6; i++) regs->words[order[i]] = a[i];
  regs->words[RIP] = pc.as_int();
  arch_cancel_syscall_restart(regs);
}

uint64_t arch_syscall_result(const ArchRegs& regs) { return regs.words[RAX]; }

std::vector<uint8_t> arch_syscall_stub() { return {0x0F, 0x05, 0xCC}; }

// int3, then `jmp .`: a thread its tracer let go from the trap as it died
// (without the SIGTRAP) would run on from the byte after it; it spins there
// instead, until the guardian takes it (and moves it to its real return
// address) rather than running whatever follows.
std::vector<uint8_t> arch_trampoline_code() { return {0xCC, 0xEB, 0xFE}; }

// Decoding and planning are pure (x86_64_decode.cc); this file only knows
// the register file.
StepPlan arch_plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  return x86::plan_step_over(addr, code, len);
}

bool arch_build_slot(StepPlan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
  return x86::build_slot(plan, addr, code, slot);
}

bool arch_step_over(const StepPlan& plan, RemotePtr addr, RemotePtr slot, ArchRegs* regs,
                    MemoryAccess* mem, std::string* err) {
  uint64_t* w = regs->words;
  uint64_t next = addr.as_int() + plan.insn_len;
  if (plan.kind == StepKind::OutOfLine) {
    w[RIP] = slot.as_int();
    return true;
  }
  const x86::Emulation& e = plan.emulation;
  switch (e.op) {
    case x86::Op::Advance:
      w[RIP] = next;
      return true;
    case x86::Op::Push: {
      uint64_t v = w[kEncodedReg[e.reg & 15]];
      if (!mem->write_u64(RemotePtr(w[RSP] - 8), v)) break;
      w[RSP] -= 8;
      w[RIP] = next;
      return true;
    }
    case x86::Op::MovRspRbp:
      w[RBP] = w[RSP];
      w[RIP] = next;
      return true;
    case x86::Op::Jmp:
      w[RIP] = e.target;
      return true;
    case x86::Op::Call:
      if (!mem->write_u64(RemotePtr(w[RSP] - 8), next)) break;
      w[RSP] -= 8;
      w[RIP] = e.target;
      return true;
    case x86::Op::Jcc:
      w[RIP] = x86::condition_holds(e.cond, w[EFLAGS]) ? e.target : next;
      return true;
    case x86::Op::Ret: {
      uint64_t ret;
      if (!mem->read_u64(RemotePtr(w[RSP]), &ret)) break;
      w[RSP] += 8;
      w[RIP] = ret;
      return true;
    }
  }
  *err = "cannot access the tracee's stack";
  return false;
}

}  // namespace rethook
