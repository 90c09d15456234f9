// The x86-64 recorder and planner, run in this process (harness.h): one
// line per scenario ("ok NAME" / "FAIL NAME: why"), then a benchmark line.
// Built by test/fast-recorder-x86_64.test.ts with g++ -O1.
#include <setjmp.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstring>
#include <thread>

#include "../../native/fast/planner.h"
#include "harness.h"

using namespace harness;

extern "C" {
char main_anchor_for_nm = 0;
volatile long sink;
extern uint64_t rh_seen_entry[15], rh_seen_exit[15], rh_torture_frame, rh_torture_ret, rh_torture_sp_after;
extern uint64_t rh_callee_saw, rh_trap_resume, rh_trap_sp;
void rh_call_torture();
long rh_fake_return(uint64_t addr);
}

// Calls through a volatile pointer: the compiler assumes nothing of the callee.
static inline __attribute__((always_inline)) long call1(long (*f)(long), long x) {
  long (*volatile p)(long) = f;
  return p(x);
}

// Each begins with a store to `sink` (7 bytes, rip-relative): patchable.
extern "C" __attribute__((noinline)) long nested_inner(long x) { sink = x; return 2 * x; }
extern "C" __attribute__((noinline)) long nested_outer(long x) { sink = x; return call1(nested_inner, x) + 1; }
extern "C" __attribute__((noinline)) long fact(long n) { sink = n; return n <= 1 ? 1 : n * call1(fact, n - 1); }
extern "C" __attribute__((noinline)) long limited(long n) { sink = n; return n <= 1 ? 1 : n + call1(limited, n - 1); }

static jmp_buf lj_env;
extern "C" __attribute__((noinline)) long lj_b(long x) { sink = x; longjmp(lj_env, 1); }
extern "C" __attribute__((noinline)) long lj_a(long x) { sink = x; return call1(lj_b, x + 1) + 1; }
extern "C" __attribute__((noinline)) long lj_outer(long x) {
  sink = x;
  if (setjmp(lj_env) == 0) call1(lj_a, x + 1);
  return x + 10;
}

static uint64_t main_block;

static void* sym(const char* name, size_t* size = nullptr) {
  void* a;
  size_t s;
  if (!symbol(name, &a, &s)) {
    fprintf(stderr, "no symbol %s\n", name);
    abort();
  }
  if (size) *size = s;
  return a;
}

static std::vector<Record> take() {
  std::vector<Record> r;
  drain(main_block, &r);
  return r;
}

static Call invoke(const char* fn, uint64_t a0, uint64_t a1 = 0) {
  Call c = {};
  c.args[0] = a0, c.args[1] = a1;
  rh_call(sym(fn), &c);
  return c;
}

static void hook_all(Scenario& s) {
  const std::pair<const char*, Site> fns[] = {
      {"rh_torture", S_TORTURE}, {"nested_outer", S_OUTER}, {"nested_inner", S_INNER}, {"fact", S_FACT},
      {"rh_tail_a", S_TAIL_A}, {"rh_tail_b", S_TAIL_B}, {"lj_outer", S_LJ_OUTER}, {"lj_a", S_LJ_A},
      {"lj_b", S_LJ_B}, {"rh_ripjcc", S_RIPJCC}, {"rh_endbr", S_ENDBR}, {"rh_callfirst", S_CALLFIRST},
      {"count_me", S_COUNT}, {"rh_empty_hooked", S_EMPTY}, {"limited", S_LIMITED},
      {"rh_empty_cap", S_EMPTY_CAP}};
  for (auto [name, site] : fns) {
    size_t size;
    void* f = sym(name, &size);
    std::string why = hook(f, size, site);
    s.expect(why.empty(), std::string(name) + ": " + why);
  }
}

