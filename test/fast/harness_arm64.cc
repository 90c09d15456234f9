// The arm64 fast-mode harness: main and the single-thread scenarios (the
// threaded ones, the rings' edge cases and the benchmark are in
// harness_arm64_threads.cc). One line per scenario: "ok NAME" or
// "FAIL NAME" after the failed checks; the last line sums them up.
#include <signal.h>
#include <setjmp.h>
#include <ucontext.h>

#include <cstring>

#include "harness_arm64.h"
#include "harness_arm64_scenarios.h"

extern "C" const uint8_t rethook_recorder_arm64_start[], rethook_recorder_arm64_nomatch[];

uint64_t g_main_block;

// ---- helpers ------------------------------------------------------------------
uint64_t dbits(double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  return v;
}

void expect(const Record& r, uint32_t kind, uint32_t site, uint64_t sp, uint64_t ret, uint64_t depth,
            std::initializer_list<uint64_t> regs, const char* what) {
  std::string at = std::string(" [") + what + "]";
  check(r.kind == kind, ("kind" + at).c_str(), hexpair(r.kind, kind));
  check(r.site == site, ("site" + at).c_str(), hexpair(r.site, site));
  if (sp != kAny) check(r.sp == sp, ("sp" + at).c_str(), hexpair(r.sp, sp));
  if (ret != kAny) check(r.ret == ret, ("ret" + at).c_str(), hexpair(r.ret, ret));
  check(r.depth == depth, ("depth" + at).c_str(), hexpair(r.depth, depth));
  size_t i = 0;
  for (uint64_t v : regs) {
    check(r.regs[i] == v, ("regs[" + std::to_string(i) + "]" + at).c_str(), hexpair(r.regs[i], v));
    i++;
  }
  if (kind != RH_KIND_ENTRY)  // EXIT: x0, x1 then 0s; UNWOUND: 0s
    for (size_t j = kind == RH_KIND_EXIT ? 2 : 0; j < 8; j++) check(r.regs[j] == 0, ("zero regs" + at).c_str());
}

// A CallCtx with canaries everywhere: x_i = 0xC0DE0000 + i.
CallCtx ctx_with(std::initializer_list<uint64_t> args, uint64_t nzcv, double d0) {
  CallCtx c{};
  for (int i = 0; i < 31; i++) c.in[i] = 0xC0DE0000 + i;
  int i = 0;
  for (uint64_t a : args) c.in[i++] = a;
  c.in_nzcv = nzcv;
  c.in_d0 = dbits(d0);
  return c;
}

// The call through rh_call; x19-x29 must come back as they went in.
CallCtx call(const void* fn, CallCtx c) {
  rh_call(fn, &c);
  for (int i = 19; i <= 29; i++) check(c.out[i] == c.in[i], "callee-saved register preserved");
  return c;
}

bool in_fn(uint64_t addr, const void* fn, const char* name) {
  return addr > uint64_t(fn) && addr < uint64_t(fn) + symbol_size(name);
}

bool count_is(const std::vector<Record>& r, size_t n) { return check(r.size() == n, "record count", hexpair(r.size(), n)); }

// ---- scenarios ------------------------------------------------------------------
static void s_plain() {
  CallCtx c = call((void*)probe, ctx_with({0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107}, 0x90000000, 1.5));
  // What probe saw at its entry: everything as rh_call set it, but x30.
  for (int i = 0; i <= 29; i++)
    if (i != 18) check(probe_seen[i] == c.in[i], ("entry x" + std::to_string(i)).c_str(), hexpair(probe_seen[i], c.in[i]));
  CHECK_EQ(probe_seen[30], H.blob + rethook::fast_recorder().ret);
  CHECK_EQ(probe_seen[31], c.sp);
  CHECK_EQ(probe_seen[32], 0x90000000);
  CHECK_EQ(probe_seen[33], dbits(1.5));
  // What the caller got back: probe's results, x30 = the real return.
  const uint64_t sum = 0x100 * 8 + 28;
  CHECK_EQ(c.out[0], sum);
  for (int i = 1; i <= 15; i++) check(c.out[i] == uint64_t(0x1000 + i), "return register", hexpair(c.out[i], 0x1000 + i));
  CHECK_EQ(c.out[30], c.ret);
  CHECK_EQ(c.out_d0, dbits(2.5));
  CHECK_EQ(c.out_nzcv, 0x60000000);
  auto r = drain(g_main_block);
  if (!count_is(r, 2)) return;
  expect(r[0], RH_KIND_ENTRY, 0, c.sp, c.ret, 0, {0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107}, "entry");
  CHECK_EQ(r[0].fp, dbits(1.5));
  expect(r[1], RH_KIND_EXIT, 0, c.sp, c.ret, 0, {sum, 0x1001}, "exit");
  CHECK_EQ(r[1].fp, dbits(2.5));
  CHECK(r[1].tsc >= r[0].tsc);
}

