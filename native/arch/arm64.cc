// arm64 (AArch64) backend of the contract in arch.h.
//
// A breakpoint is `brk #0`: the trap reports pc at the brk itself. At a
// function's first instruction the return address is in x30, so the hijack is
// a register write (before any `paciasp` runs: the function then signs the
// trampoline address itself). Which displaced instructions are emulated, run
// out of line or refused is decided in arm64_decode.cc (pure, tested as byte
// tables); this file reads and writes registers and carries the plans out.
#include <elf.h>
#include <sys/user.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <cstring>

#include "arch.h"

#ifndef NT_ARM_SYSTEM_CALL
#define NT_ARM_SYSTEM_CALL 0x404
#endif

namespace rethook {

// Word indices into ArchRegs: struct user_pt_regs (x0..x30, sp, pc, pstate),
// then the syscall number (NT_ARM_SYSTEM_CALL) and, unexposed, that number as
// it was read (written back only when it changed).
enum : int {
  X0 = 0, X8 = 8, X16 = 16, X29 = 29, X30 = 30, SP = 31, PC = 32, PSTATE = 33, SYSCALLNO = 34,
  NREGS = 35, SYSCALLNO_READ = 35
};
static const size_t kPtRegsWords = 34;
static_assert(sizeof(struct user_regs_struct) == kPtRegsWords * 8, "x0..x30, sp, pc, pstate");

// PSTATE.BTYPE: a pending branch-target check. A brk stop saves the BTYPE of
// the branch that reached the function; resuming anywhere but at a landing
// pad with it set would fault, and moving pc ourselves is no branch: clear it.
static const uint64_t kPsrBtypeMask = 3ULL << 10;

const ArchTable kArch = {
    .name = "arm64",
    .breakpoint = {0x00, 0x00, 0x20, 0xD4},  // brk #0
    .breakpoint_len = 4,
    .trap_pc_adjust = 0,  // the trap reports pc at the brk itself
    .reg_pc = PC,
    .reg_sp = SP,
    .reg_retval = X0,
    .reg_fp_first = -1,
    .reg_args = {0, 1, 2, 3, 4, 5, 6, 7},
    .nargs = 8,
    .reg_return_address = X30,  // return address in the link register at entry
    .reg_frame_pointer = X29,   // frame record: [x29] = caller's x29, [x29 + 8] = x30
    .return_pops = 0,           // ret pops nothing
    .reg_names = {"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",
                  "x9",  "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                  "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",
                  "x27", "x28", "x29", "x30", "sp",  "pc",  "pstate", "syscallno"},
    .trap_si_code = 1,  // TRAP_BRKPT
    .nr_mmap = 222,
    .nr_munmap = 215,
    .slot_size = 16,              // up to 3 instructions + a `b` back
    .slot_reach = 0x7FF0000ULL,  // `b` reaches +-128 MiB; a region's size as margin
};

bool arch_get_regs(int tid, ArchRegs* regs) {
  struct iovec iov = {regs->words, kPtRegsWords * 8};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_PRSTATUS, &iov) != 0) return false;
  int nr = -1;
  struct iovec sc = {&nr, sizeof nr};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_ARM_SYSTEM_CALL, &sc) != 0) nr = -1;
  regs->words[SYSCALLNO] = uint64_t(int64_t(nr));
  regs->words[SYSCALLNO_READ] = regs->words[SYSCALLNO];
  regs->count = NREGS;
  return true;
}

bool arch_thread_pointer(int tid, uint64_t* out) {
  uint64_t tls[2] = {0, 0};  // tpidr_el0 (and tpidr2_el0 on newer kernels)
  struct iovec iov = {tls, sizeof tls};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_ARM_TLS, &iov) != 0) return false;
  *out = tls[0];
  return true;
}

