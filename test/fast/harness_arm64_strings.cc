// The harness's captured-string scenarios (recorder.h, entry step 6): the
// site word's capture mask, STRING records after the ENTRY record, read by
// process_vm_readv page by page; bad pointers, unmapped pages, several
// captured arguments, long strings, the pool index beside a mask, and rings
// that fill up between an ENTRY record and its STRING records.
//
// qemu-user (7.2 at least) does not implement process_vm_readv: it returns
// -ENOSYS. The harness finds out at start (strings_init) and then, in its own
// copy of the recorder, turns that system call's `svc #0` into a `brk`, whose
// SIGTRAP handler plays process_vm_readv: it checks the arguments (our pid,
// one iovec each side, equal lengths, flags 0, the remote range within one
// 4 KiB chunk, the local one within a record's string bytes) and copies
// through a pipe, which fails with EFAULT as the real call does on a bad
// address. So the recorder's logic is checked under qemu too; natively the
// real system call runs. (No handler: every read would return 0 bytes.)
#include <errno.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "harness_arm64_scenarios.h"

static bool g_pvr;  // process_vm_readv on our own pid works here (or is played)
static size_t g_page;

// ---- process_vm_readv played by a SIGTRAP handler (qemu-user) ---------------
constexpr uint32_t kMovX8Pvr = 0xD28021C8;  // mov x8, #270
constexpr uint32_t kSvc0 = 0xD4000001;
constexpr uint32_t kBrkPvr = 0xD4200000 | (0x5652 << 5);  // brk #0x5652
static int g_pipe[2];
static std::atomic<long> g_played{0}, g_played_bad{0};

static void on_pvr(int, siginfo_t*, void* uc) {
  auto* u = static_cast<ucontext_t*>(uc);
  auto* x = u->uc_mcontext.regs;  // unsigned long long[31]
  if (*(const uint32_t*)u->uc_mcontext.pc != kBrkPvr) {
    static const char msg[] = "FAIL: a SIGTRAP that is not the played process_vm_readv\n";
    write(2, msg, sizeof msg - 1);
    _exit(3);
  }
  int saved = errno;
  g_played++;
  long ret;
  const iovec *l = (const iovec*)x[1], *r = (const iovec*)x[3];
  uint64_t lb = uint64_t(l->iov_base), rb = uint64_t(r->iov_base), n = r->iov_len;
  if (x[8] != 270 || x[0] != uint64_t(getpid()) || x[2] != 1 || x[4] != 1 || x[5] != 0 || l->iov_len != n ||
      n == 0 || n > RH_STRING_MAX || (rb & 4095) + n > 4096 || (lb & 127) < RH_R_REGS || (lb & 127) + n > 128) {
    g_played_bad++;
    ret = -EINVAL;
  } else {
    ssize_t w = write(g_pipe[1], (const void*)rb, n);
    ret = w < 0 ? -errno : read(g_pipe[0], (void*)lb, w);
  }
  x[0] = uint64_t(ret);
  u->uc_mcontext.pc += 4;
  errno = saved;
}

static void play_pvr() {
  const rethook::FastRecorder& rec = rethook::fast_recorder();
  uint32_t* code = (uint32_t*)H.blob;
  int found = 0;
  size_t size = (rec.size + 4095) & ~size_t(4095);
  if (mprotect(code, size, PROT_READ | PROT_WRITE) != 0) perror("mprotect blob");
  for (size_t i = 1; i < rec.size / 4; i++)
    if (code[i] == kSvc0 && code[i - 1] == kMovX8Pvr) {
      code[i] = kBrkPvr;
      found++;
    }
  mprotect(code, size, PROT_READ | PROT_EXEC);
  __builtin___clear_cache((char*)code, (char*)code + rec.size);
  check(found == 1, "one process_vm_readv in the recorder", hexpair(found, 1));
  if (pipe(g_pipe) != 0) perror("pipe");
  struct sigaction sa = {};
  sa.sa_sigaction = on_pvr;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, nullptr);
}

