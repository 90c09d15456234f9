// Fast mode's part of the binding (typed in lib/native.ts as FastAddon):
// the recorder blob, the planner and the clock pair. Marshalling only.
#include "addon_fast.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <climits>

#include "fast/planner.h"
#include "fast/recorder.h"
#include "record/encode.h"

namespace rethook {

namespace {

uint64_t cycles() {
#if defined(__x86_64__)
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
#elif defined(__aarch64__)
  uint64_t v;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
#endif
}

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t to_u64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return uint64_t(v.As<Napi::Number>().DoubleValue());
}

// plan(fn, code, stub, entry, site, branches?, before?) -> { at, before, patch, stub, moved } | { refused }
// branches: [source, target, ...] from elsewhere near the function; before:
// the padding just before it (planner.h, FastContext).
Napi::Value Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto code = info[1].As<Napi::Buffer<uint8_t>>();
  FastContext ctx;
  if (info.Length() > 5 && info[5].IsTypedArray()) {
    auto b = info[5].As<Napi::Float64Array>();
    for (size_t i = 0; i + 1 < b.ElementLength(); i += 2) ctx.branches.emplace_back(uint64_t(b[i]), uint64_t(b[i + 1]));
  }
  if (info.Length() > 6 && info[6].IsBuffer()) {
    auto b = info[6].As<Napi::Buffer<uint8_t>>();
    ctx.before.assign(b.Data(), b.Data() + b.Length());
  }
  FastPlan p = fast_plan(RemotePtr(to_u64(info[0])), code.Data(), code.Length(), RemotePtr(to_u64(info[2])),
                         RemotePtr(to_u64(info[3])), uint32_t(info[4].As<Napi::Number>().Uint32Value()), ctx);
  auto out = Napi::Object::New(env);
  if (!p.ok) {
    out.Set("refused", p.reason);
    return out;
  }
  out.Set("at", Napi::Number::New(env, double(p.at)));
  out.Set("before", Napi::Number::New(env, double(p.before)));
  out.Set("patch", Napi::Buffer<uint8_t>::Copy(env, p.patch.data(), p.patch.size()));
  out.Set("stub", Napi::Buffer<uint8_t>::Copy(env, p.stub.data(), p.stub.size()));
  auto moved = Napi::Array::New(env, p.moved.size());
  for (size_t i = 0; i < p.moved.size(); i++) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, p.moved[i].first));
    pair.Set(1u, Napi::Number::New(env, p.moved[i].second));
    moved.Set(uint32_t(i), pair);
  }
  out.Set("moved", moved);
  return out;
}

// branches(base, code, ranges) -> { branches, partial }: the direct branches
// of the code at `base` (ranges: [start, end, ...] to decode), as
// [target, source, ...] sorted by target; partial: ranges not decoded whole.
Napi::Value Branches(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto code = info[1].As<Napi::Buffer<uint8_t>>();
  auto r = info[2].As<Napi::Float64Array>();
  std::vector<std::pair<uint64_t, uint64_t>> ranges, found;
  for (size_t i = 0; i + 1 < r.ElementLength(); i += 2) ranges.emplace_back(uint64_t(r[i]), uint64_t(r[i + 1]));
  size_t partial = fast_branches(RemotePtr(to_u64(info[0])), code.Data(), code.Length(), ranges, &found);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  auto out = Napi::Float64Array::New(env, found.size() * 2);
  for (size_t i = 0; i < found.size(); i++) out[2 * i] = double(found[i].second), out[2 * i + 1] = double(found[i].first);
  auto o = Napi::Object::New(env);
  o.Set("branches", out);
  o.Set("partial", Napi::Number::New(env, double(partial)));
  return o;
}

// clock() -> [cycles, CLOCK_MONOTONIC ns], taken back to back: the recorder's
// clock is the same counter (constant and shared by every CPU), so pairs
// taken here convert its readings to the monotonic clock.
Napi::Value Clock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t a = monotonic_ns(), c = cycles(), b = monotonic_ns();
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::BigInt::New(env, c));
  out.Set(1u, Napi::BigInt::New(env, a + (b - a) / 2));
  return out;
}

// wake(memory, offset) -> how many woke: FUTEX_WAKE on the 32-bit word at
// `offset` of `memory`, our mapping of an arena. Shared futexes are keyed by
// the file and offset, so the tracee's threads sleeping on the same word in
// their own mapping wake (recorder.h, FULL RING).
Napi::Value Wake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto memory = info[0].As<Napi::ArrayBuffer>();
  size_t offset = size_t(info[1].As<Napi::Number>().Int64Value());
  if (offset % 4 != 0 || offset + 4 > memory.ByteLength()) {
    Napi::RangeError::New(env, "wake: offset outside the mapping").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* word = static_cast<uint8_t*>(memory.Data()) + offset;
  long n = syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  return Napi::Number::New(env, double(n < 0 ? 0 : n));
}

