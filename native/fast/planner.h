// What each architecture supplies for fast mode (recorder.h says how the
// pieces meet). One implementation per architecture, fast_<arch>.cc, chosen by
// binding.gyp as the step-over backends are; generic code (addon_fast.cc)
// includes only this header.
//
//   fast_recorder(): the recorder blob (recorder_<arch>.S, between two labels)
//     and the offsets of its entry, its return, and its two data words.
//   fast_plan(): decide whether a function can be patched and build its patch
//     and its stub. The function's whole code is given (its symbol's size):
//     the planner decodes all of it, with a real disassembler where
//     instructions have variable length, and refuses, with a reason, a
//     function too short for the patch, one with a branch anywhere in it into
//     the displaced bytes (other than to the function's first byte), displaced
//     instructions it cannot relocate (or that do not fit relocated), or a
//     return among them. Landing pads (endbr64, bti) stay where they are: the
//     patch goes after them (`at`).
//   `moved` maps each displaced instruction's offset from the function's
//   address to the offset in the stub of its relocated copy: a thread stopped
//   in the middle of the displaced bytes when the patch is made is moved
//   there (its call then runs unhooked, correctly).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../remote_ptr.h"

namespace rethook {

struct FastRecorder {
  const uint8_t* code;
  size_t size;
  size_t entry, ret, arena_word, flags_word;
  size_t nomatch;  // the trap a return with no node of its frame executes
};

// What fast_plan may know of the function's surroundings (all optional).
struct FastContext {
  // Direct branches (source, target) from elsewhere in the object whose
  // targets lie near the function (fast_branches): none may land inside the
  // displaced bytes.
  std::vector<std::pair<uint64_t, uint64_t>> branches;
  // The bytes just before the function that no function holds (alignment
  // padding after the one before): x86-64 puts a 5-byte jmp there when the
  // function's first instructions before a branch target leave room only
  // for a 2-byte one.
  std::vector<uint8_t> before;
};

struct FastPlan {
  bool ok = false;
  std::string reason;          // why not, when !ok: "too short (3 bytes) for the 5-byte branch", "a branch at +0x1c lands inside the patched bytes", ...
  size_t at = 0;               // the patch's offset from the function's address (after a landing pad)
  size_t before = 0;           // >0: the patch starts this many bytes before the function (a jmp in the padding), not at `at`
  std::vector<uint8_t> patch;  // the bytes written there (the displaced instructions' length, padded)
  std::vector<uint8_t> stub;   // the stub's bytes, for the address given
  std::vector<std::pair<uint32_t, uint32_t>> moved;
};

const FastRecorder& fast_recorder();
// The flags word the recorder needs on this machine (recorder.h: RH_FLAG_*),
// as the kernel we run on says (the tracee runs on the same one).
uint64_t fast_recorder_flags();
// The most bytes a stub can take (the tracer reserves that much per function).
size_t fast_stub_max_size();
FastPlan fast_plan(RemotePtr fn, const uint8_t* code, size_t len, RemotePtr stub, RemotePtr recorder_entry,
                   uint32_t site, const FastContext& ctx = FastContext{});

// Direct branches (jmp, jcc, call, loop...; b, bl, cbz...) of an object's
// code, for the check fast_plan cannot make alone: other code branching into
// a function's displaced bytes (glibc's mempcpy jumps to memmove+3). `code`
// holds the bytes at `base`; each range [start, end) of `ranges` (functions,
// by their symbols or their CFI) is decoded from its start. Appends
// (source, target) pairs to `out` and returns how many ranges could not be
// decoded to their end (their branches past that point are not seen).
size_t fast_branches(RemotePtr base, const uint8_t* code, size_t len,
                     const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                     std::vector<std::pair<uint64_t, uint64_t>>* out);

}  // namespace rethook
