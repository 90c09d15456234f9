// Fast mode's exports (addon_fast.cc): addon.fast in lib/native.ts.
#pragma once
#include <napi.h>

namespace rethook {
Napi::Object FastExports(Napi::Env env);
}
