// The x86-64 planner as byte tables: function bytes in, the refusal or the
// exact patch, stub and moved map out. Every expected byte below is worked
// out by hand from the stub layout in native/fast/fast_x86_64.cc (function at
// 0x401000, stub at 0x402000, recorder entry 0x7f0000001000, site 7).
#include <cstring>

#include "../../native/fast/planner.h"
#include "harness.h"

namespace {

constexpr uint64_t kFn = 0x401000, kStub = 0x402000, kEntry = 0x7f0000001000;

std::vector<uint8_t> bytes(const char* hex) {
  std::vector<uint8_t> out;
  for (const char* p = hex; *p;) {
    if (*p == ' ') {
      p++;
      continue;
    }
    unsigned v;
    sscanf(p, "%2x", &v);
    out.push_back(uint8_t(v));
    p += 2;
  }
  return out;
}

std::string hex(const std::vector<uint8_t>& b) {
  std::string s;
  char t[4];
  for (size_t i = 0; i < b.size(); i++) snprintf(t, sizeof t, i ? " %02x" : "%02x", b[i]), s += t;
  return s;
}

rethook::FastPlan plan(const char* code, uint64_t stub = kStub, const rethook::FastContext& ctx = {}) {
  auto c = bytes(code);
  return rethook::fast_plan(rethook::RemotePtr(kFn), c.data(), c.size(), rethook::RemotePtr(stub),
                            rethook::RemotePtr(kEntry), 7, ctx);
}

void refused(const char* name, const char* code, const char* reason, uint64_t stub = kStub,
             const rethook::FastContext& ctx = {}) {
  harness::Scenario s(std::string("planner: ") + name);
  auto p = plan(code, stub, ctx);
  s.expect(!p.ok && p.reason == reason, "got " + (p.ok ? std::string("a plan") : "\"" + p.reason + "\""));
}

void planned(const char* name, const char* code, size_t at, const char* patch, const char* stub, const char* moved) {
  harness::Scenario s(std::string("planner: ") + name);
  auto p = plan(code);
  if (!s.expect(p.ok, "refused: " + p.reason)) return;
  std::string m;
  for (auto [from, to] : p.moved) m += (m.empty() ? "" : " ") + std::to_string(from) + ":" + std::to_string(to);
  s.expect(p.at == at, "at " + std::to_string(p.at));
  s.expect(p.patch == bytes(patch), "patch " + hex(p.patch));
  s.expect(p.stub == bytes(stub), "stub " + hex(p.stub));
  s.expect(m == moved, "moved " + m);
}

// The stub's first 16 bytes: push 7 ; call [rip+0x15] (P at +32) ; lea rsp,[rsp+8].
#define HEADER_P32 "68 07 00 00 00  ff 15 15 00 00 00  48 8d 64 24 08 "
#define ENTRY_QUAD "00 10 00 00 00 7f 00 00"

}  // namespace