static void s_nested() {
  CallCtx c = call((void*)c_outer, ctx_with({5}));
  CHECK_EQ(c.out[0], 13);
  auto r = drain(g_main_block);
  if (!count_is(r, 4)) return;
  expect(r[0], RH_KIND_ENTRY, S_OUTER, c.sp, c.ret, 0, {5}, "outer entry");
  expect(r[1], RH_KIND_ENTRY, S_INNER, kAny, kAny, 1, {6}, "inner entry");
  CHECK(r[1].sp < c.sp);
  CHECK(in_fn(r[1].ret, (void*)c_outer, "c_outer"));
  expect(r[2], RH_KIND_EXIT, S_INNER, r[1].sp, r[1].ret, 1, {12, x1_of(r[2])}, "inner exit");
  expect(r[3], RH_KIND_EXIT, S_OUTER, c.sp, c.ret, 0, {13, x1_of(r[3])}, "outer exit");
}

static void s_recursion() {
  CallCtx c = call((void*)c_rec, ctx_with({4}));
  CHECK_EQ(c.out[0], 10);
  auto r = drain(g_main_block);
  if (!count_is(r, 10)) return;
  const uint64_t results[5] = {10, 6, 3, 1, 0};  // c_rec(4 - d)
  for (int d = 0; d < 5; d++) {
    const Record &e = r[d], &x = r[9 - d];
    expect(e, RH_KIND_ENTRY, S_REC, d ? kAny : c.sp, d ? kAny : c.ret, d, {uint64_t(4 - d)}, "entry");
    if (d) CHECK(e.sp < r[d - 1].sp && in_fn(e.ret, (void*)c_rec, "c_rec"));
    expect(x, RH_KIND_EXIT, S_REC, e.sp, e.ret, d, {results[d], x1_of(x)}, "exit");
  }
}

static void s_tail_call() {
  CallCtx c = call((void*)tail_a, ctx_with({1}));
  CHECK_EQ(c.out[0], 102);
  CHECK_EQ(c.out[30], c.ret);
  auto r = drain(g_main_block);
  if (count_is(r, 4)) {
    expect(r[0], RH_KIND_ENTRY, S_TAIL_A, c.sp, c.ret, 0, {1}, "a entry");
    expect(r[1], RH_KIND_ENTRY, S_TAIL_B, c.sp, c.ret, 1, {101}, "b entry (tail call)");
    expect(r[2], RH_KIND_EXIT, S_TAIL_B, c.sp, c.ret, 1, {102, x1_of(r[2])}, "b exit");
    expect(r[3], RH_KIND_EXIT, S_TAIL_A, c.sp, c.ret, 0, {102, x1_of(r[3])}, "a exit");
  }
  // A thunk: its only instruction, `b`, is the displaced one.
  c = call((void*)f_thunk, ctx_with({7}));
  CHECK_EQ(c.out[0], 8);
  r = drain(g_main_block);
  if (count_is(r, 4)) {
    expect(r[0], RH_KIND_ENTRY, S_THUNK, c.sp, c.ret, 0, {7}, "thunk entry");
    expect(r[1], RH_KIND_ENTRY, S_TAIL_B, c.sp, c.ret, 1, {7}, "b entry");
    expect(r[2], RH_KIND_EXIT, S_TAIL_B, c.sp, c.ret, 1, {8, x1_of(r[2])}, "b exit");
    expect(r[3], RH_KIND_EXIT, S_THUNK, c.sp, c.ret, 0, {8, x1_of(r[3])}, "thunk exit");
  }
}

