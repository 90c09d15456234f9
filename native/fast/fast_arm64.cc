// Fast mode's arm64 planner and recorder blob (planner.h, recorder.h).
//
// THE PATCH is one `b STUB` (+-128 MiB) over the function's instruction at
// `at`. Instructions that must stay where they are come first and are
// skipped: a BTI landing pad (bti, bti c/j/jc), then paciasp/pacibsp.
//
// PAC AND BTI. paciasp/pacibsp is an implicit landing pad (GCC and Clang emit
// it without a `bti c` under -mbranch-protection=standard), so it may not be
// displaced: a `b` at the function's address would fault on every indirect
// call (a PLT's `br x17`, a function pointer's `blr`) into a BTI-guarded page,
// and from the bytes alone we cannot tell whether the page is guarded. It
// stays in place and the patch goes after it; then x30 reaches the stub
// signed (modifier: sp, which is still the function's entry sp). So the stub
// begins with autiasp/autibsp (strips and checks the signature: x30 is the
// plain return address the recorder records and may replace) and, after the
// recorder, re-signs whatever x30 now is with paciasp/pacibsp: the function's
// own autiasp at its return then accepts the recorder's return address. All
// four are HINT-space instructions: NOPs where PAuth is absent or the key is
// disabled, consistently with the paciasp left in place.
// paciasppc/pacibsppc (FEAT_PAuth_LR) sign with the pc as a modifier too:
// that signature cannot be undone or redone from the stub, so they are refused.
//
// THE STUB (site S, recorder entry E; bracketed parts only for PAC):
//   [autiasp]
//   stp  x16, x17, [sp, #-32]!    the function's x16/x17 kept too: cheap,
//   str  x30, [sp, #16]           and hand-written callees may read them
//   movz x16, #S_lo ; movk x16, #S_hi, lsl #16
//   ldr  x17, =E ; blr x17        the recorder (recorder_arm64.S's contract)
//   ldr  x30, [sp, #16]           the return address, hijacked or not
//   ldp  x16, x17, [sp], #32      sp is the function's entry sp again
//   [paciasp]
//   <the displaced instruction, relocated>
//   b    F + at + 4               (omitted when the relocation ends in its own branches)
//   .quad E                       (8-aligned)
// Every register is as it was at the function's entry when the relocated
// instruction runs (the relocations below keep x16/x17 too). The stub and
// the recorder use up to 304 bytes of the thread's stack below sp (192
// when the site captures no string).
// `moved` has one pair: (at, the relocated copy's offset in the stub), past
// the stub's paciasp (a thread stopped at F + at has run F's already).
//
// THE WHOLE FUNCTION is scanned for one thing only. Instructions have one
// length, so no decoding can go out of step, and the patch is a single
// instruction, so no branch can land inside it: the x86-64 worry (a branch
// into the middle of the displaced bytes) cannot arise. What can is a
// branch to F + at itself, a loop whose head is the patched instruction: it
// would run the stub, and record an entry, once per iteration. Refused when
// at > 0. When at == 0 a branch to F is taken for a (self) tail call, as
// planner.h allows; a loop back to a function's first instruction then
// records nested entries (one per iteration, depth capped by nodes_max) that
// all return together, correctly but oddly.
#include <cstdio>
#include <cstring>

#include "../arch/arm64_decode.h"
#include "planner.h"

extern "C" {
extern const uint8_t rethook_recorder_arm64_start[], rethook_recorder_arm64_end[];
extern const uint8_t rethook_recorder_arm64_entry[], rethook_recorder_arm64_ret[];
extern const uint8_t rethook_recorder_arm64_arena[], rethook_recorder_arm64_flags[];
extern const uint8_t rethook_recorder_arm64_nomatch[];
}