// transcode(memory, block, ring, mask, head, sites, clock, restored, out, limit, state, prev, prevGen, gen):
// one thread's ring records from state[0] (its tail) up to head written as
// the binary record's CALLS records into `out` from state[1], until head or
// past `limit`; the ring's tail stored (and a waiting thread woken) at most
// every 256 records and at the end. state: [tail, pos, lastTs] in and out,
// then [entries, damaged, damage] out; prev, prevGen, gen: the words' XOR
// tables of the open chunk (native/record/encode.h).
Napi::Value Transcode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto memory = info[0].As<Napi::ArrayBuffer>();
  auto sites = info[5].As<Napi::Uint32Array>();
  auto clock = info[6].As<Napi::Float64Array>();
  auto restored = info[7].As<Napi::Float64Array>();
  auto out = info[8].As<Napi::Uint8Array>();
  auto state = info[10].As<Napi::Float64Array>();
  auto prev = info[11].As<Napi::BigUint64Array>();
  auto prev_gen = info[12].As<Napi::Uint32Array>();
  TranscodeIn in{};
  in.arena = static_cast<uint8_t*>(memory.Data());
  in.block = size_t(info[1].As<Napi::Number>().Int64Value());
  in.ring = size_t(info[2].As<Napi::Number>().Int64Value());
  in.mask = uint64_t(info[3].As<Napi::Number>().Int64Value());
  in.head = uint64_t(info[4].As<Napi::Number>().Int64Value());
  in.sites = sites.Data();
  in.nsites = sites.ElementLength() / 2;
  in.clock = clock.Data();
  in.restored = restored.Data();
  in.nrestored = restored.ElementLength();
  in.out = out.Data();
  in.limit = size_t(info[9].As<Napi::Number>().Int64Value());
  in.prev = prev.Data();
  in.prev_gen = prev_gen.Data();
  in.nprev = std::min(prev.ElementLength() / kWordSlots, prev_gen.ElementLength());
  in.gen = info[13].As<Napi::Number>().Uint32Value();
  const size_t len = memory.ByteLength();
  bool ok = clock.ElementLength() >= 4 && state.ElementLength() >= 6 && ((in.mask + 1) & in.mask) == 0 &&
            in.block + RH_B_NODES <= len && in.ring <= len && (in.mask + 1) * RH_RECORD_SIZE <= len - in.ring &&
            in.limit + 256 <= out.ByteLength() && size_t(state[1]) <= in.limit + 256 && in.block % 8 == 0;
  if (!ok) {
    Napi::RangeError::New(env, "transcode: a ring or an output outside its memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  TranscodeState st;
  st.tail = uint64_t(state[0]);
  st.pos = size_t(state[1]);
  st.last_ts = state[2];
  if (state.ElementLength() >= 7) st.depth_base = uint64_t(state[6]);
  record_transcode(in, st);
  state[0] = double(st.tail);
  state[1] = double(st.pos);
  state[2] = st.last_ts;
  state[3] = double(st.entries);
  state[4] = double(st.damaged);
  state[5] = double(st.damage);
  return env.Undefined();
}

Napi::Object Layout(Napi::Env env) {
  auto o = Napi::Object::New(env);
#define RH(name) o.Set(#name, Napi::Number::New(env, double(RH_##name)))
  RH(H_ENABLED); RH(H_CONSUMER); RH(H_TRACER_PID); RH(H_THREADS); RH(H_THREAD_MASK); RH(H_SITES); RH(H_POOLS);
  RH(H_MISSED_BUSY); RH(H_MISSED_NOTHREAD); RH(H_DROPPED); RH(H_NOMATCH); RH(HEADER_SIZE);
  RH(T_KEY); RH(T_BLOCK); RH(T_SLOT_SIZE); RH(P_ACTIVE); RH(P_MAX); RH(P_NMISSED); RH(POOL_SIZE);
  RH(B_BUSY); RH(B_DEPTH); RH(B_HEAD); RH(B_TAIL); RH(B_RING); RH(B_RING_MASK); RH(B_NODES_MAX); RH(B_TID);
  RH(B_MISSED_DEPTH); RH(B_DROPPED); RH(B_WAITING); RH(B_NODES); RH(N_SP); RH(N_RET); RH(N_SITE); RH(N_TSC); RH(NODE_SIZE);
  RH(R_KIND); RH(R_TSC); RH(R_SP); RH(R_RET); RH(R_REGS); RH(R_FP); RH(R_DEPTH); RH(RECORD_SIZE);
  RH(KIND_ENTRY); RH(KIND_EXIT); RH(KIND_UNWOUND); RH(KIND_STRING); RH(STRING_MAX); RH(H_PID);
  RH(SITE_CAPTURE_SHIFT);
#undef RH
  o.Set("MAGIC", Napi::BigInt::New(env, uint64_t(RH_MAGIC)));
  return o;
}

}  // namespace

Napi::Object FastExports(Napi::Env env) {
  const FastRecorder& r = fast_recorder();
  auto rec = Napi::Object::New(env);
  rec.Set("code", Napi::Buffer<uint8_t>::Copy(env, r.code, r.size));
  rec.Set("entry", Napi::Number::New(env, double(r.entry)));
  rec.Set("ret", Napi::Number::New(env, double(r.ret)));
  rec.Set("arenaWord", Napi::Number::New(env, double(r.arena_word)));
  rec.Set("flagsWord", Napi::Number::New(env, double(r.flags_word)));
  rec.Set("flags", Napi::Number::New(env, double(fast_recorder_flags())));
  rec.Set("nomatch", Napi::Number::New(env, double(r.nomatch)));
  auto o = Napi::Object::New(env);
  o.Set("recorder", rec);
  o.Set("stubMaxSize", Napi::Number::New(env, double(fast_stub_max_size())));
  o.Set("layout", Layout(env));
  o.Set("plan", Napi::Function::New(env, Plan));
  o.Set("branches", Napi::Function::New(env, Branches));
  o.Set("clock", Napi::Function::New(env, Clock));
  o.Set("wake", Napi::Function::New(env, Wake));
  o.Set("transcode", Napi::Function::New(env, Transcode));
  return o;
}

}  // namespace rethook