void strings_init() {
  g_page = size_t(getpagesize());
  char src[8] = "abcdefg", dst[8] = {};
  iovec l = {dst, 8}, r = {src, 8};
  long n = syscall(SYS_process_vm_readv, long(getpid()), &l, 1L, &r, 1L, 0L);
  g_pvr = n == 8 && memcmp(dst, src, 8) == 0;
  if (!g_pvr) {
    printf("  note: process_vm_readv on our own pid does not work here (%ld, %s: qemu-user does not implement it):"
           " played by a SIGTRAP handler in the recorder's copy (its svc made a brk)\n",
           n, strerror(errno));
    play_pvr();
    g_pvr = true;
  }
  hdr(RH_H_PID) = uint64_t(getpid());
}

// The played process_vm_readv's calls (0 natively), none with wrong arguments.
long played_calls() {
  check(g_played_bad == 0, "process_vm_readv's arguments (played)", hexpair(g_played_bad, 0));
  return g_played;
}

static void site_word(uint32_t site, uint32_t pool, uint8_t mask) {
  word(hdr(RH_H_SITES), site * 8) = pool | uint64_t(mask) << RH_SITE_CAPTURE_SHIFT;
}

// n pages, read-write (the real page size).
static uint8_t* pages(int n) {
  void* p = mmap(nullptr, n * g_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    _exit(2);
  }
  return (uint8_t*)p;
}

static const uint8_t* bytes(const Record& r) { return (const uint8_t*)&r + RH_R_REGS; }

// A STRING record of `site` for argument `index` = ptr: `len` bytes read
// where process_vm_readv works (else 0), equal to ptr's; zeros after them.
// len = kAny: 1 to RH_STRING_MAX bytes, a C string's whole (a NUL in them).
static void expect_string(const Record& r, uint32_t site, uint64_t index, uint64_t ptr, uint64_t len,
                          const char* what) {
  std::string at = std::string(" [") + what + "]";
  if (!g_pvr) len = 0;
  if (len == kAny) {
    len = r.ret;
    check(len > 0 && len <= RH_STRING_MAX && memchr(bytes(r), 0, len), ("a whole string read" + at).c_str());
  }
  check(r.kind == RH_KIND_STRING, ("kind" + at).c_str(), hexpair(r.kind, RH_KIND_STRING));
  check(r.site == site, ("site" + at).c_str(), hexpair(r.site, site));
  check(r.tsc == index, ("index (R_TSC)" + at).c_str(), hexpair(r.tsc, index));
  check(r.sp == ptr, ("pointer (R_SP)" + at).c_str(), hexpair(r.sp, ptr));
  check(r.ret == len, ("bytes read (R_RET)" + at).c_str(), hexpair(r.ret, len));
  if (r.ret != len) return;
  check(len == 0 || memcmp(bytes(r), (const void*)ptr, len) == 0, ("the bytes" + at).c_str());
  bool zeros = true;
  for (size_t i = len; i < RH_STRING_MAX; i++) zeros &= bytes(r)[i] == 0;
  check(zeros, ("zeros after the bytes read" + at).c_str());
}