namespace rethook {

namespace {

using arm64::emit;

constexpr uint32_t kNop = 0xD503201F;
constexpr uint32_t kPaciasp = 0xD503233F, kPacibsp = 0xD503237F;
constexpr uint32_t kAutiasp = 0xD50323BF, kAutibsp = 0xD50323FF;
constexpr uint32_t kStpX16X17Pre = 0xA9BE47F0;   // stp x16, x17, [sp, #-32]!
constexpr uint32_t kStrX30 = 0xF9000BFE;         // str x30, [sp, #16]
constexpr uint32_t kLdrX30 = 0xF9400BFE;         // ldr x30, [sp, #16]
constexpr uint32_t kLdpX16X17Post = 0xA8C247F0;  // ldp x16, x17, [sp], #32
constexpr uint32_t kBlrX17 = 0xD63F0220;
constexpr uint32_t kStrX16Pre = 0xF81F0FF0;   // str x16, [sp, #-16]!
constexpr uint32_t kLdrX16Post = 0xF84107F0;  // ldr x16, [sp], #16
constexpr size_t kStubMax = 96;

bool is_bti(uint32_t insn) { return (insn & 0xFFFFFF3F) == 0xD503241F; }  // bti, bti c/j/jc
bool is_pac_lr_pc(uint32_t insn) { return (insn & ~0x2400u) == 0xDAC183FE; }  // pac(nb)i[ab]sppc
// autiasp, autibsp, autiaz, autibz: they check x30, which the stub has replaced.
bool is_aut_x30(uint32_t insn) { return (insn & 0xFFFFFF9F) == 0xD503239F; }

uint32_t word(const uint8_t* p) {
  uint32_t w;
  memcpy(&w, p, 4);
  return w;
}

int64_t sext(uint64_t v, int bits) {
  uint64_t m = 1ULL << (bits - 1);
  v &= (1ULL << bits) - 1;
  return int64_t((v ^ m) - m);
}

std::string hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)v);
  return buf;
}

// The target of a direct branch (b, bl, b.cond, cbz/cbnz, tbz/tbnz) at pc.
bool branch_target(uint32_t insn, uint64_t pc, uint64_t* to) {
  if ((insn & 0x7C000000) == 0x14000000) *to = pc + uint64_t(sext(insn, 26) * 4);
  else if ((insn & 0xFF000000) == 0x54000000 || (insn & 0x7E000000) == 0x34000000)
    *to = pc + uint64_t(sext(insn >> 5, 19) * 4);
  else if ((insn & 0x7E000000) == 0x36000000) *to = pc + uint64_t(sext(insn >> 5, 14) * 4);
  else return false;
  return true;
}

// Instructions are appended at `base + out.size()`: position-dependent ones
// are encoded for where they land.
struct Builder {
  uint64_t base;
  std::vector<uint8_t> out;
  uint64_t pc() const { return base + out.size(); }
  void put(uint32_t insn) { emit(&out, insn); }
  bool b(uint64_t to) {  // b to, from here
    int64_t off = int64_t(to - pc());
    if (off < -(int64_t(1) << 27) || off >= (int64_t(1) << 27)) return false;
    put(0x14000000 | (uint32_t(off >> 2) & 0x03FFFFFF));
    return true;
  }
  void adrp(int rd, uint64_t value) {  // rd = value's page (always in reach: the stub is near the code)
    uint32_t pages = uint32_t(int64_t(value >> 12) - int64_t(pc() >> 12)) & 0x1FFFFF;
    put(0x90000000 | (pages & 3) << 29 | (pages >> 2) << 5 | uint32_t(rd));
  }
  void materialize(int rd, uint64_t value) {  // adrp + add: rd = value
    adrp(rd, value);
    put(0x91000000 | uint32_t(value & 0xFFF) << 10 | uint32_t(rd) << 5 | uint32_t(rd));
  }
};

