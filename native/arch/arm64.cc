// arm64 (AArch64) backend of the contract in arch.h.
//
// A breakpoint is `brk #0`: the trap reports pc at the brk itself. At a
// function's first instruction the return address is in x30, so the hijack is
// a register write (before any `paciasp` runs: the function then signs the
// trampoline address itself). The displaced instruction is emulated in the
// register file when it is PC-relative (it could not run anywhere else) or a
// common prologue instruction; any other instruction runs out of line from a
// slot that branches back with an immediate `b` (a `br` would fault in
// BTI-guarded pages). Instructions that cannot be handled are refused.
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
    "arm64",
    {0x00, 0x00, 0x20, 0xD4},  // brk #0
    4,
    0,  // the trap reports pc at the brk itself
    PC, SP, X0, -1,
    {0, 1, 2, 3, 4, 5, 6, 7},
    8,
    X30,  // return address in the link register at entry
    X29,  // frame record: [x29] = caller's x29, [x29 + 8] = x30
    0,    // ret pops nothing
    {"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",  "x9",  "x10", "x11",
     "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23",
     "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp",  "pc",  "pstate", "syscallno"},
    1,         // TRAP_BRKPT
    222, 215,  // mmap, munmap
    16,        // slot: up to 3 instructions + a `b` back
    0x7FF0000ULL,  // `b` reaches +-128 MiB; a region's size as margin
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

void arch_prepare_syscall(ArchRegs* regs, RemotePtr pc, long nr, const uint64_t a[6]) {
  regs->words[X8] = uint64_t(nr);
  for (int i = 0; i < 6; i++) regs->words[X0 + i] = a[i];
  regs->words[PC] = pc.as_int();
  arch_cancel_syscall_restart(regs);
}

uint64_t arch_syscall_result(const ArchRegs& regs) { return regs.words[X0]; }

static void put32(std::vector<uint8_t>* out, uint32_t insn) {
  for (int i = 0; i < 4; i++) out->push_back(uint8_t(insn >> (8 * i)));
}

static const uint32_t kBrk0 = 0xD4200000, kSvc0 = 0xD4000001;

std::vector<uint8_t> arch_syscall_stub() {
  std::vector<uint8_t> out;
  put32(&out, kSvc0);
  put32(&out, kBrk0);
  return out;
}

std::vector<uint8_t> arch_trampoline_code() {
  std::vector<uint8_t> out;
  put32(&out, kBrk0);
  return out;
}

// ---- decoding ---------------------------------------------------------------------

static int64_t sext(uint64_t v, int bits) {
  uint64_t m = 1ULL << (bits - 1);
  v &= (1ULL << bits) - 1;
  return int64_t((v ^ m) - m);
}

static uint32_t field(uint32_t insn, int lo, int width) { return (insn >> lo) & ((1u << width) - 1); }

// Emulation opcodes (StepPlan::op). Operands are packed in imm / imm2.
enum : int {
  OP_ADVANCE = 1,  // no effect (nop, bti, prfm literal)
  OP_STP,          // stp Xt, Xt2, [Xn|sp, #off] (pre-index, post-index or offset)
  OP_ADDSUB_IMM,   // add/sub Rd|sp, Rn|sp, #imm (covers mov x29, sp)
  OP_SET_REG,      // adr/adrp: Rd = imm
  OP_LDR_LITERAL,  // ldr Wt/Xt, ldrsw Xt from a literal at imm
  OP_B,            // b imm
  OP_BL,           // bl imm
  OP_BCOND,        // b.cond imm
  OP_CBZ,          // cbz/cbnz imm
  OP_TBZ,          // tbz/tbnz imm
};

// imm2 packing for the ops that need several operands.
static int64_t pack(uint32_t a, uint32_t b = 0, uint32_t c = 0, uint32_t d = 0) {
  return int64_t(uint64_t(a & 0xFF) | uint64_t(b & 0xFF) << 8 | uint64_t(c & 0xFF) << 16 |
                 uint64_t(d & 0xFF) << 24);
}
static uint32_t unpack(int64_t v, int i) { return uint32_t(uint64_t(v) >> (8 * i)) & 0xFF; }