static void s_longjmp() {
  // Out of two frames: the next return (the setjmp's function's) reports both.
  CallCtx c = call((void*)c_lj_top2, ctx_with({}));
  CHECK_EQ(c.out[0], 42);
  auto r = drain(g_main_block);
  if (count_is(r, 6)) {
    expect(r[0], RH_KIND_ENTRY, S_LJ_TOP2, c.sp, c.ret, 0, {}, "top entry");
    expect(r[1], RH_KIND_ENTRY, S_LJ_OUTER, kAny, kAny, 1, {1}, "outer entry");
    expect(r[2], RH_KIND_ENTRY, S_LJ_INNER, kAny, kAny, 2, {2}, "inner entry");
    expect(r[3], RH_KIND_UNWOUND, S_LJ_INNER, r[2].sp, r[2].ret, 2, {}, "inner unwound");
    expect(r[4], RH_KIND_UNWOUND, S_LJ_OUTER, r[1].sp, r[1].ret, 1, {}, "outer unwound");
    expect(r[5], RH_KIND_EXIT, S_LJ_TOP2, c.sp, c.ret, 0, {42, x1_of(r[5])}, "top exit");
  }
  // Out of one frame, then a call from the same frame: the dead node is
  // reported when its frame is reused, before the new entry.
  c = call((void*)c_lj_top1, ctx_with({}));
  CHECK_EQ(c.out[0], 11);
  r = drain(g_main_block);
  if (count_is(r, 6)) {
    expect(r[0], RH_KIND_ENTRY, S_LJ_TOP1, c.sp, c.ret, 0, {}, "top entry");
    expect(r[1], RH_KIND_ENTRY, S_LJ_ONE, kAny, kAny, 1, {5}, "one entry");
    expect(r[2], RH_KIND_UNWOUND, S_LJ_ONE, r[1].sp, r[1].ret, 1, {}, "one unwound");
    expect(r[3], RH_KIND_ENTRY, S_LJ_PLAIN, r[1].sp, kAny, 1, {10}, "plain entry");
    expect(r[4], RH_KIND_EXIT, S_LJ_PLAIN, r[1].sp, r[3].ret, 1, {11, x1_of(r[4])}, "plain exit");
    expect(r[5], RH_KIND_EXIT, S_LJ_TOP1, c.sp, c.ret, 0, {11, x1_of(r[5])}, "top exit");
  }
}

// One call: returns x0 as given back, checks ENTRY/EXIT with x0 in and out.
static void one_call(const void* fn, uint32_t site, CallCtx in, uint64_t want, const char* what) {
  CallCtx c = call(fn, in);
  check(c.out[0] == want, what, hexpair(c.out[0], want));
  auto r = drain(g_main_block);
  if (!count_is(r, 2)) return;
  expect(r[0], RH_KIND_ENTRY, site, c.sp, c.ret, 0, {in.in[0]}, what);
  expect(r[1], RH_KIND_EXIT, site, c.sp, c.ret, 0, {want, c.out[1]}, what);
}

static void s_pc_relative() {
  one_call((void*)f_adrp, S_ADRP, ctx_with({0}), rh_data, "adrp");
  one_call((void*)f_adr, S_ADR, ctx_with({0}), 0x0123456789abcdefULL, "adr");
  one_call((void*)f_ldrx, S_LDRX, ctx_with({0}), 0x1122334455667788ULL, "ldr x literal");
  one_call((void*)f_ldrw, S_LDRW, ctx_with({0}), 0x80000001ULL, "ldr w literal");
  one_call((void*)f_ldrsw, S_LDRSW, ctx_with({0}), 0xFFFFFFFF80000001ULL, "ldrsw literal");
  CallCtx c = call((void*)f_ldrd, ctx_with({3}));
  CHECK_EQ(c.out_d0, dbits(6.25));
  CHECK_EQ(c.out[0], c.in[16]);  // the relocated ldr d kept x16
  auto r = drain(g_main_block);
  if (count_is(r, 2)) CHECK_EQ(r[1].fp, dbits(6.25));
}

