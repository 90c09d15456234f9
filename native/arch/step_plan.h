// The generic half of a step plan: how a thread stopped on one of our
// breakpoints gets past the instruction the breakpoint displaced, without the
// breakpoint ever being lifted. Each architecture adds its own typed
// emulation record (x86_64_decode.h, arm64_decode.h); arch.h picks one.
//
// This header is pure: no ptrace, no <sys/user.h>, so that every decoder can
// be linked into one host program and tested as byte tables
// (test/unit/decoders).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rethook {

// How a breakpoint's displaced instruction runs.
enum class StepKind {
  Emulate,    // its effect is applied to the register file (and stack) by us
  OutOfLine,  // it runs from a slot of ours that then jumps back
  Refused,    // neither is safe: no breakpoint may be planted there
};

template <typename Emulation>
struct BasicStepPlan {
  StepKind kind = StepKind::Refused;
  size_t insn_len = 0;
  // Meaningful only when kind == Emulate; the architecture defines its fields.
  Emulation emulation{};
  bool needs_slot = false;
  std::vector<uint8_t> slot_code;  // filled once the slot address is known
  std::string reason;              // why it was refused (or why the slot failed)
};

}  // namespace rethook
