// Byte-table driver for the instruction decoders (test/unit/decoders.test.ts),
// after frida-gum's relocator tests. Both decoders are pure (no ptrace, no
// <sys/user.h>), so one host program links both, whatever the host is.
//
// stdin, one instruction a line:   ARCH ADDR_HEX BYTES_HEX [SLOT_HEX]
//   ARCH is x86_64 or arm64; BYTES are the instruction's bytes in memory
//   order (arm64: little-endian words). With SLOT, an out-of-line plan's slot
//   code is built for a slot at that address.
// stdout, one JSON object a line: the plan (kind, length, needsSlot, reason),
//   the typed emulation fields when it is emulated, and "slot" (hex) or
//   "slotError" when a slot was asked for. Addresses are hex strings ("0x..").
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../../../native/arch/arm64_decode.h"
#include "../../../native/arch/x86_64_decode.h"

namespace {

using rethook::RemotePtr;
using rethook::StepKind;

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

std::string hex_bytes(const std::vector<uint8_t>& v) {
  std::string s;
  char b[4];
  for (uint8_t c : v) {
    snprintf(b, sizeof b, "%02x", c);
    s += b;
  }
  return s;
}

std::string quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

const char* kind_name(StepKind k) {
  switch (k) {
    case StepKind::Emulate: return "emulate";
    case StepKind::OutOfLine: return "out-of-line";
    case StepKind::Refused: break;
  }
  return "refused";
}

const char* op_name(rethook::x86::Op op) {
  using rethook::x86::Op;
  switch (op) {
    case Op::Advance: return "advance";
    case Op::Push: return "push";
    case Op::MovRspRbp: return "mov-rsp-rbp";
    case Op::Jmp: return "jmp";
    case Op::Call: return "call";
    case Op::Jcc: return "jcc";
    case Op::Ret: return "ret";
  }
  return "?";
}

const char* op_name(rethook::arm64::Op op) {
  using rethook::arm64::Op;
  switch (op) {
    case Op::Advance: return "advance";
    case Op::Stp: return "stp";
    case Op::AddSubImm: return "add-sub-imm";
    case Op::SetReg: return "set-reg";
    case Op::LdrLiteral: return "ldr-literal";
    case Op::B: return "b";
    case Op::Bl: return "bl";
    case Op::BCond: return "b-cond";
    case Op::Cbz: return "cbz";
    case Op::Tbz: return "tbz";
  }
  return "?";
}

std::string emulation_json(const rethook::x86::Emulation& e) {
  std::ostringstream o;
  o << "{\"op\":\"" << op_name(e.op) << "\",\"target\":\"" << hex(e.target) << "\",\"reg\":" << e.reg
    << ",\"cond\":" << e.cond << "}";
  return o.str();
}

std::string emulation_json(const rethook::arm64::Emulation& e) {
  using rethook::arm64::Index;
  using rethook::arm64::Literal;
  std::ostringstream o;
  o << "{\"op\":\"" << op_name(e.op) << "\",\"target\":\"" << hex(e.target) << "\",\"imm\":" << e.imm
    << ",\"rd\":" << e.rd << ",\"rn\":" << e.rn << ",\"rt\":" << e.rt << ",\"rt2\":" << e.rt2
    << ",\"index\":\""
    << (e.index == Index::PreIndex ? "pre" : e.index == Index::PostIndex ? "post" : "offset")
    << "\",\"sf\":" << (e.sf ? "true" : "false") << ",\"literal\":\""
    << (e.literal == Literal::W ? "w" : e.literal == Literal::X ? "x" : "sw")
    << "\",\"cond\":" << e.cond << ",\"bit\":" << e.bit
    << ",\"nonzero\":" << (e.nonzero ? "true" : "false") << "}";
  return o.str();
}

template <typename Plan, typename BuildSlot>
std::string plan_json(Plan plan, RemotePtr addr, const std::vector<uint8_t>& code, bool has_slot,
                      RemotePtr slot, BuildSlot build_slot) {
  std::ostringstream o;
  o << "{\"kind\":\"" << kind_name(plan.kind) << "\",\"length\":" << plan.insn_len
    << ",\"needsSlot\":" << (plan.needs_slot ? "true" : "false") << ",\"reason\":" << quote(plan.reason);
  if (plan.kind == StepKind::Emulate) o << ",\"emulation\":" << emulation_json(plan.emulation);
  if (has_slot && plan.needs_slot) {
    if (build_slot(&plan, addr, code.data(), slot)) o << ",\"slot\":\"" << hex_bytes(plan.slot_code) << "\"";
    else o << ",\"slotError\":" << quote(plan.reason);
  }
  o << "}";
  return o.str();
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string arch, addr_s, bytes_s, slot_s;
    if (!(in >> arch >> addr_s >> bytes_s)) continue;
    bool has_slot = bool(in >> slot_s);
    RemotePtr addr(std::stoull(addr_s, nullptr, 16));
    RemotePtr slot(has_slot ? std::stoull(slot_s, nullptr, 16) : 0);
    std::vector<uint8_t> code;
    for (size_t i = 0; i + 1 < bytes_s.size(); i += 2) code.push_back(uint8_t(std::stoul(bytes_s.substr(i, 2), nullptr, 16)));
    // As the tracer reads them: up to 16 bytes (here: exactly those given).
    if (arch == "x86_64") {
      auto plan = rethook::x86::plan_step_over(addr, code.data(), code.size());
      std::cout << plan_json(plan, addr, code, has_slot, slot, rethook::x86::build_slot) << "\n";
    } else if (arch == "arm64") {
      auto plan = rethook::arm64::plan_step_over(addr, code.data(), code.size());
      std::cout << plan_json(plan, addr, code, has_slot, slot, rethook::arm64::build_slot) << "\n";
    } else {
      std::cout << "{\"error\":" << quote("unknown architecture " + arch) << "}\n";
    }
  }
  return 0;
}