static void s_branches() {
  one_call((void*)f_bcond, S_BCOND, ctx_with({0}, 0x40000000), 2, "b.eq taken (Z from the caller)");
  one_call((void*)f_bcond, S_BCOND, ctx_with({0}, 0x80000000), 1, "b.eq not taken");
  one_call((void*)f_cbz, S_CBZ, ctx_with({0}), 20, "cbz taken");
  one_call((void*)f_cbz, S_CBZ, ctx_with({5}), 10, "cbz not taken");
  one_call((void*)f_tbnz, S_TBNZ, ctx_with({1ULL << 40}), 40, "tbnz taken");
  one_call((void*)f_tbnz, S_TBNZ, ctx_with({~(1ULL << 40)}), 30, "tbnz not taken");
}

static void s_double() {
  CallCtx c = call((void*)c_double, ctx_with({3}, 0, 1.25));
  CHECK_EQ(c.out_d0, dbits(3.75));
  auto r = drain(g_main_block);
  if (!count_is(r, 2)) return;
  expect(r[0], RH_KIND_ENTRY, S_DOUBLE, c.sp, c.ret, 0, {3}, "entry");
  CHECK_EQ(r[0].fp, dbits(1.25));
  CHECK_EQ(r[1].fp, dbits(3.75));
}

static sigjmp_buf g_trap_jb;
static uint64_t g_trap_pc, g_trap_sp;
static void on_trap(int, siginfo_t*, void* uc) {
  auto* u = static_cast<ucontext_t*>(uc);
  g_trap_pc = u->uc_mcontext.pc;
  g_trap_sp = u->uc_mcontext.sp;
  siglongjmp(g_trap_jb, 1);
}

static void s_nomatch() {
  // A return into the recorder with no node: nomatch++, then the trap with
  // sp = the frame.
  struct sigaction sa = {}, old;
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, &old);
  static CallCtx c;
  c = ctx_with({1});
  if (sigsetjmp(g_trap_jb, 1) == 0) {
    rh_call((void*)(H.blob + rethook::fast_recorder().ret), &c);
    check(false, "the nomatch return trapped");
  }
  sigaction(SIGTRAP, &old, nullptr);
  CHECK_EQ(g_trap_pc, H.blob + (rethook_recorder_arm64_nomatch - rethook_recorder_arm64_start));
  CHECK_EQ(g_trap_sp, c.sp);
  CHECK_EQ(hdr(RH_H_NOMATCH), 1);
  CHECK(drain(g_main_block).empty());
}

static void s_busy_disabled() {
  word(g_main_block, RH_B_BUSY) = 1;  // as if a signal interrupted the recorder
  CallCtx c = call((void*)probe, ctx_with({1, 2}));
  CHECK_EQ(c.out[0], 3 + 0xC0DE0000ULL * 6 + 2 + 3 + 4 + 5 + 6 + 7);
  CHECK_EQ(probe_seen[30], c.ret);  // not hijacked
  CHECK_EQ(hdr(RH_H_MISSED_BUSY), 1);
  CHECK_EQ(word(g_main_block, RH_B_BUSY), 1);  // someone else's: left set
  CHECK(drain(g_main_block).empty());
  word(g_main_block, RH_B_BUSY) = 0;

  hdr(RH_H_ENABLED) = 0;
  c = call((void*)probe, ctx_with({1}));
  CHECK_EQ(probe_seen[30], c.ret);
  CHECK(drain(g_main_block).empty());
  CHECK_EQ(hdr(RH_H_MISSED_BUSY) + hdr(RH_H_MISSED_NOTHREAD), 1);
  hdr(RH_H_ENABLED) = 1;

  // Disabled while a hooked call runs: its return still resolves.
  c = call((void*)c_disable, ctx_with({uint64_t(&hdr(RH_H_ENABLED))}));
  CHECK_EQ(c.out[0], 7);
  auto r = drain(g_main_block);
  if (count_is(r, 2)) {
    expect(r[0], RH_KIND_ENTRY, S_DISABLE, c.sp, c.ret, 0, {uint64_t(&hdr(RH_H_ENABLED))}, "entry");
    expect(r[1], RH_KIND_EXIT, S_DISABLE, c.sp, c.ret, 0, {7, x1_of(r[1])}, "exit");
  }
  hdr(RH_H_ENABLED) = 1;
}

