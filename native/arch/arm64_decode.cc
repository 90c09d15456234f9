// arm64 decoding and step-over planning (see arm64_decode.h).
#include "arm64_decode.h"

#include <cstring>

namespace rethook::arm64 {

namespace {

int64_t sext(uint64_t v, int bits) {
  uint64_t m = 1ULL << (bits - 1);
  v &= (1ULL << bits) - 1;
  return int64_t((v ^ m) - m);
}

uint32_t field(uint32_t insn, int lo, int width) { return (insn >> lo) & ((1u << width) - 1); }

// Hints that do nothing a stopped thread could notice: nop, yield, and the
// BTI landing pads (their check is moot: we clear BTYPE when moving pc).
bool is_inert_hint(uint32_t insn) {
  if ((insn & 0xFFFFF01F) != 0xD503201F) return false;
  uint32_t op = field(insn, 5, 7);
  return op == 0 || op == 1 || op == 32 || op == 34 || op == 36 || op == 38;
}

// ldr (literal) to a SIMD&FP register: runs from the slot through x16.
bool is_fp_literal(uint32_t insn) {
  return (insn & 0x3B000000) == 0x18000000 && field(insn, 26, 1) && field(insn, 30, 2) != 3;
}

// `b` from `from` to `to`, or false when out of reach.
bool encode_b(uint64_t from, uint64_t to, uint32_t* insn) {
  int64_t off = int64_t(to - from);
  if (off < -(int64_t(1) << 27) || off >= (int64_t(1) << 27)) return false;
  *insn = 0x14000000 | (uint32_t(off >> 2) & 0x03FFFFFF);
  return true;
}

}  // namespace

void emit(std::vector<uint8_t>* out, uint32_t insn) {
  for (int i = 0; i < 4; i++) out->push_back(uint8_t(insn >> (8 * i)));
}

Plan plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  Plan plan;
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
  Emulation& e = plan.emulation;
  plan.insn_len = 4;
  plan.kind = StepKind::Emulate;

  if (is_inert_hint(insn)) {
    e.op = Op::Advance;
    return plan;
  }
  // stp Xt, Xt2, [Xn|sp, #imm] with writeback (pre/post) or without.
  uint32_t stp = insn & 0xFFC00000;
  if (stp == 0xA9800000 || stp == 0xA8800000 || stp == 0xA9000000) {
    e.op = Op::Stp;
    e.imm = sext(field(insn, 15, 7), 7) * 8;
    e.rt = int(field(insn, 0, 5));
    e.rt2 = int(field(insn, 10, 5));
    e.rn = int(field(insn, 5, 5));
    e.index = stp == 0xA9800000 ? Index::PreIndex : stp == 0xA8800000 ? Index::PostIndex : Index::Offset;
    return plan;
  }
  // add/sub (immediate), not setting flags: sf op 0 100010 sh imm12 Rn Rd.
  if ((insn & 0x3F800000) == 0x11000000) {
    e.op = Op::AddSubImm;
    int64_t imm = int64_t(field(insn, 10, 12)) << (field(insn, 22, 1) ? 12 : 0);
    e.imm = field(insn, 30, 1) ? -imm : imm;
    e.rd = int(field(insn, 0, 5));
    e.rn = int(field(insn, 5, 5));
    e.sf = field(insn, 31, 1);
    return plan;
  }
  // adr / adrp
  if ((insn & 0x1F000000) == 0x10000000) {
    int64_t imm = sext(uint64_t(field(insn, 5, 19)) << 2 | field(insn, 29, 2), 21);
    e.op = Op::SetReg;
    e.target = field(insn, 31, 1) ? (pc & ~0xFFFULL) + uint64_t(imm * 4096) : pc + uint64_t(imm);
    e.rd = int(field(insn, 0, 5));
    return plan;
  }
  // ldr (literal)
  if ((insn & 0x3B000000) == 0x18000000) {
    uint32_t opc = field(insn, 30, 2);
    uint64_t lit = pc + uint64_t(sext(field(insn, 5, 19), 19) * 4);
    if (opc == 3) {  // prfm (literal): a hint
      e.op = Op::Advance;
      return plan;
    }
    if (field(insn, 26, 1)) {  // to s/d/q: no FP registers here, run from the slot
      plan.kind = StepKind::OutOfLine;
      plan.needs_slot = true;
      return plan;
    }
    e.op = Op::LdrLiteral;
    e.target = lit;
    e.rt = int(field(insn, 0, 5));
    e.literal = opc == 0 ? Literal::W : opc == 1 ? Literal::X : Literal::SW;
    return plan;
  }
  // b / bl
  if ((insn & 0x7C000000) == 0x14000000) {
    e.op = field(insn, 31, 1) ? Op::Bl : Op::B;
    e.target = pc + uint64_t(sext(field(insn, 0, 26), 26) * 4);
    return plan;
  }
  // b.cond / bc.cond
  if ((insn & 0xFF000000) == 0x54000000) {
    e.op = Op::BCond;
    e.target = pc + uint64_t(sext(field(insn, 5, 19), 19) * 4);
    e.cond = int(field(insn, 0, 4));
    return plan;
  }
  // cbz / cbnz
  if ((insn & 0x7E000000) == 0x34000000) {
    e.op = Op::Cbz;
    e.target = pc + uint64_t(sext(field(insn, 5, 19), 19) * 4);
    e.rt = int(field(insn, 0, 5));
    e.sf = field(insn, 31, 1);
    e.nonzero = field(insn, 24, 1);
    return plan;
  }
  // tbz / tbnz
  if ((insn & 0x7E000000) == 0x36000000) {
    e.op = Op::Tbz;
    e.target = pc + uint64_t(sext(field(insn, 5, 14), 14) * 4);
    e.rt = int(field(insn, 0, 5));
    e.bit = int(field(insn, 31, 1) << 5 | field(insn, 19, 5));
    e.nonzero = field(insn, 24, 1);
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

bool build_slot(Plan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
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
    emit(&out, 0x90000000 | (p & 3) << 29 | (p >> 2) << 5 | 16);
    emit(&out, 0x91000000 | uint32_t(lit & 0xFFF) << 10 | 16 << 5 | 16);
    static const uint32_t kLdrVt[3] = {0xBD400000, 0xFD400000, 0x3DC00000};  // s, d, q
    emit(&out, kLdrVt[field(insn, 30, 2)] | 16 << 5 | field(insn, 0, 5));
  } else {
    out.assign(code, code + 4);
  }
  uint32_t back;
  if (!encode_b(slot.as_int() + out.size(), addr.as_int() + 4, &back)) {
    plan->reason = "slot out of reach of the code";
    return false;
  }
  emit(&out, back);
  plan->slot_code = out;
  return true;
}

bool condition_holds(uint32_t cond, uint64_t pstate) {
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

}  // namespace rethook::arm64