// Hints that do nothing a stopped thread could notice: nop, yield, and the
// BTI landing pads (their check is moot: we clear BTYPE when moving pc).
static bool is_inert_hint(uint32_t insn) {
  if ((insn & 0xFFFFF01F) != 0xD503201F) return false;
  uint32_t op = field(insn, 5, 7);
  return op == 0 || op == 1 || op == 32 || op == 34 || op == 36 || op == 38;
}

// ldr (literal) to a SIMD&FP register: runs from the slot through x16.
static bool is_fp_literal(uint32_t insn) {
  return (insn & 0x3B000000) == 0x18000000 && field(insn, 26, 1) && field(insn, 30, 2) != 3;
}

StepPlan arch_plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  StepPlan plan;
  if (addr.as_int() & 3) {
    plan.reason = "address is not 4-byte aligned (not an arm64 instruction)";
    return plan;
  }
  if (len < 4) {
    plan.reason = "instruction is not readable";
    return plan;
  }
  uint32_t insn;
  memcpy(&insn, code, 4);
  const uint64_t pc = addr.as_int();
  plan.insn_len = 4;
  plan.kind = StepKind::Emulate;

  if (is_inert_hint(insn)) {
    plan.op = OP_ADVANCE;
    return plan;
  }
  // stp Xt, Xt2, [Xn|sp, #imm] with writeback (pre/post) or without.
  uint32_t stp = insn & 0xFFC00000;
  if (stp == 0xA9800000 || stp == 0xA8800000 || stp == 0xA9000000) {
    plan.op = OP_STP;
    plan.imm = sext(field(insn, 15, 7), 7) * 8;
    int mode = stp == 0xA9800000 ? 1 : stp == 0xA8800000 ? 2 : 0;  // pre, post, offset
    plan.imm2 = pack(field(insn, 0, 5), field(insn, 10, 5), field(insn, 5, 5), mode);
    return plan;
  }
  // add/sub (immediate), not setting flags: sf op 0 100010 sh imm12 Rn Rd.
  if ((insn & 0x3F800000) == 0x11000000) {
    plan.op = OP_ADDSUB_IMM;
    int64_t imm = int64_t(field(insn, 10, 12)) << (field(insn, 22, 1) ? 12 : 0);
    plan.imm = field(insn, 30, 1) ? -imm : imm;
    plan.imm2 = pack(field(insn, 0, 5), field(insn, 5, 5), field(insn, 31, 1));
    return plan;
  }
  // adr / adrp
  if ((insn & 0x1F000000) == 0x10000000) {
    int64_t imm = sext(uint64_t(field(insn, 5, 19)) << 2 | field(insn, 29, 2), 21);
    plan.op = OP_SET_REG;
    plan.imm = field(insn, 31, 1) ? int64_t((pc & ~0xFFFULL) + uint64_t(imm * 4096))
                                  : int64_t(pc + uint64_t(imm));
    plan.imm2 = field(insn, 0, 5);
    return plan;
  }
  // ldr (literal)
  if ((insn & 0x3B000000) == 0x18000000) {
    uint32_t opc = field(insn, 30, 2);
    uint64_t lit = pc + uint64_t(sext(field(insn, 5, 19), 19) * 4);
    if (opc == 3) {  // prfm (literal): a hint
      plan.op = OP_ADVANCE;
      return plan;
    }
    if (field(insn, 26, 1)) {  // to s/d/q: no FP registers here, run from the slot
      plan.kind = StepKind::OutOfLine;
      plan.needs_slot = true;
      return plan;
    }
    plan.op = OP_LDR_LITERAL;
    plan.imm = int64_t(lit);
    plan.imm2 = pack(field(insn, 0, 5), opc);  // 0: ldr Wt, 1: ldr Xt, 2: ldrsw Xt
    return plan;
  }
  // b / bl
  if ((insn & 0x7C000000) == 0x14000000) {
    plan.op = field(insn, 31, 1) ? OP_BL : OP_B;
    plan.imm = int64_t(pc + uint64_t(sext(field(insn, 0, 26), 26) * 4));
    return plan;
  }
  // b.cond / bc.cond
  if ((insn & 0xFF000000) == 0x54000000) {
    plan.op = OP_BCOND;
    plan.imm = int64_t(pc + uint64_t(sext(field(insn, 5, 19), 19) * 4));
    plan.imm2 = field(insn, 0, 4);
    return plan;
  }
  // cbz / cbnz
  if ((insn & 0x7E000000) == 0x34000000) {
    plan.op = OP_CBZ;
    plan.imm = int64_t(pc + uint64_t(sext(field(insn, 5, 19), 19) * 4));
    plan.imm2 = pack(field(insn, 0, 5), field(insn, 31, 1), field(insn, 24, 1));
    return plan;
  }
  // tbz / tbnz
  if ((insn & 0x7E000000) == 0x36000000) {
    plan.op = OP_TBZ;
    plan.imm = int64_t(pc + uint64_t(sext(field(insn, 5, 14), 14) * 4));
    plan.imm2 = pack(field(insn, 0, 5), field(insn, 31, 1) << 5 | field(insn, 19, 5), field(insn, 24, 1));
    return plan;
  }

  // Not emulated: run out of line, unless it cannot run anywhere but here.
  plan.kind = StepKind::Refused;
  if ((insn & 0x3F800000) == 0x08000000) {
    plan.reason = "exclusive load/store (a trap between it and its pair breaks the exclusive monitor)";
    return plan;
  }
  if ((insn & 0xFFE0001F) == kBrk0 || (insn & 0xFFE0001F) == 0xD4400000) {
    plan.reason = "the instruction is itself a breakpoint (brk/hlt)";
    return plan;
  }
  if ((insn & 0xFFFF0000) == 0x00000000) {
    plan.reason = "permanently undefined instruction (udf)";
    return plan;
  }
  plan.kind = StepKind::OutOfLine;
  plan.needs_slot = true;
  return plan;
}

