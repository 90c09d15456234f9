#include "addon_values.h"

#include <cxxabi.h>
#define HAVE_DECL_BASENAME 1  // libiberty.h would declare basename() again, unlike <cstring>
#include <libiberty/demangle.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <string>

#include "arch/arch.h"

namespace rethook {

namespace {

// Rust: v0 (`_R...`) or legacy (`_ZN...17h<16 hex digits>E`, demangled without the hash).
bool is_rust(const std::string& s) {
  if (s.rfind("_R", 0) == 0) return true;
  if (s.rfind("_ZN", 0) != 0 || s.size() < 24 || s.back() != 'E') return false;
  size_t h = s.size() - 1 - 16;
  if (s.compare(h - 3, 3, "17h") != 0) return false;
  for (size_t i = h; i < s.size() - 1; i++)
    if (!isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

Napi::Value Demangle(const Napi::CallbackInfo& info) {
  auto in = info[0].As<Napi::Array>();
  auto out = Napi::Array::New(info.Env(), in.Length());
  for (uint32_t i = 0; i < in.Length(); i++) {
    std::string s = in.Get(i).As<Napi::String>();
    if (is_rust(s)) {
      char* r = cplus_demangle(s.c_str(), DMGL_PARAMS | DMGL_ANSI | DMGL_RUST);
      if (r) {
        out.Set(i, Napi::String::New(info.Env(), r));
        free(r);
        continue;
      }
    }
    int status = 0;
    char* d = abi::__cxa_demangle(s.c_str(), nullptr, nullptr, &status);
    out.Set(i, status == 0 && d ? Napi::String::New(info.Env(), d) : Napi::String::New(info.Env(), s));
    free(d);
  }
  return out;
}

Napi::Object ArchInfo(Napi::Env env) {
  auto o = Napi::Object::New(env);
  o.Set("name", kArch.name);
  o.Set("pc", kArch.reg_pc);
  o.Set("sp", kArch.reg_sp);
  o.Set("retval", kArch.reg_retval);
  auto args = Napi::Array::New(env, kArch.nargs);
  for (int i = 0; i < kArch.nargs; i++) args.Set(i, kArch.reg_args[i]);
  o.Set("args", args);
  o.Set("returnAddressReg", kArch.reg_return_address);
  o.Set("framePointer", kArch.reg_frame_pointer);
  o.Set("returnPops", kArch.return_pops);
  o.Set("trapSiCode", kArch.trap_si_code);
  o.Set("trapPcAdjust", double(kArch.trap_pc_adjust));
  o.Set("breakpointLength", double(kArch.breakpoint_len));
  o.Set("slotSize", double(kArch.slot_size));
  o.Set("slotReach", double(kArch.slot_reach));
  auto names = Napi::Array::New(env, kArch.reg_names.size());
  for (size_t i = 0; i < kArch.reg_names.size(); i++) names.Set(i, kArch.reg_names[i]);
  o.Set("regNames", names);
  auto stub = arch_syscall_stub();
  o.Set("syscallStub", Napi::Buffer<uint8_t>::Copy(env, stub.data(), stub.size()));
  auto tramp = arch_trampoline_code();
  o.Set("trampolineCode", Napi::Buffer<uint8_t>::Copy(env, tramp.data(), tramp.size()));
  auto nr = Napi::Object::New(env);
  nr.Set("mmap", kArch.nr_mmap);
  nr.Set("munmap", kArch.nr_munmap);
  nr.Set("prctl", SYS_prctl);
  nr.Set("memfd_create", SYS_memfd_create);
  nr.Set("close", SYS_close);
  o.Set("syscalls", nr);
  return o;
}

}  // namespace rethook