static void set_flags(uint64_t flags) {
  const uint64_t page = arena.recorder & ~0xfffull;
  mprotect(reinterpret_cast<void*>(page), 8192, PROT_READ | PROT_WRITE);
  word(arena.recorder + rethook::fast_recorder().flags_word) = flags;
  mprotect(reinterpret_cast<void*>(page), 8192, PROT_READ | PROT_EXEC);
}

// With `capture` (every capture bit: 6 of them are registers here, all holding
// small values: bad pointers), one STRING record of 0 bytes per argument
// between the ENTRY and EXIT ones, and still every register kept.
static void torture(const char* name, uint8_t capture = 0) {
  Scenario s(name);
  set_site(S_TORTURE, S_TORTURE, capture);
  const size_t strings = capture ? 6 : 0;
  rh_call_torture();
  for (int i = 0; i < 15; i++) {
    s.expect(rh_seen_entry[i] == 0x100u + i, "register " + std::to_string(i) + " changed by the entry");
    s.expect(rh_seen_exit[i] == 0x1111u * (i + 1), "register " + std::to_string(i) + " changed by the return");
  }
  s.expect(rh_torture_sp_after == rh_torture_frame, "rsp after the call is not the caller's");
  set_site(S_TORTURE, S_TORTURE, 0);
  auto r = take();
  if (!s.expect(r.size() == 2 + strings, "want " + std::to_string(2 + strings) + " records, got " + std::to_string(r.size())))
    return;
  const uint64_t args[6] = {0x105, 0x104, 0x103, 0x102, 0x107, 0x108};  // rdi rsi rdx rcx r8 r9
  for (size_t i = 0; i < strings; i++)
    s.expect(r[1 + i].kind == RH_KIND_STRING && r[1 + i].site == S_TORTURE && r[1 + i].tsc == i && r[1 + i].sp == args[i] &&
                 r[1 + i].ret == 0,
             "string record " + std::to_string(i) + ": " + describe(r[1 + i]));
  r.erase(r.begin() + 1, r.begin() + 1 + strings);
  expect_record(s, r[0], RH_KIND_ENTRY, S_TORTURE, 0, "entry");
  expect_record(s, r[1], RH_KIND_EXIT, S_TORTURE, 0, "exit");
  for (int i = 0; i < 6; i++) s.expect(r[0].regs[i] == args[i], "entry arg " + std::to_string(i) + ": " + describe(r[0]));
  s.expect(r[0].regs[6] == 0 && r[0].regs[7] == 0, "entry regs 6, 7 not 0");
  s.expect(r[0].sp == rh_torture_frame && r[1].sp == rh_torture_frame, "frame: " + describe(r[0]));
  s.expect(r[0].ret == rh_torture_ret && r[1].ret == rh_torture_ret, "return address: " + describe(r[0]));
  double d = 2.5;
  uint64_t bits;
  memcpy(&bits, &d, 8);
  s.expect(r[1].regs[0] == 0x1111 && r[1].regs[1] == 0x4444 && r[1].fp == bits, "exit values: " + describe(r[1]));
  for (int i = 2; i < 8; i++) s.expect(r[1].regs[i] == 0, "exit regs 2..7 not 0");
  s.expect(r[0].tsc != 0 && r[1].tsc >= r[0].tsc, "clock");
}

static void nested() {
  Scenario s("nested hooked calls");
  Call c = invoke("nested_outer", 20);
  s.expect(c.rax == 41, "result " + std::to_string(c.rax));
  auto r = take();
  if (!s.expect(r.size() == 4, "want 4 records, got " + std::to_string(r.size()))) return;
  expect_record(s, r[0], RH_KIND_ENTRY, S_OUTER, 0, "outer entry");
  expect_record(s, r[1], RH_KIND_ENTRY, S_INNER, 1, "inner entry");
  expect_record(s, r[2], RH_KIND_EXIT, S_INNER, 1, "inner exit");
  expect_record(s, r[3], RH_KIND_EXIT, S_OUTER, 0, "outer exit");
  s.expect(r[0].sp == c.frame && r[3].sp == c.frame && r[0].ret == c.ret && r[3].ret == c.ret, "outer frame/ret");
  size_t size;
  uint64_t outer = reinterpret_cast<uint64_t>(sym("nested_outer", &size));
  s.expect(r[1].sp < c.frame && r[2].sp == r[1].sp && r[2].ret == r[1].ret, "inner frame/ret");
  s.expect(r[1].ret > outer && r[1].ret < outer + size, "inner's return address is not in nested_outer");
  s.expect(r[0].regs[0] == 20 && r[1].regs[0] == 20 && r[2].regs[0] == 40 && r[3].regs[0] == 41, "values");
}