static void s_max_active() {
  pool_set(S_REC, 2);
  CallCtx c = call((void*)c_rec, ctx_with({4}));
  CHECK_EQ(c.out[0], 10);
  auto r = drain(g_main_block);
  if (count_is(r, 4)) {
    expect(r[0], RH_KIND_ENTRY, S_REC, c.sp, c.ret, 0, {4}, "entry 4");
    expect(r[1], RH_KIND_ENTRY, S_REC, kAny, kAny, 1, {3}, "entry 3");
    expect(r[2], RH_KIND_EXIT, S_REC, r[1].sp, r[1].ret, 1, {6, x1_of(r[2])}, "exit 3");
    expect(r[3], RH_KIND_EXIT, S_REC, c.sp, c.ret, 0, {10, x1_of(r[3])}, "exit 4");
  }
  CHECK_EQ(pool_word(S_REC, RH_P_NMISSED), 3);
  CHECK_EQ(pool_word(S_REC, RH_P_ACTIVE), 0);
}

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  harness_init();
  strings_init();
  g_main_block = block_new(1024, 64);
  block_register(thread_pointer(), g_main_block);
  if (!hook_all()) return 1;
  struct {
    const char* name;
    void (*fn)();
  } scenarios[] = {
      {"plain call, 8 integer args, every register", s_plain},
      {"nested hooked calls", s_nested},
      {"recursion", s_recursion},
      {"tail calls (b into a hooked function)", s_tail_call},
      {"longjmp out of hooked frames", s_longjmp},
      {"first instruction PC-relative (adrp, adr, ldr literal x/w/sw/d)", s_pc_relative},
      {"first instruction a branch (b.cond on the caller's flags, cbz, tbnz)", s_branches},
      {"double argument and return in d0", s_double},
      {"PAC and BTI prologues kept in place", s_pac_bti},
      {"return with no node: nomatch trap", s_nomatch},
      {"busy set by hand, disabled, disabled mid-call", s_busy_disabled},
      {"maxActive reached", s_max_active},
      {"nodes_max reached", s_depth_full},
      {"thread without a block", s_nothread},
      {"4 threads x 20000 calls, a consumer draining", s_threads},
      {"full ring, slow consumer: nothing lost", s_slow_consumer},
      {"full ring, consumer = 0: dropped and counted", s_no_consumer},
      {"full ring, tracer gone: consumer cleared, dropped", s_tracer_gone},
      {"captured string (bit 0): ENTRY, then STRING", s_str_short},
      {"captured string up to an unmapped page", s_str_unmapped},
      {"captured NULL pointer: no STRING record", s_str_null},
      {"captured bad pointer: STRING record, 0 bytes", s_str_bad},
      {"captured arguments x0 and x2 (and x7, all eight): in order", s_str_two},
      {"captured string longer than 96 bytes: 96 read", s_str_long},
      {"pool index (bits 0-31) with a capture mask", s_str_pool},
      {"captured strings, full ring, slow consumer: nothing lost", s_str_slow_consumer},
      {"captured strings, ring smaller than an entry: no deadlock", s_str_small_ring},
      {"captured strings, consumer = 0: dropped and counted", s_str_no_consumer},
  };
  int failed = 0;
  for (auto& s : scenarios) {
    int before = g_failures;
    reset({g_main_block});
    s.fn();
    reset({g_main_block});
    bool ok = g_failures == before;
    failed += !ok;
    printf("%s %s\n", ok ? "ok" : "FAIL", s.name);
  }
  int planner = run_planner_tables();
  printf("%s planner byte tables\n", planner ? "FAIL" : "ok");
  failed += planner != 0;
  benchmark();
  printf("%s: %d scenario(s) failed\n", failed ? "FAILED" : "PASSED", failed);
  return failed ? 1 : 0;
}