// probe called with `args` (8 of them), its site capturing `mask`, counted
// in `pool`: every register probe saw at its entry and returned with is
// checked, the ENTRY record first and the EXIT record last; the records
// between them are returned.
static std::vector<Record> cap_call(uint8_t mask, std::initializer_list<uint64_t> args, uint32_t pool = S_PROBE) {
  site_word(S_PROBE, pool, mask);
  CallCtx c = call((void*)probe, ctx_with(args, 0x90000000, 1.5));
  site_word(S_PROBE, S_PROBE, 0);
  played_calls();
  for (int i = 0; i <= 29; i++)
    if (i != 18) check(probe_seen[i] == c.in[i], ("entry x" + std::to_string(i)).c_str(), hexpair(probe_seen[i], c.in[i]));
  CHECK_EQ(probe_seen[30], H.blob + rethook::fast_recorder().ret);
  CHECK_EQ(probe_seen[31], c.sp);
  CHECK_EQ(probe_seen[32], 0x90000000);
  CHECK_EQ(probe_seen[33], dbits(1.5));
  uint64_t sum = 0;
  for (int i = 0; i < 8; i++) sum += c.in[i];
  CHECK_EQ(c.out[0], sum);
  for (int i = 1; i <= 15; i++) check(c.out[i] == uint64_t(0x1000 + i), "return register", hexpair(c.out[i], 0x1000 + i));
  CHECK_EQ(c.out[30], c.ret);
  CHECK_EQ(c.out_d0, dbits(2.5));
  CHECK_EQ(c.out_nzcv, 0x60000000);
  auto r = drain(g_main_block);
  if (!check(r.size() >= 2, "an ENTRY and an EXIT record", hexpair(r.size(), 2))) return {};
  expect(r.front(), RH_KIND_ENTRY, S_PROBE, c.sp, c.ret, 0, {}, "entry");
  for (int i = 0; i < 8; i++) check(r.front().regs[i] == c.in[i], "entry x0-x7", hexpair(r.front().regs[i], c.in[i]));
  CHECK_EQ(r.front().fp, dbits(1.5));
  expect(r.back(), RH_KIND_EXIT, S_PROBE, c.sp, c.ret, 0, {sum, 0x1001}, "exit");
  return std::vector<Record>(r.begin() + 1, r.end() - 1);
}

void s_str_short() {
  uint8_t* p = pages(2);
  // 40 bytes before the page's end: the first read stops there, the NUL is in it.
  char* s = (char*)p + g_page - 40;
  strcpy(s, "hello, world");
  auto r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), 40, "40 bytes before a page end");
  // At a page's start: one read of RH_STRING_MAX bytes, the NUL in it.
  s = (char*)p + g_page;
  strcpy(s, "hi");
  r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), RH_STRING_MAX, "at a page start");
  munmap(p, 2 * g_page);
}

void s_str_unmapped() {
  uint8_t* p = pages(2);
  munmap(p + g_page, g_page);
  char* s = (char*)p + g_page - 20;
  memset(s, 'x', 20);  // no NUL: the second read faults (-EFAULT)
  auto r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), 20, "up to the unmapped page");
  // Starting in the unmapped page: nothing read.
  r = cap_call(1, {uint64_t(p + g_page + 8), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(p + g_page + 8), 0, "in the unmapped page");
  munmap(p, g_page);
}

void s_str_null() {
  auto r = cap_call(1, {0, 1, 2, 3, 4, 5, 6, 7});
  count_is(r, 0);
  r = cap_call(0xff, {0, 0, 0, 0, 0, 0, 0, 0});
  count_is(r, 0);
}

void s_str_bad() {
  auto r = cap_call(1, {0x10, 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, 0x10, 0, "0x10");
  r = cap_call(1, {~0ULL - 7, 1, 2, 3, 4, 5, 6, 7});  // the second read's ptr + n wraps
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, ~0ULL - 7, 0, "2^64 - 8");
}