static void recursion() {
  Scenario s("recursion");
  Call c = invoke("fact", 5);
  s.expect(c.rax == 120, "result " + std::to_string(c.rax));
  auto r = take();
  if (!s.expect(r.size() == 10, "want 10 records, got " + std::to_string(r.size()))) return;
  const long results[5] = {120, 24, 6, 2, 1};
  for (int d = 0; d < 5; d++) {
    expect_record(s, r[d], RH_KIND_ENTRY, S_FACT, d, "entry");
    expect_record(s, r[9 - d], RH_KIND_EXIT, S_FACT, d, "exit");
    s.expect(r[d].regs[0] == uint64_t(5 - d) && r[9 - d].regs[0] == uint64_t(results[d]), "values at depth " + std::to_string(d));
    s.expect(r[d].sp == r[9 - d].sp && r[d].ret == r[9 - d].ret, "frame/ret at depth " + std::to_string(d));
    if (d) s.expect(r[d].sp < r[d - 1].sp, "frames not nested");
  }
  s.expect(r[0].sp == c.frame && r[0].ret == c.ret, "outermost frame/ret");
}

static void tail_call() {
  Scenario s("tail call");
  Call c = invoke("rh_tail_a", 7);
  s.expect(c.rax == 216, "result " + std::to_string(c.rax));
  auto r = take();
  if (!s.expect(r.size() == 4, "want 4 records, got " + std::to_string(r.size()))) return;
  expect_record(s, r[0], RH_KIND_ENTRY, S_TAIL_A, 0, "a entry");
  expect_record(s, r[1], RH_KIND_ENTRY, S_TAIL_B, 1, "b entry");
  expect_record(s, r[2], RH_KIND_EXIT, S_TAIL_B, 1, "b exit (innermost first)");
  expect_record(s, r[3], RH_KIND_EXIT, S_TAIL_A, 0, "a exit");
  for (auto& x : r) s.expect(x.sp == c.frame && x.ret == c.ret, "frame/ret: " + describe(x));
  s.expect(r[1].regs[0] == 8 && r[2].regs[0] == 216 && r[3].regs[0] == 216, "values");
}

static void longjmp_out() {
  Scenario s("longjmp out of two hooked frames");
  Call c = invoke("lj_outer", 1);
  s.expect(c.rax == 11, "result " + std::to_string(c.rax));
  auto r = take();
  if (!s.expect(r.size() == 6, "want 6 records, got " + std::to_string(r.size()))) return;
  expect_record(s, r[0], RH_KIND_ENTRY, S_LJ_OUTER, 0, "outer entry");
  expect_record(s, r[1], RH_KIND_ENTRY, S_LJ_A, 1, "a entry");
  expect_record(s, r[2], RH_KIND_ENTRY, S_LJ_B, 2, "b entry");
  expect_record(s, r[3], RH_KIND_UNWOUND, S_LJ_B, 2, "b unwound");
  expect_record(s, r[4], RH_KIND_UNWOUND, S_LJ_A, 1, "a unwound");
  expect_record(s, r[5], RH_KIND_EXIT, S_LJ_OUTER, 0, "outer exit");
  s.expect(r[3].sp == r[2].sp && r[3].ret == r[2].ret && r[4].sp == r[1].sp && r[4].ret == r[1].ret, "unwound frames");
  s.expect(r[5].sp == c.frame && r[5].ret == c.ret && r[5].regs[0] == 11, "outer exit: " + describe(r[5]));
}

