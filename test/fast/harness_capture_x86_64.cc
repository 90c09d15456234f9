// Captured strings (recorder.h, entry step 6), x86-64: a site word with a
// capture mask makes the entry write one STRING record per captured argument
// whose register is not 0, after its ENTRY record, read with process_vm_readv
// on our own pid (RH_H_PID). R_RET is the bytes read: as far as RH_STRING_MAX
// or the pointer's page end (then, no NUL read yet, the rest from the next
// page), so it may count bytes after the NUL; 0 for a bad pointer.
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "harness.h"

using namespace harness;

extern "C" {
// Each begins with a store to `sink` (7 bytes, rip-relative): patchable.
__attribute__((noinline)) long cap3(const char* a, long b, const char* c) {
  sink = b;
  return b + (a != nullptr) + (c != nullptr);
}
__attribute__((noinline)) long cap_rec(const char* s, long n);
}

namespace {

long call_cap3(const char* a, long b, const char* c) {
  long (*volatile p)(const char*, long, const char*) = cap3;
  return p(a, b, c);
}

}  // namespace

extern "C" __attribute__((noinline)) long cap_rec(const char* s, long n) {
  sink = n;
  if (n <= 1) return 1;
  long (*volatile p)(const char*, long) = cap_rec;
  return n + p(s, n - 1);
}

namespace {

uint64_t block;
uint8_t* pages;  // 3 pages, read-write: strings placed exactly

std::vector<Record> take() {
  std::vector<Record> r;
  drain(block, &r);
  return r;
}

// The bytes a STRING record holds.
std::string bytes(const Record& r) { return std::string(reinterpret_cast<const char*>(r.str), r.ret); }

bool expect_string(Scenario& s, const Record& r, uint64_t index, const void* ptr, uint64_t n, const char* what) {
  bool ok = s.expect(r.kind == RH_KIND_STRING && r.site == S_CAP && r.tsc == index &&
                         r.sp == reinterpret_cast<uint64_t>(ptr) && r.ret == n,
                     std::string(what) + ": got kind " + std::to_string(r.kind) + " site " + std::to_string(r.site) +
                         " index " + std::to_string(r.tsc) + " ptr " + std::to_string(r.sp) + " bytes " +
                         std::to_string(r.ret) + ", want index " + std::to_string(index) + " bytes " + std::to_string(n));
  if (ok && n) ok = s.expect(memcmp(r.str, ptr, n) == 0, std::string(what) + ": the bytes differ");
  return ok;
}

// One call of cap3 with the site's mask; checks ENTRY ... EXIT around the
// STRING records and returns those.
std::vector<Record> call_strings(Scenario& s, const char* a, long b, const char* c, size_t strings) {
  long got = call_cap3(a, b, c);
  s.expect(got == b + (a != nullptr) + (c != nullptr), "result " + std::to_string(got));
  auto r = take();
  if (!s.expect(r.size() == strings + 2, "want " + std::to_string(strings + 2) + " records, got " + std::to_string(r.size())))
    return {};
  expect_record(s, r.front(), RH_KIND_ENTRY, S_CAP, 0, "entry");
  expect_record(s, r.back(), RH_KIND_EXIT, S_CAP, 0, "exit");
  s.expect(r[0].regs[0] == uint64_t(a) && r[0].regs[1] == uint64_t(b) && r[0].regs[2] == uint64_t(c), "entry args");
  s.expect(r.back().regs[0] == uint64_t(got), "exit value");
  return std::vector<Record>(r.begin() + 1, r.end() - 1);
}

void hook_fn(Scenario& s, const char* name, void* fn, uint32_t site) {
  void* a;
  size_t size;
  if (!s.expect(symbol(name, &a, &size) && a == fn, std::string("no symbol ") + name)) return;
  std::string why = hook(a, size, site);
  s.expect(why.empty(), std::string(name) + ": " + why);
}

// A worker thread with a ring of 4 calls cap3 through rh_call with 6 string
// pointers (mask 0x3f): ENTRY + 6 STRING + EXIT per call, but 3 STRING
// records wait on nothing the tracer can free (head has not moved): the
// first 3 are kept, the others dropped, and nothing deadlocks.
void small_ring(Scenario& s) {
  const int calls = 10;
  const char* strs[6];
  for (int k = 0; k < 6; k++) strs[k] = strcpy(reinterpret_cast<char*>(pages + 256 * k), ("s" + std::to_string(k)).c_str());
  std::atomic<uint64_t> b{0};
  std::atomic<bool> done{false}, consumed{false};
  std::thread t([&] {
    b = thread_register(4);
    for (int i = 0; i < calls; i++) {
      Call c = {};
      for (int k = 0; k < 6; k++) c.args[k] = reinterpret_cast<uint64_t>(strs[k]);
      rh_call(reinterpret_cast<void*>(cap3), &c);
    }
    done = true;
    while (!consumed.load()) usleep(100);
    thread_unregister();
  });
  while (!b.load()) usleep(10);
  std::vector<Record> r;
  for (bool more = true; more;) {
    more = !done.load();
    if (drain(b, &r)) more = true;
  }
  consumed = true;
  t.join();
  if (s.expect(r.size() == 5u * calls, "kept " + std::to_string(r.size()))) {
    for (int i = 0; i < calls; i++) {
      const Record* x = &r[5 * i];
      expect_record(s, x[0], RH_KIND_ENTRY, S_CAP, 0, "entry");
      for (int k = 0; k < 3; k++) expect_string(s, x[1 + k], k, strs[k], RH_STRING_MAX, "string");
      expect_record(s, x[4], RH_KIND_EXIT, S_CAP, 0, "exit");
    }
  }
  s.expect(word(b + RH_B_DROPPED) == 3u * calls, "dropped " + std::to_string(word(b + RH_B_DROPPED)));
}

}  // namespace

