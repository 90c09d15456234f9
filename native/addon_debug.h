// The N-API surface of debug information and floating-point arguments
// (lib/native.ts: debugSignature, debugSourceLine, unwind, fpArgs), as
// functions the NativeTracer methods in addon.cc call: marshalling only.
#pragma once
#include <napi.h>

#include <memory>

#include "arch/arch.h"
#include "dwarf/dwarf.h"
#include "session.h"

namespace rethook {

// The tracer's debug information, made at first use: RETHOOK_DEBUG_DIRS (':'-separated
// debug directories instead of /usr/lib/debug) is read then.
dwarf::DebugInfo& debug_info(std::unique_ptr<dwarf::DebugInfo>* slot);
// debugSignature(file, linkAddr) -> JSON string | null
Napi::Value DebugSignature(dwarf::DebugInfo& d, const Napi::CallbackInfo& info);
// debugSourceLine(file, linkAddr) -> "file.c:21" | null
Napi::Value DebugSourceLine(dwarf::DebugInfo& d, const Napi::CallbackInfo& info);
// debugMemberOffset(file, type, member) -> offset | -1
Napi::Value DebugMemberOffset(dwarf::DebugInfo& d, const Napi::CallbackInfo& info);
// unwind(pid, tid, pc, trampoline, realReturns[], generation, maxFrames) with the
// registers in `regs` -> { frames: [pc, symbol, offset, file, line][], reliable, error }
Napi::Value Unwind(dwarf::DebugInfo& d, Session& s, const ArchRegs& regs, const Napi::CallbackInfo& info);
// fpArgs(tid) -> Buffer of 128 bytes (xmm0-7 / v0-7) | null
Napi::Value FpArgs(const Napi::CallbackInfo& info);

}  // namespace rethook