// A longjmp leaves dead nodes; the next hooked call in the same frame reaps them.
static void longjmp_reuse() {
  Scenario s("frame reused after a longjmp");
  static Call a, b;
  a = {}, b = {};
  a.args[0] = 1;
  if (setjmp(lj_env) == 0) rh_call(sym("lj_a"), &a);
  b.args[0] = 3;
  rh_call(sym("nested_inner"), &b);
  auto r = take();
  if (!s.expect(a.frame == b.frame, "the two calls' frames differ (harness layout)")) return;
  if (!s.expect(r.size() == 6, "want 6 records, got " + std::to_string(r.size()))) return;
  expect_record(s, r[0], RH_KIND_ENTRY, S_LJ_A, 0, "a entry");
  expect_record(s, r[1], RH_KIND_ENTRY, S_LJ_B, 1, "b entry");
  expect_record(s, r[2], RH_KIND_UNWOUND, S_LJ_B, 1, "b unwound");
  expect_record(s, r[3], RH_KIND_UNWOUND, S_LJ_A, 0, "a unwound");
  expect_record(s, r[4], RH_KIND_ENTRY, S_INNER, 0, "inner entry");
  expect_record(s, r[5], RH_KIND_EXIT, S_INNER, 0, "inner exit");
  s.expect(b.rax == 6 && r[5].regs[0] == 6, "result");
}

static void relocated() {
  Scenario s("rip-relative load and short jcc relocated");
  s.expect(invoke("rh_ripjcc", 5).rax == 1005, "x >= 0");
  s.expect(long(invoke("rh_ripjcc", uint64_t(-3)).rax) == -1, "x < 0 (the jcc taken from the stub)");
  auto r = take();
  s.expect(r.size() == 4 && r[1].regs[0] == 1005 && r[3].regs[0] == uint64_t(-1), "records");
}

static void endbr() {
  Scenario s("endbr64 first");
  const uint8_t* f = static_cast<const uint8_t*>(sym("rh_endbr"));
  s.expect(f[0] == 0xF3 && f[1] == 0x0F && f[2] == 0x1E && f[3] == 0xFA && f[4] == 0xE9, "patch not after endbr64");
  Call c = invoke("rh_endbr", 30, 12);
  s.expect(c.rax == 49, "result");
  auto r = take();
  s.expect(r.size() == 2 && r[0].sp == c.frame && r[0].regs[1] == 12 && r[1].regs[0] == 49, "records");
}

static void call_first() {
  Scenario s("call among the displaced bytes (emulated)");
  Call c = invoke("rh_callfirst", 20);
  s.expect(c.rax == 41, "result");
  s.expect(rh_callee_saw == reinterpret_cast<uint64_t>(sym("rh_callfirst")) + 5, "the callee saw the stub as its caller");
  auto r = take();
  s.expect(r.size() == 2 && r[0].sp == c.frame && r[1].ret == c.ret && r[1].regs[0] == 41, "records");
}

static void limits() {
  Scenario s("maxActive and nodes_max reached");
  set_pool_max(S_LIMITED, 2);
  Call c = invoke("limited", 5);
  s.expect(c.rax == 15, "result");
  auto r = take();
  s.expect(r.size() == 4 && r[0].depth == 0 && r[1].depth == 1 && r[2].kind == RH_KIND_EXIT && r[3].regs[0] == 15, "records");
  s.expect(pool_word(S_LIMITED, RH_P_NMISSED) == 3 && pool_word(S_LIMITED, RH_P_ACTIVE) == 0, "pool counters");
  std::thread t([&] {
    uint64_t b = thread_register(64, 2);
    s.expect(call1(fact, 4) == 24, "result with nodes_max 2");
    std::vector<Record> rr;
    drain(b, &rr);
    s.expect(rr.size() == 4 && word(b + RH_B_MISSED_DEPTH) == 2, "nodes_max: records " + std::to_string(rr.size()));
    thread_unregister();
  });
  t.join();
  s.expect(pool_word(S_FACT, RH_P_ACTIVE) == 0, "pool left active");
}

