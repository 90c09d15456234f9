// fast_plan as byte tables: instruction words in, a refusal or the exact stub
// out. The expected stubs were assembled by GNU as and linked at the stub's
// address (ld --defsym=F=0x400000 -Ttext=0x500000), not read back from the
// planner; the one difference, the word that 8-aligns the literal, is a nop
// here (the assembler's .balign wrote 0).
#include <cstring>

#include "harness_arm64.h"

namespace {

using rethook::RemotePtr;
constexpr uint64_t kF = 0x400000, kStub = 0x500000, kEntry = 0x7f1234567000;
constexpr uint32_t kSite = 0x12345, kNop = 0xD503201F;

// stp x16, x17, [sp, #-32]!; str x30, [sp, #16]; movz/movk x16, #0x12345;
// ldr x17, <lit: patched per case>; blr x17; ldr x30, [sp, #16]; ldp x16, x17, [sp], #32
#define HEAD(ldr) 0xA9BE47F0, 0xF9000BFE, 0xD28468B0, 0xF2A00030, ldr, 0xD63F0220, 0xF9400BFE, 0xA8C247F0
#define LIT 0x34567000, 0x00007F12

rethook::FastPlan plan(std::vector<uint32_t> code, uint64_t stub = kStub, uint64_t f = kF) {
  std::vector<uint8_t> bytes(code.size() * 4);
  memcpy(bytes.data(), code.data(), bytes.size());
  return rethook::fast_plan(RemotePtr(f), bytes.data(), bytes.size(), RemotePtr(stub), RemotePtr(kEntry), kSite);
}

std::vector<uint32_t> words(const std::vector<uint8_t>& b) {
  std::vector<uint32_t> w(b.size() / 4);
  memcpy(w.data(), b.data(), b.size());
  return w;
}

void stub_is(const char* name, std::vector<uint32_t> code, std::vector<uint32_t> want, size_t at, uint32_t moved_to) {
  rethook::FastPlan p = plan(code);
  if (!check(p.ok, name, "refused: " + p.reason)) return;
  std::vector<uint32_t> got = words(p.stub);
  bool same = got == want;
  for (size_t i = 0; !same && i < std::max(got.size(), want.size()); i++) {
    uint64_t g = i < got.size() ? got[i] : ~0ULL, w = i < want.size() ? want[i] : ~0ULL;
    if (g != w) check(false, name, "word " + std::to_string(i) + " " + hexpair(g, w));
  }
  check(p.at == at, name, "at " + hexpair(p.at, at));
  // The patch: b from F + at to the stub.
  uint32_t b = 0x14000000 | (uint32_t((kStub - (kF + at)) >> 2) & 0x03FFFFFF);
  check(words(p.patch) == std::vector<uint32_t>{b}, name, "patch");
  check(p.moved.size() == 1 && p.moved[0].first == at && p.moved[0].second == moved_to, name, "moved");
  check(p.stub.size() <= rethook::fast_stub_max_size(), name, "stub size");
}

void refused(const char* name, std::vector<uint32_t> code, const char* reason, uint64_t stub = kStub,
             uint64_t f = kF) {
  rethook::FastPlan p = plan(code, stub, f);
  check(!p.ok && p.reason.find(reason) != std::string::npos, name, "reason: '" + p.reason + "', want '" + reason + "'");
}

}  // namespace