// Append the displaced instruction `insn`, which was at `pc`, relocated.
// Falls through to the caller's `b pc + 4` unless *ends (an unconditional b).
bool relocate(Builder* s, uint32_t insn, uint64_t pc, bool* ends, std::string* reason) {
  *ends = false;
  const uint64_t next = pc + 4;
  if ((insn & 0xFE000000) == 0xD6000000) {
    *reason = "the patched instruction is a branch to a register or a return (" + hex(insn) + ")";
    return false;
  }
  if (is_pac_lr_pc(insn) || is_aut_x30(insn)) {
    *reason = "the patched instruction signs or checks the return address (" + hex(insn) + ")";
    return false;
  }
  if ((insn & 0xFFE0001F) == arm64::kBrk0 || (insn & 0xFFE0001F) == 0xD4400000 || (insn & 0xFFFF0000) == 0) {
    *reason = "the patched instruction is a breakpoint or undefined (" + hex(insn) + ")";
    return false;
  }
  uint64_t to;
  if ((insn & 0x1F000000) == 0x10000000) {  // adr / adrp: rd = the value it computed at pc
    int64_t imm = sext(uint64_t((insn >> 5) & 0x7FFFF) << 2 | ((insn >> 29) & 3), 21);
    uint64_t value = (insn >> 31) ? (pc & ~0xFFFULL) + uint64_t(imm * 4096) : pc + uint64_t(imm);
    int rd = int(insn & 31);
    if (rd == 31) s->put(kNop);  // to xzr
    else if (insn >> 31) s->adrp(rd, value);
    else s->materialize(rd, value);
    return true;
  }
  if ((insn & 0x3B000000) == 0x18000000) {  // ldr (literal): load from the absolute address
    uint64_t lit = pc + uint64_t(sext(insn >> 5, 19) * 4);
    uint32_t opc = insn >> 30, rt = insn & 31;
    if (opc == 3) {
      s->put(kNop);  // prfm: a hint
    } else if ((insn >> 26) & 1) {  // s/d/q: the address goes through x16, kept on the stack
      static const uint32_t kLdrVt[3] = {0xBD400000, 0xFD400000, 0x3DC00000};
      s->put(kStrX16Pre);
      s->materialize(16, lit);
      s->put(kLdrVt[opc] | 16 << 5 | rt);
      s->put(kLdrX16Post);
    } else if (rt == 31) {
      s->put(kNop);  // to xzr
    } else {  // w, x, sw: through the destination itself
      static const uint32_t kLdr[3] = {0xB9400000, 0xF9400000, 0xB9800000};
      s->materialize(int(rt), lit);
      s->put(kLdr[opc] | rt << 5 | rt);
    }
    return true;
  }
  if ((insn & 0x7C000000) == 0x14000000) {  // b / bl
    branch_target(insn, pc, &to);
    if (insn >> 31) s->materialize(30, next);  // bl: the callee returns into the function
    if (!s->b(to)) {
      *reason = "the patched instruction's branch target is out of the stub's reach";
      return false;
    }
    *ends = true;
    return true;
  }
  if (branch_target(insn, pc, &to)) {  // b.cond, cbz/cbnz, tbz/tbnz: over a b when not taken
    if ((insn & 0x7E000000) == 0x36000000) s->put((insn & ~(0x3FFFu << 5)) | 2 << 5);  // tbz: +8
    else s->put((insn & ~(0x7FFFFu << 5)) | 2 << 5);                                   // +8
    if (!s->b(next) || !s->b(to)) {
      *reason = "the patched instruction's branch target is out of the stub's reach";
      return false;
    }
    *ends = true;
    return true;
  }
  s->put(insn);  // not PC-relative: runs anywhere
  return true;
}

}  // namespace

// The nomatch trap (a `brk #0`: arm64.cc's breakpoint) is at the label
// rethook_recorder_arm64_nomatch, offset 16: FastRecorder has no field for it.
const FastRecorder& fast_recorder() {
  static const FastRecorder r = {
      rethook_recorder_arm64_start,
      size_t(rethook_recorder_arm64_end - rethook_recorder_arm64_start),
      size_t(rethook_recorder_arm64_entry - rethook_recorder_arm64_start),
      size_t(rethook_recorder_arm64_ret - rethook_recorder_arm64_start),
      size_t(rethook_recorder_arm64_arena - rethook_recorder_arm64_start),
      size_t(rethook_recorder_arm64_flags - rethook_recorder_arm64_start),
      size_t(rethook_recorder_arm64_nomatch - rethook_recorder_arm64_start),
  };
  return r;
}

