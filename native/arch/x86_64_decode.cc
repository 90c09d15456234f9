// x86-64 instruction decoding and step-over planning (see x86_64_decode.h).
#include "x86_64_decode.h"

#include <cstring>

namespace rethook::x86 {

namespace {

// Immediate kinds of one-byte opcodes without ModRM.
enum Imm { NONE, I8, I16, IZ, IV, REL8, RELZ, MOFFS, I16_I8 };

bool invalid_in_64(uint8_t b) {
  switch (b) {
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F:
    case 0x27: case 0x2F: case 0x37: case 0x3F: case 0x60: case 0x61: case 0x82:
    case 0x9A: case 0xCE: case 0xD4: case 0xD5: case 0xD6: case 0xEA:
      return true;
  }
  return false;
}

bool one_byte_has_modrm(uint8_t b) {
  if (b < 0x40) return (b & 7) < 4;
  if (b == 0x62 || b == 0x63 || b == 0x69 || b == 0x6B) return true;
  if (b >= 0x80 && b <= 0x8F) return true;
  if (b == 0xC0 || b == 0xC1 || (b >= 0xC4 && b <= 0xC7)) return true;
  if (b >= 0xD0 && b <= 0xD3) return true;
  if (b >= 0xD8 && b <= 0xDF) return true;
  if (b == 0xF6 || b == 0xF7 || b == 0xFE || b == 0xFF) return true;
  return false;
}

Imm one_byte_imm(uint8_t b, uint8_t modrm_reg) {
  if (b < 0x40) {
    if ((b & 7) == 4) return I8;
    if ((b & 7) == 5) return IZ;
    return NONE;
  }
  switch (b) {
    case 0x68: case 0x69: case 0x81: case 0xA9: case 0xC7: return IZ;
    case 0x6A: case 0x6B: case 0x80: case 0x83: case 0xA8: case 0xC0: case 0xC1:
    case 0xC6: case 0xCD: case 0xE4: case 0xE5: case 0xE6: case 0xE7: return I8;
    case 0xC2: case 0xCA: return I16;
    case 0xC8: return I16_I8;
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xEB: return REL8;
    case 0xE8: case 0xE9: return RELZ;
    case 0xA0: case 0xA1: case 0xA2: case 0xA3: return MOFFS;
    case 0xF6: return modrm_reg < 2 ? I8 : NONE;
    case 0xF7: return modrm_reg < 2 ? IZ : NONE;
  }
  if (b >= 0x70 && b <= 0x7F) return REL8;
  if (b >= 0xB0 && b <= 0xB7) return I8;
  if (b >= 0xB8 && b <= 0xBF) return IV;
  return NONE;
}

bool two_byte_has_modrm(uint8_t b) {
  switch (b) {
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0B: case 0x77:
    case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9:
      return false;
  }
  if (b >= 0x30 && b <= 0x37) return false;
  if (b >= 0x80 && b <= 0x8F) return false;
  if (b >= 0xC8 && b <= 0xCF) return false;
  return true;
}

Imm two_byte_imm(uint8_t b) {
  if (b >= 0x80 && b <= 0x8F) return RELZ;
  switch (b) {
    case 0x70: case 0x71: case 0x72: case 0x73: case 0xA4: case 0xAC: case 0xBA:
    case 0xC2: case 0xC4: case 0xC5: case 0xC6: case 0x0F:
      return I8;
  }
  return NONE;
}

}  // namespace

bool decode(const uint8_t* code, size_t avail, Insn* out, std::string* why) {
  Insn d;
  size_t i = 0;
  bool addr32 = false;
  auto need = [&](size_t n) { return i + n <= avail && i + n <= 15; };
  // Legacy prefixes.
  for (;;) {
    if (!need(1)) { *why = "truncated instruction"; return false; }
    uint8_t b = code[i];
    if (b == 0x66) d.opsize16 = true;
    else if (b == 0x67) addr32 = true;
    else if (b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x2E || b == 0x36 || b == 0x3E ||
             b == 0x26 || b == 0x64 || b == 0x65) {}
    else break;
    i++;
  }
  if ((code[i] & 0xF0) == 0x40) {  // REX
    d.rex_w = code[i] & 8;
    d.rex_b = code[i] & 1;
    i++;
    if (!need(1)) { *why = "truncated instruction"; return false; }
  }
  uint8_t b = code[i];
  if (b == 0x8F && need(2) && (code[i + 1] & 0x38) != 0) {
    *why = "XOP-encoded instruction";
    return false;
  }
  int vex_map = 0;  // VEX/EVEX: the opcode map the prefix selects (1: 0F, 2: 0F38, 3: 0F3A)
  if (b == 0xC5 || b == 0xC4 || b == 0x62) {
    size_t plen = b == 0xC5 ? 2 : b == 0xC4 ? 3 : 4;
    if (!need(plen + 2)) { *why = "truncated instruction"; return false; }
    vex_map = b == 0xC5 ? 1 : (code[i + 1] & (b == 0x62 ? 0x07 : 0x1F));
    if (vex_map < 1 || vex_map > 3) {
      *why = "VEX/EVEX instruction of an unknown opcode map";
      return false;
    }
    if (b == 0xC4) d.rex_w = code[i + 2] & 0x80;
    i += plen;
  }
  Imm imm = NONE;
  bool modrm = false;
  if (vex_map) {
    // Every VEX/EVEX instruction has a ModRM; an imm8 in map 3, and in map 1
    // for the shuffles, shifts by immediate and compares.
    uint8_t op = code[i];
    d.map = vex_map;
    d.opcode_offset = i;
    modrm = true;
    imm = vex_map == 3 || (vex_map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xC2 || (op >= 0xC4 && op <= 0xC6))) ? I8 : NONE;
    i++;
  } else if (b == 0x0F) {
    i++;
    if (!need(1)) { *why = "truncated instruction"; return false; }
    uint8_t b2 = code[i];
    if (b2 == 0x38 || b2 == 0x3A) {
      i++;
      if (!need(1)) { *why = "truncated instruction"; return false; }
      d.map = b2 == 0x38 ? 2 : 3;
      modrm = true;
      imm = b2 == 0x3A ? I8 : NONE;
    } else {
      d.map = 1;
      modrm = two_byte_has_modrm(b2);
      imm = two_byte_imm(b2);
    }
    d.opcode_offset = i;
    i++;
  } else {
    if (invalid_in_64(b)) { *why = "opcode invalid in 64-bit mode"; return false; }
    d.opcode_offset = i;
    modrm = one_byte_has_modrm(b);
    i++;
  }
  if (modrm) {
    if (!need(1)) { *why = "truncated instruction"; return false; }
    d.has_modrm = true;
    d.modrm = code[i++];
    uint8_t mod = d.modrm >> 6, rm = d.modrm & 7;
    if (d.map == 0 && !vex_map) imm = one_byte_imm(b, (d.modrm >> 3) & 7);
    if (mod != 3) {
      if (rm == 4) {
        if (!need(1)) { *why = "truncated instruction"; return false; }
        uint8_t sib = code[i++];
        if (mod == 0 && (sib & 7) == 5) i += 4;
      } else if (mod == 0 && rm == 5) {
        d.rip_relative = true;
        d.disp_offset = i;
        i += 4;
      }
      if (mod == 1) i += 1;
      if (mod == 2) i += 4;
    }
  } else if (d.map == 0) {
    imm = one_byte_imm(b, 0);
  }
  size_t isz = 0;
  switch (imm) {
    case NONE: break;
    case I8: isz = 1; break;
    case I16: isz = 2; break;
    case I16_I8: isz = 3; break;
    case IZ: isz = d.opsize16 ? 2 : 4; break;
    case IV: isz = d.rex_w ? 8 : (d.opsize16 ? 2 : 4); break;
    case MOFFS: isz = addr32 ? 4 : 8; break;
    case REL8: isz = 1; d.has_rel = true; break;
    case RELZ: isz = 4; d.has_rel = true; break;
  }
  if (!need(isz)) { *why = "truncated instruction"; return false; }
  if (d.has_rel) {
    d.rel = isz == 1 ? int64_t(int8_t(code[i])) : int64_t(int32_t(uint32_t(code[i]) | uint32_t(code[i + 1]) << 8 |
                                                               uint32_t(code[i + 2]) << 16 | uint32_t(code[i + 3]) << 24));
  }
  i += isz;
  d.length = i;
  *out = d;
  return true;
}


