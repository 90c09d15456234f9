// The record's part of the binding (addon_record.cc): addon.CallSummarizer and addon.JsonLineWriter in lib/native.ts.
#pragma once
#include <napi.h>

namespace rethook {
Napi::Function CallSummarizerClass(Napi::Env env);
Napi::Function JsonLineWriterClass(Napi::Env env);
Napi::Function TreeLineWriterClass(Napi::Env env);
}