// `b` from `from` to `to`, or false when out of reach.
static bool encode_b(uint64_t from, uint64_t to, uint32_t* insn) {
  int64_t off = int64_t(to - from);
  if (off < -(int64_t(1) << 27) || off >= (int64_t(1) << 27)) return false;
  *insn = 0x14000000 | (uint32_t(off >> 2) & 0x03FFFFFF);
  return true;
}

bool arch_build_slot(StepPlan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
  uint32_t insn;
  memcpy(&insn, code, 4);
  std::vector<uint8_t> out;
  if (is_fp_literal(insn)) {
    // adrp x16, lit; add x16, x16, #:lo12:lit; ldr St/Dt/Qt, [x16]; b back.
    // x16 (IP0) may be clobbered at any call boundary (AAPCS64).
    uint64_t lit = addr.as_int() + uint64_t(sext(field(insn, 5, 19), 19) * 4);
    int64_t pages = int64_t(lit >> 12) - int64_t(slot.as_int() >> 12);
    if (pages < -(int64_t(1) << 20) || pages >= (int64_t(1) << 20)) {
      plan->reason = "literal out of reach of the slot";
      return false;
    }
    uint32_t p = uint32_t(pages) & 0x1FFFFF;
    put32(&out, 0x90000000 | (p & 3) << 29 | (p >> 2) << 5 | 16);
    put32(&out, 0x91000000 | uint32_t(lit & 0xFFF) << 10 | 16 << 5 | 16);
    static const uint32_t kLdrVt[3] = {0xBD400000, 0xFD400000, 0x3DC00000};  // s, d, q
    put32(&out, kLdrVt[field(insn, 30, 2)] | 16 << 5 | field(insn, 0, 5));
  } else {
    out.assign(code, code + 4);
  }
  uint32_t back;
  if (!encode_b(slot.as_int() + out.size(), addr.as_int() + 4, &back)) {
    plan->reason = "slot out of reach of the code";
    return false;
  }
  put32(&out, back);
  plan->slot_code = out;
  return true;
}

// ---- carrying a plan out --------------------------------------------------------------

static bool condition_holds(uint32_t cond, uint64_t pstate) {
  bool n = pstate >> 31 & 1, z = pstate >> 30 & 1, c = pstate >> 29 & 1, v = pstate >> 28 & 1;
  bool r;
  switch (cond >> 1) {
    case 0: r = z; break;
    case 1: r = c; break;
    case 2: r = n; break;
    case 3: r = v; break;
    case 4: r = c && !z; break;
    case 5: r = n == v; break;
    case 6: r = !z && n == v; break;
    default: return true;  // al, nv
  }
  return (cond & 1) ? !r : r;
}

