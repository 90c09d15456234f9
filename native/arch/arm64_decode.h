// arm64 (AArch64) decoding and step-over planning, free of ptrace and of the
// register file's layout: only bytes in, plans out. The backend (arm64.cc)
// forwards arch_plan_step_over / arch_build_slot here and carries the plans
// out; the decoder tests link this file on any host.
//
// The displaced instruction is emulated in the register file when it is
// PC-relative (it could not run anywhere else) or a common prologue
// instruction; any other instruction runs out of line from a slot that
// branches back with an immediate `b` (a `br` would fault in BTI-guarded
// pages). Instructions that cannot be handled are refused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../remote_ptr.h"
#include "step_plan.h"

namespace rethook::arm64 {

// What an emulated instruction does. Register numbers are as encoded (0..31);
// what 31 means (sp or the zero register) is stated per field.
enum class Op {
  Advance,     // no effect but pc += 4 (nop, bti, prfm literal)
  Stp,         // stp Xt, Xt2, [Xn|sp, #imm] (pre-index, post-index or offset)
  AddSubImm,   // add/sub Rd|sp, Rn|sp, #imm (covers mov x29, sp)
  SetReg,      // adr/adrp: Rd = target
  LdrLiteral,  // ldr Wt / ldr Xt / ldrsw Xt from the literal at target
  B,           // pc = target
  Bl,          // x30 = pc + 4; pc = target
  BCond,       // b.cond: pc = cond holds ? target : pc + 4
  Cbz,         // cbz/cbnz Rt: taken when Rt == 0 (cbnz: != 0)
  Tbz,         // tbz/tbnz Rt, #bit: taken when the bit is clear (tbnz: set)
};

// Stp addressing: where the pair is stored and whether the base is updated.
enum class Index {
  Offset,    // at base + imm, base unchanged
  PreIndex,  // at base + imm, then base += imm
  PostIndex, // at base, then base += imm
};

// LdrLiteral: the size and extension of the load.
enum class Literal { W, X, SW };  // ldr Wt (zero-extended), ldr Xt, ldrsw Xt

struct Emulation {
  Op op = Op::Advance;
  // B, Bl, BCond, Cbz, Tbz: the destination; SetReg: the value (adr: pc +
  // imm; adrp: pc's page + imm pages); LdrLiteral: the literal's address.
  uint64_t target = 0;
  // Stp: the byte offset (a multiple of 8); AddSubImm: the signed addend
  // (negative for sub, shifted already when LSL #12).
  int64_t imm = 0;
  int rd = -1;   // AddSubImm: 31 = sp; SetReg: 31 = xzr (the result is dropped)
  int rn = -1;   // Stp, AddSubImm: 31 = sp
  int rt = -1;   // Stp (first), LdrLiteral, Cbz, Tbz: 31 = xzr
  int rt2 = -1;  // Stp (second): 31 = xzr
  Index index = Index::Offset;  // Stp
  bool sf = true;               // AddSubImm, Cbz: 64-bit operation (false: W registers)
  Literal literal = Literal::X; // LdrLiteral
  int cond = -1;                // BCond: the condition field (0 eq .. 15 nv)
  int bit = -1;                 // Tbz: the bit number, 0..63
  bool nonzero = false;         // Cbz: cbnz; Tbz: tbnz
};

using Plan = BasicStepPlan<Emulation>;

Plan plan_step_over(RemotePtr addr, const uint8_t* code, size_t len);
// Fill plan->slot_code for a slot at `slot`: the instruction (an FP literal
// load rebuilt as adrp/add/ldr through x16), then `b` back to addr + 4. False
// (with plan->reason) when out of reach.
bool build_slot(Plan* plan, RemotePtr addr, const uint8_t* code, RemotePtr slot);
// Whether b.cond condition `cond` holds for this PSTATE (NZCV in bits 31..28).
bool condition_holds(uint32_t cond, uint64_t pstate);
// Append one instruction, little-endian.
void emit(std::vector<uint8_t>* out, uint32_t insn);

constexpr uint32_t kBrk0 = 0xD4200000, kSvc0 = 0xD4000001, kNop = 0xD503201F;

}  // namespace rethook::arm64