int run_planner_tables() {
  int before = g_failures;
  const uint32_t ret = 0xD65F03C0, add = 0x91000400 /* add x0, x0, #1 */;
  stub_is("plain", {add, ret}, {HEAD(0x580000D1), add, 0x17FBFFF8, LIT}, 0, 32);
  stub_is("adrp x0", {0xF0000000, ret}, {HEAD(0x580000D1), 0xF0FFF800, 0x17FBFFF8, LIT}, 0, 32);
  stub_is("adr x1", {0x10000081, ret}, {HEAD(0x58000111), 0x90FFF801, 0x91004021, 0x17FBFFF7, kNop, LIT}, 0, 32);
  stub_is("ldr x2, literal", {0x58000042, ret},
          {HEAD(0x58000111), 0x90FFF802, 0x91002042, 0xF9400042, 0x17FBFFF6, LIT}, 0, 32);
  // ldr w3 / ldrsw x4: as ldr x2, with the load's size and extension.
  stub_is("ldr w3, literal", {0x18000043, ret},
          {HEAD(0x58000111), 0x90FFF803, 0x91002063, 0xB9400063, 0x17FBFFF6, LIT}, 0, 32);
  stub_is("ldrsw x4, literal", {0x98000044, ret},
          {HEAD(0x58000111), 0x90FFF804, 0x91002084, 0xB9800084, 0x17FBFFF6, LIT}, 0, 32);
  stub_is("ldr d5, literal (x16 kept)", {0x5C000045, ret},
          {HEAD(0x58000151), 0xF81F0FF0, 0x90FFF810, 0x91002210, 0xFD400205, 0xF84107F0, 0x17FBFFF4, LIT}, 0, 32);
  stub_is("prfm literal: a nop", {0xD8000040, ret}, {HEAD(0x580000D1), kNop, 0x17FBFFF8, LIT}, 0, 32);
  stub_is("b (no way back needed)", {0x14000040}, {HEAD(0x580000D1), 0x17FC0038, kNop, LIT}, 0, 32);
  stub_is("bl: x30 = F + 4", {0x94000040, ret}, {HEAD(0x58000111), 0x90FFF81E, 0x910013DE, 0x17FC0036, kNop, LIT}, 0,
          32);
  stub_is("b.ne", {0x54000201, ret}, {HEAD(0x58000111), 0x54000041, 0x17FBFFF8, 0x17FC0006, kNop, LIT}, 0, 32);
  stub_is("cbz w5", {0x34000105, ret}, {HEAD(0x58000111), 0x34000045, 0x17FBFFF8, 0x17FBFFFE, kNop, LIT}, 0, 32);
  stub_is("tbnz x6, #33", {0xB7080086, ret}, {HEAD(0x58000111), 0xB7080046, 0x17FBFFF8, 0x17FBFFFA, kNop, LIT}, 0, 32);
  // Kept in place: bti c (at = 4); paciasp, with autiasp / paciasp around the
  // recorder; both (at = 8).
  stub_is("bti c", {0xD503245F, add, ret}, {HEAD(0x580000D1), add, 0x17FBFFF9, LIT}, 4, 32);
  stub_is("paciasp", {0xD503233F, add, ret},
          {0xD50323BF, HEAD(0x580000F1), 0xD503233F, add, 0x17FBFFF7, LIT}, 4, 40);
  stub_is("bti c, pacibsp", {0xD503245F, 0xD503237F, add, ret},
          {0xD50323FF, HEAD(0x580000F1), 0xD503237F, add, 0x17FBFFF8, LIT}, 8, 40);
  // A site below 0x10000 still takes the movk (a fixed layout).
  rethook::FastPlan small = rethook::fast_plan(RemotePtr(kF), (const uint8_t*)&add, 4, RemotePtr(kStub),
                                               RemotePtr(kEntry), 5);
  check(small.ok && words(small.stub)[2] == 0xD28000B0 && words(small.stub)[3] == 0xF2A00010, "site 5: movz #5, movk #0");

  refused("ret", {ret}, "a return");
  refused("br x1", {0xD61F0020}, "a return");
  refused("blr x2", {0xD63F0040, ret}, "a return");
  refused("retaa", {0xD65F0BFF}, "a return");
  refused("brk #0", {0xD4200000, ret}, "breakpoint");
  refused("udf", {0x00000000, ret}, "undefined");
  refused("autiasp first", {0xD50323BF, ret}, "return address");
  refused("paciasppc (pc as a modifier)", {0xDAC1A3FE, add, ret}, "return address");
  refused("bti c then ret", {0xD503245F, ret}, "a return");
  refused("too short", {0xD503245F}, "too short (4 bytes)");
  refused("empty", {}, "too short (0 bytes)");
  refused("a loop back to the patched instruction", {0xD503245F, add, 0x54FFFFE1 /* b.ne F+4 */, ret},
          "a branch at +0x8 goes into the patched bytes");
  stub_is("a branch to F itself is a (self) tail call: allowed", {add, 0xB5FFFFE0 /* cbnz x0, F */, ret},
          {HEAD(0x580000D1), add, 0x17FBFFF8, LIT}, 0, 32);
  refused("stub out of reach", {add, ret}, "out of reach", kF + (128 << 20));
  refused("b target out of the stub's reach", {0x15FFFFFF /* b F + 128 MiB - 4 */}, "out of the stub's reach",
          kF - (64 << 20));
  refused("misaligned", {add, ret}, "aligned", kStub, kF + 2);
  return g_failures - before;
}
