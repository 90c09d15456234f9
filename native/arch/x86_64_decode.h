// A length decoder for x86-64 instructions: enough to copy one instruction
// out of line and fix its RIP-relative operand. It refuses (returns false with
// a reason) what it does not know rather than guess a length.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rethook {

struct X86Insn {
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

bool x86_decode(const uint8_t* code, size_t avail, X86Insn* out, std::string* why);

}  // namespace rethook