void s_str_two() {
  uint8_t* p = pages(1);
  char *a = (char*)p + 100, *b = (char*)p + 300, *c = (char*)p + 500, *d = (char*)p + 700;
  strcpy(a, "first");
  strcpy(b, "not captured");
  strcpy(c, "third");
  strcpy(d, "eighth");
  auto r = cap_call(0x05, {uint64_t(a), uint64_t(b), uint64_t(c), 3, 4, 5, 6, 7});
  if (count_is(r, 2)) {
    expect_string(r[0], S_PROBE, 0, uint64_t(a), RH_STRING_MAX, "x0");
    expect_string(r[1], S_PROBE, 2, uint64_t(c), RH_STRING_MAX, "x2");
  }
  // Bits 0, 2, 7; x0 NULL: x2 then x7.
  r = cap_call(0x85, {0, uint64_t(b), uint64_t(c), 3, 4, 5, 6, uint64_t(d)});
  if (count_is(r, 2)) {
    expect_string(r[0], S_PROBE, 2, uint64_t(c), RH_STRING_MAX, "x2");
    expect_string(r[1], S_PROBE, 7, uint64_t(d), RH_STRING_MAX, "x7");
  }
  // All eight.
  r = cap_call(0xff, {uint64_t(a), uint64_t(b), uint64_t(c), uint64_t(d), uint64_t(a), uint64_t(b), uint64_t(c),
                      uint64_t(d)});
  if (count_is(r, 8))
    for (int i = 0; i < 8; i++) expect_string(r[i], S_PROBE, i, uint64_t(i % 4 == 0 ? a : i % 4 == 1 ? b : i % 4 == 2 ? c : d),
                                              RH_STRING_MAX, "all eight");
  munmap(p, g_page);
}

void s_str_long() {
  uint8_t* p = pages(2);
  // 10 bytes before the page end, 200 long: 10 bytes, then 86 from the next page.
  char* s = (char*)p + g_page - 10;
  for (int i = 0; i < 200; i++) s[i] = char('a' + i % 26);
  auto r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), RH_STRING_MAX, "across a page end");
  // Inside a page: one read.
  s = (char*)p + 100;
  for (int i = 0; i < 200; i++) s[i] = char('A' + i % 26);
  r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7});
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), RH_STRING_MAX, "inside a page");
  munmap(p, 2 * g_page);
}

void s_str_pool() {
  // The site word: pool 200 in bits 0-31, the mask in bits 32-39.
  constexpr uint32_t kPool = 200;
  static const char s[] = "pool";
  pool_set(kPool, 0);
  site_word(S_PROBE, kPool, 1);
  CallCtx c = call((void*)probe, ctx_with({uint64_t(s)}));
  site_word(S_PROBE, S_PROBE, 0);
  CHECK_EQ(probe_seen[30], c.ret);  // not hooked: pool 200 is full
  CHECK(drain(g_main_block).empty());
  CHECK_EQ(pool_word(kPool, RH_P_NMISSED), 1);
  CHECK_EQ(pool_word(kPool, RH_P_ACTIVE), 0);
  CHECK_EQ(pool_word(S_PROBE, RH_P_NMISSED), 0);
  pool_set(kPool, 1);
  auto r = cap_call(1, {uint64_t(s), 1, 2, 3, 4, 5, 6, 7}, kPool);
  if (count_is(r, 1)) expect_string(r[0], S_PROBE, 0, uint64_t(s), kAny, "pool 200");
  CHECK_EQ(pool_word(kPool, RH_P_NMISSED), 1);
  CHECK_EQ(pool_word(kPool, RH_P_ACTIVE), 0);
  CHECK_EQ(pool_word(S_PROBE, RH_P_ACTIVE), 0);
}

// ---- rings that fill up between an ENTRY record and its STRING records -------
// body() on a new thread owning block b, while another thread drains b into
// `out` (at most `batch` records a round, `pause_us` between rounds).
template <typename F>
static std::vector<Record> with_consumer(uint64_t b, size_t batch, int pause_us, F body) {
  std::vector<Record> out;
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    for (;;) {
      bool finished = done.load();
      uint64_t head = __atomic_load_n(&word(b, RH_B_HEAD), __ATOMIC_ACQUIRE);
      uint64_t tail = word(b, RH_B_TAIL), mask = word(b, RH_B_RING_MASK);
      size_t n = 0;
      for (; tail != head && n < batch; tail++, n++) out.push_back(((const Record*)word(b, RH_B_RING))[tail & mask]);
      rh_consumed(b, tail);
      if (finished && n == 0) return;
      if (pause_us) usleep(pause_us);
    }
  });
  std::thread worker([&] {
    block_register(thread_pointer(), b);
    body();
    block_unregister(thread_pointer());
  });
  worker.join();
  done = true;
  consumer.join();
  return out;
}