bool condition_holds(int cc, uint64_t fl) {
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

Plan plan_step_over(RemotePtr addr, const uint8_t* code, size_t len) {
  Plan plan;
  Insn insn;
  std::string why;
  if (!decode(code, len, &insn, &why)) {
    plan.reason = why;
    return plan;
  }
  plan.insn_len = insn.length;
  const uint8_t* op = code + insn.opcode_offset;
  uint64_t next = addr.as_int() + insn.length;
  Emulation& e = plan.emulation;
  plan.kind = StepKind::Emulate;
  // endbr64 / multi-byte nop / nop
  if ((insn.map == 1 && op[0] == 0x1E && insn.modrm == 0xFA && code[0] == 0xF3) ||
      (insn.map == 1 && op[0] == 0x1F) || (insn.map == 0 && op[0] == 0x90 && !insn.rex_b)) {
    e.op = Op::Advance;
    return plan;
  }
  if (insn.map == 0 && op[0] >= 0x50 && op[0] <= 0x57 && !insn.opsize16) {
    e.op = Op::Push;
    e.reg = (op[0] - 0x50) + (insn.rex_b ? 8 : 0);
    return plan;
  }
  if (insn.map == 0 && insn.rex_w && insn.has_modrm && insn.modrm == 0xE5 && op[0] == 0x89) {
    e.op = Op::MovRspRbp;  // mov %rsp,%rbp
    return plan;
  }
  if (insn.map == 0 && insn.rex_w && insn.has_modrm && insn.modrm == 0xEC && op[0] == 0x8B) {
    e.op = Op::MovRspRbp;  // mov %rsp,%rbp (other encoding)
    return plan;
  }
  if (insn.map == 0 && (op[0] == 0xE9 || op[0] == 0xEB)) {
    e.op = Op::Jmp;
    e.target = next + insn.rel;
    return plan;
  }
  if (insn.map == 0 && op[0] == 0xE8) {
    e.op = Op::Call;
    e.target = next + insn.rel;
    return plan;
  }
  if ((insn.map == 0 && op[0] >= 0x70 && op[0] <= 0x7F) ||
      (insn.map == 1 && op[0] >= 0x80 && op[0] <= 0x8F)) {
    e.op = Op::Jcc;
    e.target = next + insn.rel;
    e.cond = op[0] & 0xF;
    return plan;
  }
  if (insn.map == 0 && op[0] == 0xC3) {
    e.op = Op::Ret;
    return plan;
  }
  plan.emulation = Emulation{};
  if (insn.has_rel) {  // loop, jrcxz, and other relative branches
    plan.kind = StepKind::Refused;
    plan.reason = "relative branch that is neither emulated nor relocatable";
    return plan;
  }
  plan.kind = StepKind::OutOfLine;
  plan.needs_slot = true;
  return plan;
}

bool build_slot(Plan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot) {
  Insn insn;
  std::string why;
  if (!decode(code, plan->insn_len, &insn, &why)) {
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

}  // namespace rethook::x86