// Register r as a source where 31 is the zero register.
static uint64_t xzr(const uint64_t* w, uint32_t r) { return r == 31 ? 0 : w[r]; }

bool arch_step_over(const StepPlan& plan, RemotePtr addr, RemotePtr slot, ArchRegs* regs,
                    MemoryAccess* mem, std::string* err) {
  uint64_t* w = regs->words;
  const uint64_t next = addr.as_int() + 4;
  w[PSTATE] &= ~kPsrBtypeMask;
  if (plan.kind == StepKind::OutOfLine) {
    w[PC] = slot.as_int();
    return true;
  }
  switch (plan.op) {
    case OP_ADVANCE:
      w[PC] = next;
      return true;
    case OP_STP: {
      uint32_t rt = unpack(plan.imm2, 0), rt2 = unpack(plan.imm2, 1), rn = unpack(plan.imm2, 2);
      int mode = int(unpack(plan.imm2, 3));
      uint64_t base = w[rn];  // 31: sp (words[31] is sp)
      uint64_t at = mode == 2 ? base : base + uint64_t(plan.imm);
      if (!mem->write_u64(RemotePtr(at), xzr(w, rt)) || !mem->write_u64(RemotePtr(at + 8), xzr(w, rt2)))
        break;
      if (mode != 0) w[rn] = base + uint64_t(plan.imm);
      w[PC] = next;
      return true;
    }
    case OP_ADDSUB_IMM: {
      uint32_t rd = unpack(plan.imm2, 0), rn = unpack(plan.imm2, 1);
      uint64_t v = w[rn] + uint64_t(plan.imm);  // 31: sp, for both operands
      if (!unpack(plan.imm2, 2)) v = uint32_t(v);
      w[rd] = v;
      w[PC] = next;
      return true;
    }
    case OP_SET_REG: {
      uint32_t rd = uint32_t(plan.imm2);
      if (rd != 31) w[rd] = uint64_t(plan.imm);
      w[PC] = next;
      return true;
    }
    case OP_LDR_LITERAL: {
      uint32_t rt = unpack(plan.imm2, 0), opc = unpack(plan.imm2, 1);
      uint64_t lit = uint64_t(plan.imm), v;
      if (opc == 1) {
        if (!mem->read_u64(RemotePtr(lit), &v)) break;
      } else {
        // 4 bytes: the literal may end its mapping, so read the word before when needed.
        uint64_t pair;
        if (mem->read_u64(RemotePtr(lit), &pair)) v = uint32_t(pair);
        else if (mem->read_u64(RemotePtr(lit - 4), &pair)) v = uint32_t(pair >> 32);
        else break;
        if (opc == 2) v = uint64_t(int64_t(int32_t(uint32_t(v))));
      }
      if (rt != 31) w[rt] = v;
      w[PC] = next;
      return true;
    }
    case OP_B:
      w[PC] = uint64_t(plan.imm);
      return true;
    case OP_BL:
      w[X30] = next;
      w[PC] = uint64_t(plan.imm);
      return true;
    case OP_BCOND:
      w[PC] = condition_holds(uint32_t(plan.imm2), w[PSTATE]) ? uint64_t(plan.imm) : next;
      return true;
    case OP_CBZ: {
      uint64_t v = xzr(w, unpack(plan.imm2, 0));
      if (!unpack(plan.imm2, 1)) v = uint32_t(v);
      bool zero = v == 0;
      bool taken = unpack(plan.imm2, 2) ? !zero : zero;
      w[PC] = taken ? uint64_t(plan.imm) : next;
      return true;
    }
    case OP_TBZ: {
      uint64_t v = xzr(w, unpack(plan.imm2, 0));
      bool set = (v >> unpack(plan.imm2, 1)) & 1;
      bool taken = unpack(plan.imm2, 2) ? set : !set;
      w[PC] = taken ? uint64_t(plan.imm) : next;
      return true;
    }
  }
  *err = "cannot access the tracee's memory";
  return false;
}

}  // namespace rethook