void s_str_slow_consumer() {
  // c_str(s, i) 300 times into a ring of 16, 3 records a call, drained 3 at
  // a time: the thread waits for room between ENTRY and STRING records too.
  hdr(RH_H_CONSUMER) = 1;
  site_word(S_STR, S_STR, 1);
  uint64_t b = block_new(16, 16);
  constexpr long kCalls = 300;
  char buf[32];
  long wrong = 0;
  auto r = with_consumer(b, 3, 50, [&] {
    for (long i = 0; i < kCalls; i++) {
      snprintf(buf, sizeof buf, "call %ld", i);
      wrong += c_str(buf, i) != 'c' + i;
    }
  });
  site_word(S_STR, S_STR, 0);
  CHECK_EQ(wrong, 0);
  played_calls();
  CHECK_EQ(word(b, RH_B_DROPPED), 0);
  CHECK_EQ(hdr(RH_H_DROPPED), 0);
  if (!count_is(r, 3 * kCalls)) return;
  long bad = 0;
  for (long i = 0; i < kCalls; i++) {
    const Record &e = r[3 * i], &s = r[3 * i + 1], &x = r[3 * i + 2];
    char want[32];
    int len = snprintf(want, sizeof want, "call %ld", i);
    bad += !(e.kind == RH_KIND_ENTRY && e.site == S_STR && e.regs[0] == uint64_t(buf) && e.regs[1] == uint64_t(i));
    bad += !(s.kind == RH_KIND_STRING && s.site == S_STR && s.tsc == 0 && s.sp == uint64_t(buf));
    // buf is on the stack, far from a page end (else R_RET < 96 is right).
    if (g_pvr && (uint64_t(buf) & 4095) < 4096 - RH_STRING_MAX)
      bad += !(s.ret == RH_STRING_MAX && memcmp(bytes(s), want, len + 1) == 0);
    else if (g_pvr)
      bad += !(s.ret > uint64_t(len) && memcmp(bytes(s), want, len + 1) == 0);
    else
      bad += s.ret != 0;
    bad += !(x.kind == RH_KIND_EXIT && x.site == S_STR && x.regs[0] == uint64_t('c' + i) && x.sp == e.sp);
  }
  CHECK_EQ(bad, 0);
}

void s_str_small_ring() {
  // A ring of 2 and an entry of 4 records (ENTRY + 3 STRING): the ENTRY and
  // the first STRING are kept, the 2 others dropped and counted (they could
  // never fit: no waiting for them), the EXIT waits for the consumer.
  hdr(RH_H_CONSUMER) = 1;
  static const char s0[] = "zero", s1[] = "one", s2[] = "two";
  uint64_t b = block_new(2, 16);
  site_word(S_PROBE, S_PROBE, 0x7);
  auto r = with_consumer(b, 1, 100, [&] { call((void*)probe, ctx_with({uint64_t(s0), uint64_t(s1), uint64_t(s2)})); });
  site_word(S_PROBE, S_PROBE, 0);
  CHECK_EQ(word(b, RH_B_DROPPED), 2);
  CHECK_EQ(hdr(RH_H_DROPPED), 2);
  if (count_is(r, 3)) {
    CHECK(r[0].kind == RH_KIND_ENTRY);
    expect_string(r[1], S_PROBE, 0, uint64_t(s0), kAny, "kept");
    CHECK(r[2].kind == RH_KIND_EXIT);
  }
  // A ring of 4 and the same entries, 50 times: each fits, waiting for room
  // between its records (the last call's EXIT still in the ring).
  hdr(RH_H_DROPPED) = 0;
  uint64_t b4 = block_new(4, 16);
  site_word(S_PROBE, S_PROBE, 0x7);
  r = with_consumer(b4, 1, 20, [&] {
    for (int i = 0; i < 50; i++) call((void*)probe, ctx_with({uint64_t(s0), uint64_t(s1), uint64_t(s2)}));
  });
  site_word(S_PROBE, S_PROBE, 0);
  CHECK_EQ(word(b4, RH_B_DROPPED), 0);
  CHECK_EQ(hdr(RH_H_DROPPED), 0);
  if (!count_is(r, 5 * 50)) return;
  long bad = 0;
  for (int i = 0; i < 50; i++) {
    const Record* c = &r[5 * i];
    bad += c[0].kind != RH_KIND_ENTRY || c[4].kind != RH_KIND_EXIT;
    const char* want[3] = {s0, s1, s2};
    for (int k = 0; k < 3; k++)
      bad += !(c[1 + k].kind == RH_KIND_STRING && c[1 + k].tsc == uint64_t(k) && c[1 + k].sp == uint64_t(want[k]) &&
               (g_pvr ? c[1 + k].ret > strlen(want[k]) && strcmp((const char*)bytes(c[1 + k]), want[k]) == 0
                      : c[1 + k].ret == 0));
  }
  CHECK_EQ(bad, 0);
}