// The recorder reads tpidr_el0 and cntvct_el0 whatever the kernel: no flags.
uint64_t fast_recorder_flags() { return 0; }

size_t fast_stub_max_size() { return kStubMax; }

FastPlan fast_plan(RemotePtr fn, const uint8_t* code, size_t len, RemotePtr stub, RemotePtr recorder_entry,
                   uint32_t site, const FastContext& ctx) {
  FastPlan p;
  const uint64_t f = fn.as_int();
  if ((f & 3) || (stub.as_int() & 3)) {
    p.reason = "not 4-byte aligned";
    return p;
  }
  // Landing pads and the return address's signing stay in place.
  size_t at = 0;
  if (len >= 4 && is_bti(word(code))) at = 4;
  uint32_t pac = 0;
  if (len >= at + 4 && (word(code + at) == kPaciasp || word(code + at) == kPacibsp)) {
    pac = word(code + at);
    at += 4;
  }
  if (len < at + 4) {
    p.reason = "too short (" + std::to_string(len) + " bytes)";
    return p;
  }
  for (size_t off = 0; off + 4 <= len; off += 4) {
    uint64_t to;
    if (branch_target(word(code + off), f + off, &to) && to == f + at && at > 0) {
      p.reason = "a branch at +" + hex(off) + " goes into the patched bytes";
      return p;
    }
  }

  for (auto [from, to] : ctx.branches) {  // from elsewhere in the object: as the function's own
    if (to == f + at && at > 0) {
      p.reason = "a branch at " + hex(from) + " goes into the patched bytes";
      return p;
    }
  }

  Builder s{stub.as_int(), {}};
  if (pac) s.put(pac == kPaciasp ? kAutiasp : kAutibsp);
  s.put(kStpX16X17Pre);
  s.put(kStrX30);
  s.put(0xD2800000 | (site & 0xFFFF) << 5 | 16);          // movz x16, #lo
  s.put(0xF2A00000 | (site >> 16) << 5 | 16);             // movk x16, #hi, lsl #16
  size_t ldr_at = s.out.size();
  s.put(0x58000000 | 17);                                  // ldr x17, =E (offset below)
  s.put(kBlrX17);
  s.put(kLdrX30);
  s.put(kLdpX16X17Post);
  if (pac) s.put(pac);
  const uint32_t moved_to = uint32_t(s.out.size());
  bool ends;
  if (!relocate(&s, word(code + at), f + at, &ends, &p.reason)) return p;
  if (!ends && !s.b(f + at + 4)) {
    p.reason = "the stub is out of reach of the function";
    return p;
  }
  if (s.pc() & 7) s.put(kNop);
  uint32_t lit_off = uint32_t(s.out.size() - ldr_at);
  uint32_t ldr = 0x58000000 | (lit_off / 4) << 5 | 17;
  memcpy(&s.out[ldr_at], &ldr, 4);
  for (int i = 0; i < 8; i++) s.out.push_back(uint8_t(recorder_entry.as_int() >> (8 * i)));
  if (s.out.size() > kStubMax) {  // cannot happen: the longest relocation is 5 instructions
    p.reason = "the stub does not fit";
    return p;
  }

  Builder patch{f + at, {}};
  if (!patch.b(stub.as_int())) {
    p.reason = "the stub is out of reach of the function";
    return p;
  }
  p.ok = true;
  p.at = at;
  p.patch = patch.out;
  p.stub = s.out;
  p.moved.emplace_back(uint32_t(at), moved_to);
  return p;
}

size_t fast_branches(RemotePtr base, const uint8_t* code, size_t len,
                     const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                     std::vector<std::pair<uint64_t, uint64_t>>* out) {
  const uint64_t b = base.as_int();
  for (auto [start, end] : ranges) {
    if (start < b || end > b + len || start > end) continue;
    for (uint64_t pc = (start + 3) & ~uint64_t(3); pc + 4 <= end; pc += 4) {  // instructions are aligned
      uint64_t to;
      if (branch_target(word(code + (pc - b)), pc, &to)) out->emplace_back(pc, to);
    }
  }
  return 0;
}

}  // namespace rethook