static void unhooked_entries() {
  Scenario s("busy, no thread block, disabled: unhooked and counted");
  uint64_t busy0 = arena.header(RH_H_MISSED_BUSY), nothread0 = arena.header(RH_H_MISSED_NOTHREAD);
  word(main_block + RH_B_BUSY) = 1;
  s.expect(call1(nested_inner, 4) == 8, "result while busy");
  word(main_block + RH_B_BUSY) = 0;
  s.expect(arena.header(RH_H_MISSED_BUSY) == busy0 + 1, "missed_busy");
  std::thread([&] { s.expect(call1(nested_inner, 5) == 10, "result without a block"); }).join();
  s.expect(arena.header(RH_H_MISSED_NOTHREAD) == nothread0 + 1, "missed_nothread");
  arena.set(RH_H_ENABLED, 0);
  s.expect(call1(nested_outer, 1) == 3, "result disabled");
  arena.set(RH_H_ENABLED, 1);
  s.expect(take().empty(), "records from unhooked calls");
}

static void on_trap(int, siginfo_t*, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  bool at_trap = uint64_t(uc->uc_mcontext.gregs[REG_RIP]) == arena.recorder + 1 &&
                 uint64_t(uc->uc_mcontext.gregs[REG_RSP]) == rh_trap_sp && uc->uc_mcontext.gregs[REG_RAX] == 77;
  uc->uc_mcontext.gregs[REG_RAX] = at_trap ? 1 : 0;
  uc->uc_mcontext.gregs[REG_RIP] = greg_t(rh_trap_resume);
}

static void nomatch() {
  Scenario s("return with no node: nomatch counted, int3 at blob+0");
  struct sigaction sa = {}, old;
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, &old);
  uint64_t n0 = arena.header(RH_H_NOMATCH);
  // rax = 77 at the "return": the trap must see it unchanged.
  long got;
  asm volatile("sub $128, %%rsp; mov $77, %%eax; call rh_fake_return; add $128, %%rsp" : "=a"(got) : "D"(arena.ret) : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc");
  sigaction(SIGTRAP, &old, nullptr);
  s.expect(got == 1, "the trap was not at blob+1 with rsp = frame+8 and rax as returned");
  s.expect(arena.header(RH_H_NOMATCH) == n0 + 1, "nomatch not counted");
}

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  bool fsgsbase = getauxval(AT_HWCAP2) & 2;  // HWCAP2_FSGSBASE
  arena_init(false, S_COUNT_SITES);
  main_block = thread_register(1 << 16);
  planner_tables();
  {
    Scenario s("hook every test function");
    hook_all(s);
    if (!s.failure.empty()) return 1;
  }
  torture("6 args in, every register kept, rax rdx xmm0 out (fs:[0])");
  if (fsgsbase) {
    set_flags(RH_FLAG_FSGSBASE);
    torture("6 args in, every register kept, rax rdx xmm0 out (rdfsbase)");
  } else {
    printf("skip rdfsbase: the CPU or kernel does not offer it\n");
  }
  torture("6 args in, every register kept with every argument captured (6 bad pointers)", 0xff);
  nested();
  recursion();
  tail_call();
  longjmp_out();
  longjmp_reuse();
  relocated();
  endbr();
  call_first();
  limits();
  unhooked_entries();
  nomatch();
  capture_scenarios(main_block);
  threads_scenarios();
  benchmark();
  capture_benchmark();
  printf("%s\n", failures ? "FAILED" : "ALL OK");
  return failures ? 1 : 0;
}
