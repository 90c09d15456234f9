// Fast mode on x86-64: the recorder blob (recorder_x86_64.S) and the planner
// that patches a function's first instructions (planner.h, recorder.h).
//
// A stub for site S at address STUB, for a patch at F+at (after endbr64):
//    +0  68 S32              push imm32 S      (the recorder reads it as a u32)
//    +5  FF 15 disp32        call [rip+P]      (the recorder's entry; [rsp] = +11)
//   +11  48 8D 64 24 08      lea rsp,[rsp+8]   (drops S, flags kept)
//   +16  the displaced instructions, relocated
//        E9 rel32            jmp F+at+displaced
//        CC padding to 8 bytes, then P: .quad entry, then a call's two quads
// The patch at F+at is E9 rel32 (to STUB) padded with CC to the displaced
// instructions' length.
#include <Zydis/Zydis.h>
#include <dlfcn.h>
#include <sys/auxv.h>

#include <cstdio>
#include <cstring>

#include "planner.h"
#include "recorder.h"

extern "C" {
extern const uint8_t rethook_recorder_x86_64_start[];
extern const uint8_t rethook_recorder_x86_64_end[];
extern const uint64_t rethook_recorder_x86_64_offsets[4];  // entry, ret, arena, flags
}

namespace rethook {

namespace {

constexpr size_t kStubMax = 128;
constexpr size_t kJmpRel32 = 5;
constexpr size_t kJmpRel8 = 2;
constexpr size_t kStubHeader = 16;
constexpr uint8_t kEndbr64[4] = {0xF3, 0x0F, 0x1E, 0xFA};

struct Insn {
  size_t off;  // from the function's address
  ZydisDecodedInstruction d;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

// Zydis is loaded when fast mode first plans a function, not linked: the
// addon (and trap mode) loads on machines without it, and fast mode then
// says what to install. Only its decoder is used.
struct ZydisApi {
  decltype(&ZydisDecoderInit) init = nullptr;
  decltype(&ZydisDecoderDecodeFull) decode = nullptr;
  decltype(&ZydisDecoderDecodeInstruction) decode_instruction = nullptr;  // without operands: faster
};

const ZydisApi* zydis() {
  static const ZydisApi api = [] {
    ZydisApi z;
    for (const char* name : {"libZydis.so.4.0", "libZydis.so.4", "libZydis.so"}) {
      void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      z.init = reinterpret_cast<decltype(z.init)>(dlsym(h, "ZydisDecoderInit"));
      z.decode = reinterpret_cast<decltype(z.decode)>(dlsym(h, "ZydisDecoderDecodeFull"));
      z.decode_instruction = reinterpret_cast<decltype(z.decode_instruction)>(dlsym(h, "ZydisDecoderDecodeInstruction"));
      if (z.init && z.decode && z.decode_instruction) break;
    }
    return z;
  }();
  return api.init && api.decode && api.decode_instruction ? &api : nullptr;
}

constexpr const char* kNoZydis =
    "fast mode decodes functions with Zydis, which is not installed (Debian: apt-get install libzydis4.0)";

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

FastPlan refused(std::string why) {
  FastPlan p;
  p.reason = std::move(why);
  return p;
}

bool fits_rel32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

void put32(std::vector<uint8_t>& b, size_t at, int32_t v) { memcpy(&b[at], &v, 4); }
void emit32(std::vector<uint8_t>& b, int32_t v) { b.resize(b.size() + 4), put32(b, b.size() - 4, v); }
void emit64(std::vector<uint8_t>& b, uint64_t v) { b.resize(b.size() + 8), memcpy(&b[b.size() - 8], &v, 8); }

// The target of a relative branch (jmp, jcc, call, loop, jrcxz, xbegin).
bool branch_target(const Insn& i, uint64_t fn, uint64_t* target) {
  for (const auto& imm : i.d.raw.imm) {
    if (imm.is_relative) {
      *target = fn + i.off + i.d.length + uint64_t(imm.value.s);
      return true;
    }
  }
  return false;
}

// Where in `before` (the bytes just before the function at `fn`, no
// function's: alignment padding) a 5-byte jmp can go that a jmp rel8 from
// `from` reaches: the last instruction boundary at least 5 bytes before the
// function, every instruction from there on a nop (falling through it into
// the function then takes the jmp, as the function's own entry would). 0:
// nowhere.
uint64_t padding_jump(const ZydisApi* zy, const ZydisDecoder* dec, const std::vector<uint8_t>& before, uint64_t fn,
                      uint64_t from) {
  const uint64_t start = fn - before.size();
  std::vector<uint64_t> boundaries;
  ZydisDecodedInstruction d;
  for (size_t off = 0; off < before.size(); off += d.length) {
    if (!ZYAN_SUCCESS(zy->decode_instruction(dec, nullptr, before.data() + off, before.size() - off, &d))) return 0;
    if (d.mnemonic != ZYDIS_MNEMONIC_NOP && d.mnemonic != ZYDIS_MNEMONIC_INT3) boundaries.clear();
    else boundaries.push_back(start + off);
  }
  for (size_t k = boundaries.size(); k-- > 0;) {
    uint64_t q = boundaries[k];
    if (q + kJmpRel32 > fn) continue;
    return from - q <= 128 ? q : 0;
  }
  return 0;
}

bool rip_relative(const Insn& i) {
  for (int k = 0; k < i.d.operand_count; k++)
    if (i.ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY && i.ops[k].mem.base == ZYDIS_REGISTER_RIP) return true;
  return false;
}

// Why a displaced instruction cannot run from the stub, or "".
std::string unmovable(const Insn& i) {
  switch (i.d.mnemonic) {
    case ZYDIS_MNEMONIC_RET: case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ:
      return "a return";
    case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_INT1: case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
      return "a trap";
    case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE: case ZYDIS_MNEMONIC_LOOPNE: case ZYDIS_MNEMONIC_JRCXZ:
    case ZYDIS_MNEMONIC_JECXZ: case ZYDIS_MNEMONIC_JCXZ:
      return "a loop or jrcxz";
    default:
      break;
  }
  bool rel = false;
  for (const auto& imm : i.d.raw.imm) rel |= bool(imm.is_relative);
  auto cat = i.d.meta.category;
  if (cat == ZYDIS_CATEGORY_RET) return "a return";
  if (cat == ZYDIS_CATEGORY_UNCOND_BR || cat == ZYDIS_CATEGORY_CALL) {
    if (!rel) return "an indirect branch";
    if (i.d.operand_width != 64) return "a 16-bit branch";
    return "";
  }
  if (cat == ZYDIS_CATEGORY_COND_BR) return i.d.operand_width == 64 ? "" : "a 16-bit branch";
  if (rel) return "a relative operand";  // xbegin
  return "";
}

// The relocated copy's length (the layout is decided before emitting).
size_t relocated_size(const Insn& i) {
  uint64_t t;
  if (!branch_target(i, 0, &t)) return i.d.length;
  if (i.d.meta.category == ZYDIS_CATEGORY_COND_BR) return 6;  // 0F 8x rel32
  if (i.d.meta.category == ZYDIS_CATEGORY_CALL) return 12;    // push [rip+ra] ; jmp [rip+target]
  return 5;                                                   // E9 rel32
}

}  // namespace

const FastRecorder& fast_recorder() {
  static const FastRecorder r = {
      rethook_recorder_x86_64_start,
      size_t(rethook_recorder_x86_64_end - rethook_recorder_x86_64_start),
      rethook_recorder_x86_64_offsets[0],
      rethook_recorder_x86_64_offsets[1],
      rethook_recorder_x86_64_offsets[2],
      rethook_recorder_x86_64_offsets[3],
      0,  // .Lnomatch_trap: the blob's first byte (int3)
  };
  return r;
}

// rdfsbase works in user space when the kernel enabled FSGSBASE (Linux 5.9+
// on CPUs that have it), as AT_HWCAP2 says; else the recorder reads fs:[0].
uint64_t fast_recorder_flags() {
  constexpr unsigned long kHwcap2Fsgsbase = 1ul << 1;
  return (getauxval(AT_HWCAP2) & kHwcap2Fsgsbase) ? RH_FLAG_FSGSBASE : 0;
}

size_t fast_stub_max_size() { return kStubMax; }

FastPlan fast_plan(RemotePtr fn_ptr, const uint8_t* code, size_t len, RemotePtr stub_ptr, RemotePtr entry_ptr,
                   uint32_t site, const FastContext& ctx) {
  const uint64_t fn = fn_ptr.as_int(), stub = stub_ptr.as_int();
  const size_t at = len >= 4 && memcmp(code, kEndbr64, 4) == 0 ? 4 : 0;
  if (len < at + kJmpRel32)
    return refused("too short (" + std::to_string(len) + " bytes) for the 5-byte branch" + (at ? " after its endbr64" : ""));

  // Decode the whole function (VEX and EVEX included): every branch in it is
  // checked against the window. Bytes Zydis cannot decode are named with
  // their first bytes.
  const ZydisApi* zy = zydis();
  if (!zy) return refused(kNoZydis);
  ZydisDecoder dec;
  zy->init(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  std::vector<Insn> all;
  for (size_t off = 0; off < len;) {
    Insn i;
    i.off = off;
    ZyanStatus st = zy->decode(&dec, code + off, len - off, &i.d, i.ops);
    if (st == ZYDIS_STATUS_NO_MORE_DATA)
      return refused("its size (" + std::to_string(len) + " bytes) ends inside the instruction at +" + hex(off));
    if (!ZYAN_SUCCESS(st)) {
      std::string b;
      for (size_t k = off; k < len && k < off + 4; k++) {
        char t[4];
        snprintf(t, sizeof t, "%02x", code[k]);
        b += (b.empty() ? "" : " ") + std::string(t);
      }
      return refused("undecodable bytes at +" + hex(off) + " (" + b + (off + 4 < len ? " ..." : "") + ")");
    }
    off += i.d.length;
    all.push_back(i);
  }

  // The displaced instructions: from `at`, until the jmp fits.
  size_t first = 0, end = 0;
  while (first < all.size() && all[first].off < at) first++;
  if (first == all.size() || all[first].off != at) return refused("no instruction at +" + hex(at));
  size_t last = first;
  while (all[last].off + all[last].d.length < at + kJmpRel32) last++;
  end = all[last].off + all[last].d.length;

  // Branches, the function's own and from elsewhere, into the window: the
  // first one (by target) decides. The window then shrinks to end there,
  // when that leaves room for a short jmp to a long one in the padding.
  uint64_t hit_from = 0, hit_to = 0;
  bool hit_own = false;
  auto first_inside = [&](uint64_t lo, uint64_t hi) {
    hit_to = 0;
    for (const Insn& i : all) {
      uint64_t t;
      if (branch_target(i, fn, &t) && t > lo && t < hi && (!hit_to || t < hit_to)) hit_to = t, hit_from = i.off, hit_own = true;
    }
    for (auto [from, t] : ctx.branches)
      if (t > lo && t < hi && (!hit_to || t < hit_to)) hit_to = t, hit_from = from, hit_own = false;
    return hit_to != 0;
  };
  uint64_t pad = 0;  // where the long jmp goes in the padding (0: none)
  if (first_inside(fn + at, fn + end)) {
    std::string why = "a branch at " + (hit_own ? "+" + hex(hit_from) : hex(hit_from)) +
                      " lands inside the patched bytes (at +" + hex(hit_to - fn) + ")";
    size_t cut = size_t(hit_to - fn), k = first;
    while (k < all.size() && all[k].off + all[k].d.length < cut) k++;
    if (cut - at < kJmpRel8 || k == all.size() || all[k].off + all[k].d.length != cut) return refused(why);
    pad = padding_jump(zy, &dec, ctx.before, fn, fn + at + kJmpRel8);
    if (!pad) return refused(why + ", and no padding before the function holds a 5-byte jmp within a short jmp's reach");
    if (first_inside(pad, pad + kJmpRel32)) return refused(why + ", and a branch lands in the padding where the jmp would go");
    last = k;
    end = cut;
  }

  FastPlan p;
  p.at = at;
  p.stub = {0x68};
  emit32(p.stub, int32_t(site));
  p.stub.insert(p.stub.end(), {0xFF, 0x15});
  size_t entry_disp = p.stub.size();
  emit32(p.stub, 0);
  p.stub.insert(p.stub.end(), {0x48, 0x8D, 0x64, 0x24, 0x08});

  // Layout first: the quads after the code are addressed rip-relative.
  size_t code_end = kStubHeader;
  for (size_t k = first; k <= last; k++) code_end += relocated_size(all[k]);
  code_end += kJmpRel32;
  size_t quads = code_end + ((8 - (stub + code_end) % 8) % 8);
  size_t call_quads = quads + 8;  // a call's return address and target

  for (size_t k = first; k <= last; k++) {
    const Insn& i = all[k];
    if (std::string why = unmovable(i); !why.empty())
      return refused(why + " at +" + hex(i.off) + " is among the patched bytes");
    size_t here = p.stub.size();
    uint64_t ip_next = stub + here + relocated_size(i);  // the copy's next instruction
    p.moved.emplace_back(uint32_t(i.off), uint32_t(here));
    uint64_t t;
    if (branch_target(i, fn, &t)) {
      int64_t rel = int64_t(t - ip_next);
      if (i.d.meta.category == ZYDIS_CATEGORY_CALL) {
        // Pushes the call's genuine return address (the window's end: a
        // 5-byte call is always the last displaced instruction), so that
        // nothing sees the stub as its caller.
        p.stub.insert(p.stub.end(), {0xFF, 0x35});
        emit32(p.stub, int32_t(call_quads - (here + 6)));
        p.stub.insert(p.stub.end(), {0xFF, 0x25});
        emit32(p.stub, int32_t(call_quads + 8 - (here + 12)));
        continue;
      }
      if (!fits_rel32(rel)) return refused("the branch at +" + hex(i.off) + " is out of the stub's reach");
      if (i.d.meta.category == ZYDIS_CATEGORY_COND_BR)
        p.stub.insert(p.stub.end(), {0x0F, uint8_t(0x80 | (i.d.opcode & 0x0F))});
      else
        p.stub.push_back(0xE9);
      emit32(p.stub, int32_t(rel));
      continue;
    }
    p.stub.insert(p.stub.end(), code + i.off, code + i.off + i.d.length);
    if (rip_relative(i)) {
      if (i.d.raw.disp.size != 32) return refused("a rip-relative operand without disp32 at +" + hex(i.off));
      int64_t disp = int64_t(fn + i.off + i.d.length + uint64_t(i.d.raw.disp.value) - ip_next);
      if (!fits_rel32(disp)) return refused("the rip-relative operand at +" + hex(i.off) + " is out of the stub's reach");
      put32(p.stub, here + i.d.raw.disp.offset, int32_t(disp));
    }
  }

  int64_t back = int64_t(fn + end - (stub + p.stub.size() + kJmpRel32));
  int64_t there = int64_t(stub - ((pad ? pad : fn + at) + kJmpRel32));
  if (!fits_rel32(back) || !fits_rel32(there)) return refused("the stub is out of the function's reach");
  p.stub.push_back(0xE9);
  emit32(p.stub, int32_t(back));
  p.stub.resize(quads, 0xCC);
  put32(p.stub, entry_disp, int32_t(quads - (entry_disp + 4)));
  emit64(p.stub, entry_ptr.as_int());
  const Insn& l = all[last];
  uint64_t call_target;
  if (l.d.meta.category == ZYDIS_CATEGORY_CALL && branch_target(l, fn, &call_target)) {
    emit64(p.stub, fn + end);
    emit64(p.stub, call_target);
  }
  if (p.stub.size() > kStubMax) return refused("the stub would take " + std::to_string(p.stub.size()) + " bytes");

  p.patch = {0xE9};
  emit32(p.patch, int32_t(there));
  if (pad) {
    // From the padding's jmp to the window: the bytes between as they are,
    // then jmp rel8 back to the padding's jmp.
    p.before = size_t(fn - pad);
    const uint8_t* between = ctx.before.data() + (ctx.before.size() - p.before) + kJmpRel32;
    p.patch.insert(p.patch.end(), between, ctx.before.data() + ctx.before.size());
    p.patch.insert(p.patch.end(), code, code + at);
    p.patch.push_back(0xEB);
    p.patch.push_back(uint8_t(int8_t(int64_t(pad) - int64_t(fn + at + kJmpRel8))));
    p.patch.resize(p.before + end, 0xCC);
  } else {
    p.patch.resize(end - at, 0xCC);
  }
  p.ok = true;
  return p;
}

size_t fast_branches(RemotePtr base, const uint8_t* code, size_t len,
                     const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                     std::vector<std::pair<uint64_t, uint64_t>>* out) {
  const ZydisApi* zy = zydis();
  if (!zy) return ranges.size();
  ZydisDecoder dec;
  zy->init(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const uint64_t b = base.as_int();
  size_t partial = 0;
  ZydisDecodedInstruction d;
  for (auto [start, end] : ranges) {
    if (start < b || end > b + len || start > end) {
      partial++;
      continue;
    }
    for (uint64_t pc = start; pc < end; pc += d.length) {
      if (!ZYAN_SUCCESS(zy->decode_instruction(&dec, nullptr, code + (pc - b), end - pc, &d))) {
        partial++;
        break;
      }
      for (const auto& imm : d.raw.imm)
        if (imm.is_relative) out->emplace_back(pc, pc + d.length + uint64_t(imm.value.s));
    }
  }
  return partial;
}

}  // namespace rethook
