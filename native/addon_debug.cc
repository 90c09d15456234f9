#include "addon_debug.h"

#include <cstdlib>
#include <string>
#include <vector>

namespace rethook {

namespace {

uint64_t num(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return uint64_t(v.As<Napi::Number>().DoubleValue());
}

}  // namespace

dwarf::DebugInfo& debug_info(std::unique_ptr<dwarf::DebugInfo>* slot) {
  if (!*slot) {
    *slot = std::make_unique<dwarf::DebugInfo>(getenv("RETHOOK_DEBUG_DIRS"));
  }
  return **slot;
}

Napi::Value DebugSignature(dwarf::DebugInfo& d, const Napi::CallbackInfo& info) {
  std::string s = d.signature(info[0].As<Napi::String>(), num(info[1]));
  if (s.empty()) return info.Env().Null();
  return Napi::String::New(info.Env(), s);
}

Napi::Value DebugSourceLine(dwarf::DebugInfo& d, const Napi::CallbackInfo& info) {
  std::string s = d.source_line(info[0].As<Napi::String>(), num(info[1]));
  if (s.empty()) return info.Env().Null();
  return Napi::String::New(info.Env(), s);
}

Napi::Value DebugMemberOffset(dwarf::DebugInfo& d, const Napi::CallbackInfo& info) {
  std::string type = info[1].As<Napi::String>(), member = info[2].As<Napi::String>();
  return Napi::Number::New(info.Env(), double(d.member_offset(info[0].As<Napi::String>(), type, member)));
}

Napi::Value Unwind(dwarf::DebugInfo& d, Session& s, const ArchRegs& regs, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dwarf::ThreadView t;
  t.pid = info[0].As<Napi::Number>().Int32Value();
  t.tid = info[1].As<Napi::Number>().Int32Value();
  t.pc = num(info[2]);
  t.tramp = num(info[3]);
  auto rets = info[4].As<Napi::Array>();
  for (uint32_t i = 0; i < rets.Length(); i++) t.real_returns.push_back(num(rets.Get(i)));
  unsigned generation = info[5].As<Napi::Number>().Uint32Value();
  t.max_frames = info[6].As<Napi::Number>().Uint32Value();
  arch_dwarf_regs(regs, t.regs, &t.nregs);
  TracedProcess* p = s.process(t.pid);
  if (!p) throw Napi::Error::New(env, "no traced process " + std::to_string(t.pid));
  t.read_word = [p](uint64_t addr, uint64_t* out) { return p->mem.read(RemotePtr(addr), out, 8); };
  dwarf::Unwound u = d.unwind(t, generation);
  auto frames = Napi::Array::New(env, u.frames.size());
  for (size_t i = 0; i < u.frames.size(); i++) {
    const dwarf::Frame& f = u.frames[i];
    auto a = Napi::Array::New(env, 5);
    a.Set(0u, Napi::Number::New(env, double(f.pc)));
    a.Set(1u, f.symbol.empty() ? env.Null() : Napi::String::New(env, f.symbol));
    a.Set(2u, Napi::Number::New(env, double(f.offset)));
    a.Set(3u, f.file.empty() ? env.Null() : Napi::String::New(env, f.file));
    a.Set(4u, Napi::Number::New(env, f.line));
    frames.Set(uint32_t(i), a);
  }
  auto o = Napi::Object::New(env);
  o.Set("frames", frames);
  o.Set("reliable", u.reliable);
  o.Set("error", u.error.empty() ? env.Null() : Napi::String::New(env, u.error));
  return o;
}

Napi::Value FpArgs(const Napi::CallbackInfo& info) {
  uint8_t buf[128];
  if (!arch_get_fp_args(info[0].As<Napi::Number>().Int32Value(), buf)) return info.Env().Null();
  return Napi::Buffer<uint8_t>::Copy(info.Env(), buf, sizeof buf);
}

}  // namespace rethook
