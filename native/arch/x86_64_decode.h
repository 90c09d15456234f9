// x86-64 instruction decoding and step-over planning, free of ptrace and of
// the register file's layout (<sys/user.h>): only bytes in, plans out. The
// backend (x86_64.cc) forwards arch_plan_step_over / arch_build_slot here and
// carries the plans out; the decoder tests link this file on any host.
//
// The length decoder is enough to copy one instruction out of line and fix its
// RIP-relative operand. It refuses (returns false with a reason) what it does
// not know rather than guess a length.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../remote_ptr.h"
#include "step_plan.h"

namespace rethook::x86 {

struct Insn {
  size_t length = 0;
  size_t opcode_offset = 0;  // first opcode byte (0F included for map 1+)
  int map = 0;               // 0: one-byte, 1: 0F, 2: 0F38, 3: 0F3A
  bool rex_w = false, rex_b = false, opsize16 = false;
  bool has_modrm = false;
  uint8_t modrm = 0;
  bool rip_relative = false;
  size_t disp_offset = 0;  // of the disp32 when rip_relative
  bool has_rel = false;    // relative branch; rel holds its displacement
  int64_t rel = 0;
};

bool decode(const uint8_t* code, size_t avail, Insn* out, std::string* why);

// What an emulated instruction does.
enum class Op {
  Advance,    // no effect but rip += length (endbr64, nop)
  Push,       // push `reg`
  MovRspRbp,  // mov %rsp,%rbp (either encoding)
  Jmp,        // rip = target
  Call,       // push the next rip; rip = target
  Jcc,        // rip = condition `cond` holds ? target : next
  Ret,        // rip = pop
};

struct Emulation {
  Op op = Op::Advance;
  uint64_t target = 0;  // Jmp, Call, Jcc: absolute destination
  int reg = -1;         // Push: register number as encoded (0 rax .. 15 r15)
  int cond = -1;        // Jcc: the condition code, the opcode's low nibble (0 o .. 15 g)
};

using Plan = BasicStepPlan<Emulation>;

// Decode the instruction at `addr` (its original bytes in `code`) and decide.
Plan plan_step_over(RemotePtr addr, const uint8_t* code, size_t len);
// Fill plan->slot_code for a slot at `slot`: the instruction, its RIP-relative
// displacement re-based, then `jmp rel32` back to the next instruction. False
// (with plan->reason) when the slot is out of rel32 reach.
bool build_slot(Plan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot);
// Whether Jcc condition `cc` holds for these RFLAGS.
bool condition_holds(int cc, uint64_t eflags);

}  // namespace rethook::x86
