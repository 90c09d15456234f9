// The module-level part of the N-API surface (lib/native.ts: demangle, arch):
// plain values and functions that need no tracer.
#pragma once
#include <napi.h>

namespace rethook {

// demangle(names: string[]): string[] (a name that is not mangled comes back as is).
Napi::Value Demangle(const Napi::CallbackInfo& info);
// The architecture table as lib/native.ts's ArchInfo.
Napi::Object ArchInfo(Napi::Env env);

}  // namespace rethook
