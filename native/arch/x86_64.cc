// x86-64 backend of the contract in arch.h.
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstring>

#include "arch.h"
#include "x86_64_decode.h"

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
    "x86_64",
    {0xCC},  // int3
    1,
    1,  // the trap reports rip = breakpoint + 1
    RIP, RSP, RAX, -1,
    {RDI, RSI, RDX, RCX, R8, R9},
    6,
    -1,  // return address at [rsp]
    RBP,
    8,   // ret pops it
    {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
     "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
     "gs"},
    0x80,  // SI_KERNEL
    9, 11,  // mmap, munmap
    32,           // slot: up to 15 bytes of instruction + a 5-byte jmp back
    0x7fff0000ULL,  // rel32 reach, with a margin
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

bool arch_set_fp_retval(int tid, uint64_t value) {
  user_fpregs_struct fp;
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) != 0) return false;
  memcpy(&fp.xmm_space[0], &value, 8);
  return ptrace(PTRACE_SETFPREGS, tid, nullptr, &fp) == 0;
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

std::vector<uint8_t> arch_trampoline_code() { return {0xCC}; }

// Emulation opcodes (StepPlan::op).
enum : int { OP_ADVANCE = 1, OP_PUSH, OP_MOV_RSP_RBP, OP_JMP, OP_CALL, OP_JCC, OP_RET };

static bool condition_holds(int cc, uint64_t fl) {
  bool cf = fl & 1, pf = fl & 4, zf = fl & 0x40, sf = fl & 0x80, of = fl & 0x800;
  bool r;
  switch (cc >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf || (sf != of); break;
  }
  return (cc & 1) ? !r : r;
}

StepPlan arch_plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  StepPlan plan;
  X86Insn insn;
  std::string why;
  if (!x86_decode(code, len, &insn, &why)) {
    plan.reason = why;
    return plan;
  }
  plan.insn_len = insn.length;
  const uint8_t* op = code + insn.opcode_offset;
  uint64_t next = addr.as_int() + insn.length;
  plan.kind = StepKind::Emulate;
  // endbr64 / multi-byte nop / nop
  if ((insn.map == 1 && op[0] == 0x1E && insn.modrm == 0xFA && code[0] == 0xF3) ||
      (insn.map == 1 && op[0] == 0x1F) || (insn.map == 0 && op[0] == 0x90 && !insn.rex_b)) {
    plan.op = OP_ADVANCE;
    return plan;
  }
  if (insn.map == 0 && op[0] >= 0x50 && op[0] <= 0x57 && !insn.opsize16) {
    plan.op = OP_PUSH;
    plan.imm = kEncodedReg[(op[0] - 0x50) + (insn.rex_b ? 8 : 0)];
    return plan;
  }
  if (insn.map == 0 && insn.rex_w && insn.has_modrm && insn.modrm == 0xE5 && op[0] == 0x89) {
    plan.op = OP_MOV_RSP_RBP;  // mov %rsp,%rbp
    return plan;
  }
  if (insn.map == 0 && insn.rex_w && insn.has_modrm && insn.modrm == 0xEC && op[0] == 0x8B) {
    plan.op = OP_MOV_RSP_RBP;  // mov %rsp,%rbp (other encoding)
    return plan;
  }
  if (insn.map == 0 && (op[0] == 0xE9 || op[0] == 0xEB)) {
    plan.op = OP_JMP;
    plan.imm = int64_t(next + insn.rel);
    return plan;
  }
  if (insn.map == 0 && op[0] == 0xE8) {
    plan.op = OP_CALL;
    plan.imm = int64_t(next + insn.rel);
    return plan;
  }
  if ((insn.map == 0 && op[0] >= 0x70 && op[0] <= 0x7F) ||
      (insn.map == 1 && op[0] >= 0x80 && op[0] <= 0x8F)) {
    plan.op = OP_JCC;
    plan.imm = int64_t(next + insn.rel);
    plan.imm2 = op[0] & 0xF;
    return plan;
  }
  if (insn.map == 0 && op[0] == 0xC3) {
    plan.op = OP_RET;
    return plan;
  }
  if (insn.has_rel) {  // loop, jrcxz, and other relative branches
    plan.kind = StepKind::Refused;
    plan.reason = "relative branch that is neither emulated nor relocatable";
    return plan;
  }
  plan.kind = StepKind::OutOfLine;
  plan.needs_slot = true;
  return plan;
}

bool arch_build_slot(StepPlan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
  X86Insn insn;
  std::string why;
  if (!x86_decode(code, plan->insn_len, &insn, &why)) {
    plan->reason = why;
    return false;
  }
  std::vector<uint8_t> out(code, code + insn.length);
  int64_t shift = int64_t(addr.as_int()) - int64_t(slot.as_int());
  if (insn.rip_relative) {
    int32_t disp;
    memcpy(&disp, code + insn.disp_offset, 4);
    int64_t nd = int64_t(disp) + shift;
    if (nd != int32_t(nd)) {
      plan->reason = "RIP-relative operand out of reach of the slot";
      return false;
    }
    int32_t nd32 = int32_t(nd);
    memcpy(&out[insn.disp_offset], &nd32, 4);
  }
  // jmp rel32 back to the instruction after the original one.
  int64_t back = int64_t(addr.as_int() + insn.length) - int64_t(slot.as_int() + insn.length + 5);
  if (back != int32_t(back)) {
    plan->reason = "slot out of reach of the code";
    return false;
  }
  int32_t back32 = int32_t(back);
  out.push_back(0xE9);
  out.resize(out.size() + 4);
  memcpy(&out[out.size() - 4], &back32, 4);
  plan->slot_code = out;
  return true;
}

bool arch_step_over(const StepPlan& plan, RemotePtr addr, RemotePtr slot, ArchRegs* regs,
                    MemoryAccess* mem, std::string* err) {
  uint64_t* w = regs->words;
  uint64_t next = addr.as_int() + plan.insn_len;
  if (plan.kind == StepKind::OutOfLine) {
    w[RIP] = slot.as_int();
    return true;
  }
  switch (plan.op) {
    case OP_ADVANCE:
      w[RIP] = next;
      return true;
    case OP_PUSH: {
      uint64_t v = w[plan.imm];
      if (!mem->write_u64(RemotePtr(w[RSP] - 8), v)) break;
      w[RSP] -= 8;
      w[RIP] = next;
      return true;
    }
    case OP_MOV_RSP_RBP:
      w[RBP] = w[RSP];
      w[RIP] = next;
      return true;
    case OP_JMP:
      w[RIP] = uint64_t(plan.imm);
      return true;
    case OP_CALL:
      if (!mem->write_u64(RemotePtr(w[RSP] - 8), next)) break;
      w[RSP] -= 8;
      w[RIP] = uint64_t(plan.imm);
      return true;
    case OP_JCC:
      w[RIP] = condition_holds(int(plan.imm2), w[EFLAGS]) ? uint64_t(plan.imm) : next;
      return true;
    case OP_RET: {
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