namespace harness {

void capture_scenarios(uint64_t main_block) {
  block = main_block;
  pages = static_cast<uint8_t*>(mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (int i = 0; i < 3 * 4096; i++) pages[i] = uint8_t(0x80 | (i * 7));  // no NUL anywhere unless put there
  {
    Scenario s("capture: hook the capture functions");
    hook_fn(s, "cap3", reinterpret_cast<void*>(cap3), S_CAP);
    hook_fn(s, "cap_rec", reinterpret_cast<void*>(cap_rec), S_CAP_REC);
    if (!s.failure.empty()) return;
  }
  set_site(S_CAP, S_CAP, 1);
  {
    Scenario s("capture: a short string: ENTRY, then STRING 0 (96 bytes read, past its NUL)");
    char* p = reinterpret_cast<char*>(pages);
    strcpy(p, "hello");
    auto r = call_strings(s, p, 7, nullptr, 1);
    if (!r.empty()) {
      expect_string(s, r[0], 0, p, RH_STRING_MAX, "string");
      s.expect(strcmp(bytes(r[0]).c_str(), "hello") == 0, "not hello");
    }
    // 10 bytes before a page end (the next page mapped): the NUL is in them, no second read.
    p = reinterpret_cast<char*>(pages + 4096 - 10);
    strcpy(p, "hello");
    r = call_strings(s, p, 8, nullptr, 1);
    if (!r.empty()) expect_string(s, r[0], 0, p, 10, "string at a page end");
  }
  {
    Scenario s("capture: a string crossing into the next page: 96 bytes read in two parts");
    char* p = reinterpret_cast<char*>(pages + 2 * 4096 - 20);
    memset(p, 'a', 50);
    p[50] = 0;
    auto r = call_strings(s, p, 1, nullptr, 1);
    if (!r.empty()) {
      expect_string(s, r[0], 0, p, RH_STRING_MAX, "string");
      s.expect(bytes(r[0]).substr(0, 51) == std::string(50, 'a') + '\0', "the string");
    }
  }
  {
    Scenario s("capture: a string running into an unmapped page: cut at the page end, no crash");
    uint8_t* two = static_cast<uint8_t*>(mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    munmap(two + 4096, 4096);
    char* p = reinterpret_cast<char*>(two + 4096 - 40);
    memset(p, 'x', 40);
    auto r = call_strings(s, p, 2, nullptr, 1);
    if (!r.empty()) expect_string(s, r[0], 0, p, 40, "string");
    munmap(two, 4096);
  }
  {
    Scenario s("capture: a NULL pointer: no STRING record");
    call_strings(s, nullptr, 3, nullptr, 0);
  }
  {
    Scenario s("capture: bad pointers (0x10, -1, a kernel address): STRING records of 0 bytes, no crash");
    for (uint64_t bad : {0x10ull, ~0ull, 0xffffffff81000000ull}) {
      const char* p = reinterpret_cast<const char*>(bad);
      auto r = call_strings(s, p, 4, nullptr, 1);
      if (!r.empty()) expect_string(s, r[0], 0, p, 0, "string");
    }
  }
  {
    Scenario s("capture: arguments 0 and 2: two STRING records in order");
    set_site(S_CAP, S_CAP, 0b101);
    char* a = reinterpret_cast<char*>(pages + 4096);
    char* c = reinterpret_cast<char*>(pages + 2048);
    strcpy(a, "first");
    strcpy(c, "second");
    auto r = call_strings(s, a, 5, c, 2);
    if (r.size() == 2) {
      expect_string(s, r[0], 0, a, RH_STRING_MAX, "argument 0");
      expect_string(s, r[1], 2, c, RH_STRING_MAX, "argument 2");
      s.expect(strcmp(bytes(r[0]).c_str(), "first") == 0 && strcmp(bytes(r[1]).c_str(), "second") == 0, "the strings");
    }
    // Argument 0 NULL: only argument 2's record.
    r = call_strings(s, nullptr, 6, c, 1);
    if (!r.empty()) expect_string(s, r[0], 2, c, RH_STRING_MAX, "argument 2 alone");
    set_site(S_CAP, S_CAP, 1);
  }
  {
    Scenario s("capture: a string longer than 96 bytes: 96 read");
    std::string big(200, 'z');
    char* p = reinterpret_cast<char*>(pages + 100);
    memcpy(p, big.c_str(), 201);
    auto r = call_strings(s, p, 9, nullptr, 1);
    if (!r.empty()) expect_string(s, r[0], 0, p, RH_STRING_MAX, "string");
  }
  {
    // Site S_CAP_REC's word: pool S_CAP (max 2) and a mask: the pool is the
    // low 32 bits, the mask is not part of the index.
    Scenario s("capture: the pool is the site word's low 32 bits (maxActive with a mask)");
    set_site(S_CAP_REC, S_CAP, 1);
    set_pool_max(S_CAP, 2);
    uint64_t missed0 = pool_word(S_CAP, RH_P_NMISSED), other0 = pool_word(S_CAP_REC, RH_P_NMISSED);
    long (*volatile p)(const char*, long) = cap_rec;
    s.expect(p("rec", 5) == 15, "result");
    auto r = take();
    if (s.expect(r.size() == 6, "want 6 records, got " + std::to_string(r.size()))) {
      s.expect(r[0].kind == RH_KIND_ENTRY && r[0].site == S_CAP_REC && r[0].depth == 0, "entry 0");
      s.expect(r[1].kind == RH_KIND_STRING && r[1].site == S_CAP_REC && r[1].tsc == 0 && bytes(r[1]).substr(0, 4) == std::string("rec", 4), "string 0");
      s.expect(r[2].kind == RH_KIND_ENTRY && r[2].depth == 1 && r[2].regs[1] == 4, "entry 1");
      s.expect(r[3].kind == RH_KIND_STRING && r[3].site == S_CAP_REC, "string 1");
      s.expect(r[4].kind == RH_KIND_EXIT && r[4].depth == 1 && r[5].kind == RH_KIND_EXIT && r[5].regs[0] == 15, "exits");
    }
    s.expect(pool_word(S_CAP, RH_P_NMISSED) == missed0 + 3 && pool_word(S_CAP, RH_P_ACTIVE) == 0, "pool S_CAP counters");
    s.expect(pool_word(S_CAP_REC, RH_P_NMISSED) == other0 && pool_word(S_CAP_REC, RH_P_ACTIVE) == 0, "pool S_CAP_REC touched");
    set_pool_max(S_CAP, 1 << 20);
    set_site(S_CAP_REC, S_CAP_REC, 0);
  }
  {
    // Ring of 16, nobody draining, 100 calls of 3 records: calls 0-4 fill 15
    // slots, call 5's ENTRY the 16th; its STRING and EXIT are dropped, and
    // every record of calls 6-99 (a STRING whose ENTRY was dropped is counted).
    Scenario s("capture: consumer = 0: STRING records dropped and counted");
    arena.set(RH_H_CONSUMER, 0);
    uint64_t dropped0 = arena.header(RH_H_DROPPED);
    const char* str = "drop";
    std::thread([&] {
      uint64_t b = thread_register(16);
      for (long i = 0; i < 100; i++)
        if (call_cap3(str, i, nullptr) != i + 1) s.expect(false, "a wrong result");
      std::vector<Record> r;
      drain(b, &r);
      s.expect(r.size() == 16 && word(b + RH_B_DROPPED) == 284,
               "kept " + std::to_string(r.size()) + ", dropped " + std::to_string(word(b + RH_B_DROPPED)));
      if (r.size() == 16) {
        for (int i = 0; i < 5; i++)
          s.expect(r[3 * i].kind == RH_KIND_ENTRY && r[3 * i + 1].kind == RH_KIND_STRING && r[3 * i + 2].kind == RH_KIND_EXIT,
                   "call " + std::to_string(i));
        s.expect(r[15].kind == RH_KIND_ENTRY && r[15].regs[1] == 5, "the last record: call 5's ENTRY");
      }
      thread_unregister();
    }).join();
    s.expect(arena.header(RH_H_DROPPED) == dropped0 + 284, "arena's dropped count");
    arena.set(RH_H_CONSUMER, 1);
  }
  {
    Scenario s("capture: a ring of 4 and 6 strings per call: 3 kept, 3 dropped, no deadlock");
    set_site(S_CAP, S_CAP, 0x3f);
    small_ring(s);
    set_site(S_CAP, S_CAP, 1);
  }
}

// Calls of an empty function with a pointer to a short string: hooked with
// no capture, then with argument 0 captured (96 bytes read in one syscall).
void capture_benchmark() {
  const long n = 100000;
  double none = 0, one = 0;
  alignas(4096) static char str[4096] = "hello";
  auto run = [&](void (*fn)(const char*)) {
    void (*volatile p)(const char*) = fn;
    timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) p(str);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / double(n);
  };
  uint64_t taken = 0;
  std::thread([&] {
    uint64_t b = thread_register(1 << 19);
    memset(reinterpret_cast<void*>(word(b + RH_B_RING)), 0, (1 << 19) * RH_RECORD_SIZE);
    set_site(S_EMPTY_CAP, S_EMPTY_CAP, 0);
    none = run(rh_empty_cap);
    taken += drain(b, nullptr);
    set_site(S_EMPTY_CAP, S_EMPTY_CAP, 1);
    one = run(rh_empty_cap);
    taken += drain(b, nullptr);
    set_site(S_EMPTY_CAP, S_EMPTY_CAP, 0);
    thread_unregister();
  }).join();
  printf("bench: empty function with a string argument, %ld calls: hooked %.1f ns/call with no capture, "
         "hooked %.1f ns/call with the string captured (+%.1f ns per captured string)\n", n, none, one, one - none);
  Scenario s("benchmark: captured strings, every record kept");
  s.expect(taken == 5 * uint64_t(n), "taken " + std::to_string(taken));
}

}  // namespace harness
