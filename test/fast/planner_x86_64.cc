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

rethook::FastPlan plan(const char* code, uint64_t stub = kStub) {
  auto c = bytes(code);
  return rethook::fast_plan(rethook::RemotePtr(kFn), c.data(), c.size(), rethook::RemotePtr(stub),
                            rethook::RemotePtr(kEntry), 7);
}

void refused(const char* name, const char* code, const char* reason, uint64_t stub = kStub) {
  harness::Scenario s(std::string("planner: ") + name);
  auto p = plan(code, stub);
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
  refused("too short", "c3", "too short (1 bytes)");
  refused("too short after endbr64", "f3 0f 1e fa 90 90 90 90", "too short (8 bytes)");
  refused("a branch into the window", "31 c0 31 d2 90 eb fb c3", "a branch at +0x5 goes into the patched bytes");
  refused("ret in the window", "31 c0 c3 90 90 90 c3", "a return at +0x2 is among the patched bytes");
  refused("indirect jmp in the window", "ff e0 90 90 90 c3", "an indirect branch at +0x0 is among the patched bytes");
  refused("jrcxz in the window", "e3 05 90 90 90 c3 90 c3", "a loop or jrcxz at +0x0 is among the patched bytes");
  refused("undecodable first bytes", "06 90 90 90 90 c3", "undecodable bytes at +0x0");
  refused("undecodable bytes past the window", "31 c0 31 d2 90 c3 06", "undecodable bytes at +0x6");
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
}

}  // namespace harness