namespace harness {

void planner_tables() {
  refused("too short", "c3", "too short (1 bytes) for the 5-byte branch");
  refused("too short after endbr64", "f3 0f 1e fa 90 90 90 90", "too short (8 bytes) for the 5-byte branch after its endbr64");
  refused("a branch into the window", "31 c0 31 d2 90 eb fb c3",
          "a branch at +0x5 lands inside the patched bytes (at +0x2), and no padding before the function holds a 5-byte "
          "jmp within a short jmp's reach");
  refused("ret in the window", "31 c0 c3 90 90 90 c3", "a return at +0x2 is among the patched bytes");
  refused("indirect jmp in the window", "ff e0 90 90 90 c3", "an indirect branch at +0x0 is among the patched bytes");
  refused("jrcxz in the window", "e3 05 90 90 90 c3 90 c3", "a loop or jrcxz at +0x0 is among the patched bytes");
  refused("undecodable first bytes", "06 90 90 90 90 c3", "undecodable bytes at +0x0 (06 90 90 90 ...)");
  refused("undecodable bytes past the window", "31 c0 31 d2 90 c3 06", "undecodable bytes at +0x6 (06)");
  refused("a size ending inside an instruction", "31 c0 31 d2 90 48 8b 05 10",
          "its size (9 bytes) ends inside the instruction at +0x5");
  refused("stub out of reach", "31 c0 31 d2 90 c3", "the stub is out of the function's reach", kFn + 0x90000000);
  {
    Scenario s("planner: a branch to the function's first byte is allowed");
    s.expect(plan("31 c0 31 d2 90 eb f9 c3").ok, "refused");
  }
  // mov rax,[rip+0x10]: the copy at 0x402010 reads 0x401017: disp -0x1000.
  planned("rip-relative load relocated", "48 8b 05 10 00 00 00 c3", 0, "e9 fb 0f 00 00 cc cc",
          HEADER_P32 "48 8b 05 00 f0 ff ff  e9 eb ef ff ff  cc cc cc cc " ENTRY_QUAD, "0:16");
  // test edi,edi ; js +0xe ; mov rax,rdi: js becomes 0f 88 rel32 to 0x40100e.
  planned("jcc rel8 expanded", "85 ff 78 0a 48 89 f8 c3 90 90 90 90 90 90 48 c7 c0 ff ff ff ff c3", 0,
          "e9 fb 0f 00 00 cc cc",
          HEADER_P32 "85 ff  0f 88 f6 ef ff ff  48 89 f8  e9 e7 ef ff ff " ENTRY_QUAD, "0:16 2:18 4:24");
  planned("endbr64 stays, the patch goes after it", "f3 0f 1e fa 48 8d 04 37 48 83 c0 07 c3", 4,
          "e9 f7 0f 00 00 cc cc cc",
          HEADER_P32 "48 8d 04 37  48 83 c0 07  e9 ef ef ff ff  cc cc cc " ENTRY_QUAD, "4:16 8:20");
  // call +0x10: push [rip -> 0x401005] ; jmp [rip -> 0x401015]; P at +40.
  planned("call emulated with its genuine return address", "e8 10 00 00 00 48 83 c0 01 c3", 0, "e9 fb 0f 00 00",
          "68 07 00 00 00  ff 15 1d 00 00 00  48 8d 64 24 08  ff 35 1a 00 00 00  ff 25 1c 00 00 00 "
          " e9 e4 ef ff ff  cc cc cc cc cc cc cc " ENTRY_QUAD " 05 10 40 00 00 00 00 00  15 10 40 00 00 00 00 00",
          "0:16");

  // VEX and EVEX among the displaced bytes, RIP-relative operands re-based
  // (the disp32 is not the last field when an imm8 follows it).
  // vmovdqu64 zmm16,[rip+0x100] (EVEX, 10 bytes): reads 0x40110a; the copy at 0x402010 ends at 0x40201a.
  planned("EVEX rip-relative load relocated", "62 e1 fe 48 6f 05 00 01 00 00 c3", 0, "e9 fb 0f 00 00 cc cc cc cc cc",
          HEADER_P32 "62 e1 fe 48 6f 05 f0 f0 ff ff  e9 eb ef ff ff  cc " ENTRY_QUAD, "0:16");
  // vpshufd ymm0,[rip+0x100],0x1b (VEX, imm8 after the disp32): reads 0x401109.
  planned("VEX rip-relative operand before an imm8 relocated", "c5 fd 70 05 00 01 00 00 1b c3", 0,
          "e9 fb 0f 00 00 cc cc cc cc",
          HEADER_P32 "c5 fd 70 05 f0 f0 ff ff 1b  e9 eb ef ff ff  cc cc " ENTRY_QUAD, "0:16");
  // vpcmpeqb k1,zmm16,[rip+0x40] ; vzeroupper ; ret: EVEX compare into a mask register, then VEX.
  {
    Scenario s("planner: EVEX and VEX decoded across the whole function");
    auto p = plan("62 b1 7d 40 74 0d 40 00 00 00 c5 f8 77 c3");
    s.expect(p.ok, "refused: " + p.reason);
  }

  // mov rax,rdi ; cmp rdx,0x40 ; ret, and a branch from elsewhere (0x400f00)
  // to the cmp at +3 (glibc's mempcpy into memmove): the window ends at +3.
  rethook::FastContext into3;
  into3.branches = {{0x400f00, kFn + 3}};
  refused("a branch from elsewhere into the window, no padding", "48 89 f8 48 83 fa 40 c3",
          "a branch at 0x400f00 lands inside the patched bytes (at +0x3), and no padding before the function holds a "
          "5-byte jmp within a short jmp's reach",
          kStub, into3);
  rethook::FastContext into4 = into3;
  into4.branches = {{0x400f00, kFn + 4}};
  into4.before = bytes("0f 1f 84 00 00 00 00 00");
  refused("a branch from elsewhere into the middle of an instruction", "48 89 f8 48 83 fa 40 c3",
          "a branch at 0x400f00 lands inside the patched bytes (at +0x4)", kStub, into4);
  rethook::FastContext not_nops = into3;
  not_nops.before = bytes("48 89 c8 48 89 c8 c3");  // mov rax,rcx x2 ; ret: code, not padding
  refused("no jmp in padding that is code", "48 89 f8 48 83 fa 40 c3",
          "a branch at 0x400f00 lands inside the patched bytes (at +0x3), and no padding before the function holds a "
          "5-byte jmp within a short jmp's reach",
          kStub, not_nops);
  {
    // The 8-byte nop before it holds jmp rel32 (to the stub, 0x1003 from
    // 0x400ffd); the function starts with jmp rel8 back to it (-10).
    Scenario s("planner: a jmp rel8 to a jmp rel32 in the padding when a branch lands at +3");
    rethook::FastContext ctx = into3;
    ctx.before = bytes("0f 1f 84 00 00 00 00 00");
    auto p = plan("48 89 f8 48 83 fa 40 c3", kStub, ctx);
    if (s.expect(p.ok, "refused: " + p.reason)) {
      std::string m;
      for (auto [from, to] : p.moved) m += (m.empty() ? "" : " ") + std::to_string(from) + ":" + std::to_string(to);
      s.expect(p.at == 0 && p.before == 8, "at " + std::to_string(p.at) + " before " + std::to_string(p.before));
      s.expect(p.patch == bytes("e9 03 10 00 00  00 00 00  eb f6 cc"), "patch " + hex(p.patch));
      s.expect(p.stub == bytes("68 07 00 00 00  ff 15 0d 00 00 00  48 8d 64 24 08  48 89 f8  e9 eb ef ff ff " ENTRY_QUAD),
               "stub " + hex(p.stub));
      s.expect(m == "0:16", "moved " + m);
    }
  }

  {
    // jmp +2 ; nop ; nop ; call +0 ; ret at 0x1000, and a second range of
    // code at 0x100a: jmp rel32 back to 0x1001 (into the first one).
    Scenario s("planner: the direct branches of an object's functions");
    auto c = bytes("eb 02 90 90 e8 00 00 00 00 c3  e9 f2 ff ff ff");
    std::vector<std::pair<uint64_t, uint64_t>> found;
    size_t partial = rethook::fast_branches(rethook::RemotePtr(0x1000), c.data(), c.size(),
                                            {{0x1000, 0x100a}, {0x100a, 0x100f}}, &found);
    std::string got;
    for (auto [from, to] : found) got += (got.empty() ? "" : " ") + hex({uint8_t(from), uint8_t(to)});
    s.expect(partial == 0 && got == "00 04 04 09 0a 01", "partial " + std::to_string(partial) + ", branches " + got);
    found.clear();
    s.expect(rethook::fast_branches(rethook::RemotePtr(0x1000), c.data(), 9, {{0x1000, 0x100a}}, &found) == 1,
             "a range past the code is not counted as partial");
  }
}

}  // namespace harness