bool arch_set_regs(int tid, const ArchRegs& regs) {
  uint64_t w[kPtRegsWords];
  memcpy(w, regs.words, sizeof w);
  w[PSTATE] &= ~kPsrBtypeMask;
  struct iovec iov = {w, sizeof w};
  if (ptrace(PTRACE_SETREGSET, tid, (void*)NT_PRSTATUS, &iov) != 0) return false;
  if (regs.words[SYSCALLNO] != regs.words[SYSCALLNO_READ]) {
    int nr = int(int64_t(regs.words[SYSCALLNO]));
    struct iovec sc = {&nr, sizeof nr};
    if (ptrace(PTRACE_SETREGSET, tid, (void*)NT_ARM_SYSTEM_CALL, &sc) != 0) return false;
  }
  return true;
}

bool arch_get_fp_retval(int tid, uint64_t* out) {
  struct user_fpsimd_struct fp;
  struct iovec iov = {&fp, sizeof fp};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_PRFPREG, &iov) != 0) return false;
  memcpy(out, &fp.vregs[0], 8);  // d0: the low half of v0
  return true;
}

bool arch_get_fp_args(int tid, uint8_t out[128]) {
  struct user_fpsimd_struct fp;
  struct iovec iov = {&fp, sizeof fp};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_PRFPREG, &iov) != 0) return false;
  memcpy(out, &fp.vregs[0], 128);  // v0..v7, 16 bytes each
  return true;
}

void arch_dwarf_regs(const ArchRegs& regs, uint64_t out[33], unsigned* count) {
  // DWARF arm64 numbering: x0..x30 are 0..30, sp is 31.
  for (int i = 0; i <= SP; i++) out[i] = regs.words[i];
  *count = 32;
}

bool arch_set_fp_retval(int tid, uint64_t value) {
  struct user_fpsimd_struct fp;
  struct iovec iov = {&fp, sizeof fp};
  if (ptrace(PTRACE_GETREGSET, tid, (void*)NT_PRFPREG, &iov) != 0) return false;
  memcpy(&fp.vregs[0], &value, 8);
  return ptrace(PTRACE_SETREGSET, tid, (void*)NT_PRFPREG, &iov) == 0;
}

// The kernel restarts an interrupted syscall from its syscall number (the
// pt_regs syscallno, NT_ARM_SYSTEM_CALL): -1 means none.
void arch_cancel_syscall_restart(ArchRegs* regs) { regs->words[SYSCALLNO] = ~0ULL; }

// The stub is "nop; svc #0; brk #0" and execution starts at the svc, never at
// the stub's first byte. Why: a thread stopped in a syscall that returned
// -ERESTART_RESTARTBLOCK (nanosleep, clock_nanosleep, ...) has its pc rewound
// to that svc before the stop, and once resumed the kernel's do_signal() sets
// x8 = __NR_restart_syscall whenever pc still equals that address (a debugger
// that moved pc elsewhere is obeyed). The first stub is written at the
// thread's pc, so starting there would run restart_syscall instead of ours.
// Starting one instruction in is never the restart address.
static const uint64_t kSyscallEntry = 4;

void arch_prepare_syscall(ArchRegs* regs, RemotePtr stub, long nr, const uint64_t a[6]) {
  regs->words[X8] = uint64_t(nr);
  for (int i = 0; i < 6; i++) regs->words[X0 + i] = a[i];
  regs->words[PC] = stub.as_int() + kSyscallEntry;
  arch_cancel_syscall_restart(regs);
}

uint64_t arch_syscall_result(const ArchRegs& regs) { return regs.words[X0]; }

std::vector<uint8_t> arch_syscall_stub() {
  std::vector<uint8_t> out;
  arm64::emit(&out, arm64::kNop);  // never executed: see kSyscallEntry
  arm64::emit(&out, arm64::kSvc0);
  arm64::emit(&out, arm64::kBrk0);
  return out;
}

