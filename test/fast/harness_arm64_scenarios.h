// What the harness's scenario files share: the sites, the record checks, and
// the scenarios each file defines.
#pragma once
#include <initializer_list>

#include "harness_arm64.h"

// Site = pool = an index per hooked function.
enum : uint32_t {
  S_PROBE = 0, S_ADRP, S_ADR, S_LDRX, S_LDRW, S_LDRSW, S_LDRD, S_BCOND, S_CBZ, S_TBNZ,
  S_TAIL_A, S_TAIL_B, S_THUNK, S_BTI, S_PACI, S_PACIB, S_BTI_PACI, S_EMPTY,
  S_OUTER = 20, S_INNER, S_REC, S_WORKER, S_DOUBLE, S_LJ_TOP2, S_LJ_OUTER, S_LJ_INNER, S_LJ_ONE, S_LJ_PLAIN,
  S_LJ_TOP1, S_DISABLE, S_STR,
  S_GUARDED = 40,  // the copies in a BTI-guarded page: 40..
};

constexpr uint64_t kAny = ~0ULL;  // sp / ret not checked
inline uint64_t x1_of(const Record& r) { return r.regs[1]; }  // x1 after a C function: whatever it left

extern uint64_t g_main_block;
uint64_t dbits(double d);
CallCtx ctx_with(std::initializer_list<uint64_t> args, uint64_t nzcv = 0, double d0 = 0);
CallCtx call(const void* fn, CallCtx c);
void expect(const Record& r, uint32_t kind, uint32_t site, uint64_t sp, uint64_t ret, uint64_t depth,
            std::initializer_list<uint64_t> regs, const char* what);
bool count_is(const std::vector<Record>& r, size_t n);

// harness_arm64_hooks.cc
bool hook_all();
void s_pac_bti();
// harness_arm64_threads.cc
void s_depth_full();
void s_nothread();
void s_threads();
void s_slow_consumer();
void s_no_consumer();
void s_tracer_gone();
void benchmark();
// harness_arm64_strings.cc
void strings_init();
long played_calls();
void s_str_short();
void s_str_unmapped();
void s_str_null();
void s_str_bad();
void s_str_two();
void s_str_long();
void s_str_pool();
void s_str_slow_consumer();
void s_str_small_ring();
void s_str_no_consumer();