void s_str_no_consumer() {
  // consumer = 0: a full ring drops. An ENTRY record dropped drops its STRING
  // records too (counted, one each, nothing read); a STRING record that finds
  // the ring full after its ENTRY record is dropped alone.
  static const char s0[] = "zero", s1[] = "one", s2[] = "two";
  uint64_t b = block_new(4, 16);
  site_word(S_PROBE, S_PROBE, 0x3);
  std::thread t([&] {
    block_register(thread_pointer(), b);
    // 1st call: E S S, then X: the ring is full. 2nd: E, S, S and X dropped.
    for (int i = 0; i < 2; i++) call((void*)probe, ctx_with({uint64_t(s0), uint64_t(s1)}));
    block_unregister(thread_pointer());
  });
  t.join();
  site_word(S_PROBE, S_PROBE, 0);
  auto r = drain(b);
  if (count_is(r, 4)) {
    CHECK(r[0].kind == RH_KIND_ENTRY && r[3].kind == RH_KIND_EXIT);
    expect_string(r[1], S_PROBE, 0, uint64_t(s0), kAny, "s0");
    expect_string(r[2], S_PROBE, 1, uint64_t(s1), kAny, "s1");
  }
  CHECK_EQ(word(b, RH_B_DROPPED), 4);
  CHECK_EQ(hdr(RH_H_DROPPED), 4);
  // One record left unconsumed in a ring of 4, an entry of E S S S: E S S
  // kept, the last STRING dropped alone; then the EXIT dropped.
  uint64_t b2 = block_new(4, 16);
  word(b2, RH_B_HEAD) = 1;
  site_word(S_PROBE, S_PROBE, 0x7);
  std::thread t2([&] {
    block_register(thread_pointer(), b2);
    call((void*)probe, ctx_with({uint64_t(s0), uint64_t(s1), uint64_t(s2)}));
    block_unregister(thread_pointer());
  });
  t2.join();
  site_word(S_PROBE, S_PROBE, 0);
  r = drain(b2);
  if (count_is(r, 4)) {
    CHECK(r[1].kind == RH_KIND_ENTRY);
    expect_string(r[2], S_PROBE, 0, uint64_t(s0), kAny, "s0");
    expect_string(r[3], S_PROBE, 1, uint64_t(s1), kAny, "s1");
  }
  CHECK_EQ(word(b2, RH_B_DROPPED), 2);
  CHECK_EQ(hdr(RH_H_DROPPED), 6);
  if (long n = played_calls()) printf("  note: %ld process_vm_readv calls played so far\n", n);
}