std::vector<uint8_t> arch_trampoline_code() {
  std::vector<uint8_t> out;
  arm64::emit(&out, arm64::kBrk0);
  return out;
}

// ---- planning: pure, in arm64_decode.cc ------------------------------------------------

StepPlan arch_plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  return arm64::plan_step_over(addr, code, len);
}

bool arch_build_slot(StepPlan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
  return arm64::build_slot(plan, addr, code, slot);
}

// ---- carrying a plan out --------------------------------------------------------------

// Register r as a source where 31 is the zero register.
static uint64_t xzr(const uint64_t* w, int r) { return r == 31 ? 0 : w[r]; }

bool arch_step_over(const StepPlan& plan, RemotePtr addr, RemotePtr slot, ArchRegs* regs,
                    MemoryAccess* mem, std::string* err) {
  uint64_t* w = regs->words;
  const uint64_t next = addr.as_int() + 4;
  w[PSTATE] &= ~kPsrBtypeMask;
  if (plan.kind == StepKind::OutOfLine) {
    w[PC] = slot.as_int();
    return true;
  }
  const arm64::Emulation& e = plan.emulation;
  switch (e.op) {
    case arm64::Op::Advance:
      w[PC] = next;
      return true;
    case arm64::Op::Stp: {
      uint64_t base = w[e.rn];  // 31: sp (words[31] is sp)
      uint64_t at = e.index == arm64::Index::PostIndex ? base : base + uint64_t(e.imm);
      if (!mem->write_u64(RemotePtr(at), xzr(w, e.rt)) || !mem->write_u64(RemotePtr(at + 8), xzr(w, e.rt2)))
        break;
      if (e.index != arm64::Index::Offset) w[e.rn] = base + uint64_t(e.imm);
      w[PC] = next;
      return true;
    }
    case arm64::Op::AddSubImm: {
      uint64_t v = w[e.rn] + uint64_t(e.imm);  // 31: sp, for both operands
      if (!e.sf) v = uint32_t(v);
      w[e.rd] = v;
      w[PC] = next;
      return true;
    }
    case arm64::Op::SetReg:
      if (e.rd != 31) w[e.rd] = e.target;
      w[PC] = next;
      return true;
    case arm64::Op::LdrLiteral: {
      uint64_t lit = e.target, v;
      if (e.literal == arm64::Literal::X) {
        if (!mem->read_u64(RemotePtr(lit), &v)) break;
      } else {
        // 4 bytes: the literal may end its mapping, so read the word before when needed.
        uint64_t pair;
        if (mem->read_u64(RemotePtr(lit), &pair)) v = uint32_t(pair);
        else if (mem->read_u64(RemotePtr(lit - 4), &pair)) v = uint32_t(pair >> 32);
        else break;
        if (e.literal == arm64::Literal::SW) v = uint64_t(int64_t(int32_t(uint32_t(v))));
      }
      if (e.rt != 31) w[e.rt] = v;
      w[PC] = next;
      return true;
    }
    case arm64::Op::B:
      w[PC] = e.target;
      return true;
    case arm64::Op::Bl:
      w[X30] = next;
      w[PC] = e.target;
      return true;
    case arm64::Op::BCond:
      w[PC] = arm64::condition_holds(uint32_t(e.cond), w[PSTATE]) ? e.target : next;
      return true;
    case arm64::Op::Cbz: {
      uint64_t v = xzr(w, e.rt);
      if (!e.sf) v = uint32_t(v);
      bool zero = v == 0;
      bool taken = e.nonzero ? !zero : zero;
      w[PC] = taken ? e.target : next;
      return true;
    }
    case arm64::Op::Tbz: {
      uint64_t v = xzr(w, e.rt);
      bool set = (v >> e.bit) & 1;
      bool taken = e.nonzero ? set : !set;
      w[PC] = taken ? e.target : next;
      return true;
    }
  }
  *err = "cannot access the tracee's memory";
  return false;
}

}  // namespace rethook
