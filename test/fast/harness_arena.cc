// The harness's tracer half (harness.h): arena layout, thread table, hooking,
// draining. Layout choices here are the harness's own; only the offsets and
// rules of recorder.h are the contract.
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "../../native/fast/planner.h"
#include "harness.h"

extern "C" char main_anchor_for_nm;  // see symbol(): a known symbol to find the load bias

namespace harness {

Arena arena;
int failures = 0;

namespace {

constexpr uint64_t kThreadSlots = 64;
constexpr uint64_t kStubArea = 1 << 20;
std::mutex table_lock;

uint64_t alloc(uint64_t bytes) {
  uint64_t a = (arena.next + 127) & ~127ull;
  arena.next = a + bytes;
  if (arena.next > arena.base + arena.size) {
    fprintf(stderr, "arena full\n");
    abort();
  }
  return a;
}

uint64_t fs_base() {
  uint64_t fs;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
  return fs;
}

// A region within ±2 GiB of `near` (a stub must be reachable by jmp rel32).
uint64_t map_near(uint64_t near, uint64_t bytes) {
  for (uint64_t d = 1 << 24; d < (1ull << 30); d += 1 << 24) {
    void* want = reinterpret_cast<void*>((near - d) & ~0xfffull);
    void* p = mmap(want, bytes, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p != MAP_FAILED) return reinterpret_cast<uint64_t>(p);
  }
  abort();
}

}  // namespace

void arena_init(bool fsgsbase, uint32_t sites) {
  arena.size = 256ull << 20;
  void* p = mmap(nullptr, arena.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  arena.base = reinterpret_cast<uint64_t>(p);
  arena.next = arena.base + RH_HEADER_SIZE;
  arena.set(RH_H_MAGIC, RH_MAGIC);
  arena.set(RH_H_CONSUMER, 1);
  arena.set(RH_H_TRACER_PID, uint64_t(getpid()));
  arena.set(RH_H_PID, uint64_t(getpid()));  // the tracee is us
  arena.set(RH_H_THREADS, alloc(kThreadSlots * RH_T_SLOT_SIZE));
  arena.set(RH_H_THREAD_MASK, kThreadSlots - 1);
  arena.set(RH_H_SITES, alloc(sites * 8ull));
  arena.set(RH_H_POOLS, alloc(sites * uint64_t(RH_POOL_SIZE)));
  for (uint32_t s = 0; s < sites; s++) {
    word(arena.header(RH_H_SITES) + 8ull * s) = s;  // one pool per site, same index
    set_pool_max(s, 1 << 20);
  }

  const rethook::FastRecorder& r = rethook::fast_recorder();
  void* blob = mmap(nullptr, 4096 * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memcpy(blob, r.code, r.size);
  arena.recorder = reinterpret_cast<uint64_t>(blob);
  word(arena.recorder + r.arena_word) = arena.base;
  word(arena.recorder + r.flags_word) = fsgsbase ? RH_FLAG_FSGSBASE : 0;
  mprotect(blob, 4096 * 2, PROT_READ | PROT_EXEC);  // as the tracee maps it
  arena.entry = arena.recorder + r.entry;
  arena.ret = arena.recorder + r.ret;

  arena.stubs = arena.stubs_next = map_near(reinterpret_cast<uint64_t>(&arena_init), kStubArea);
  arena.set(RH_H_ENABLED, 1);  // last: nothing is hooked before the rest is in place
}

uint64_t thread_register(uint64_t ring_records, uint64_t nodes_max) {
  std::lock_guard<std::mutex> g(table_lock);
  uint64_t block = alloc(RH_B_NODES + nodes_max * RH_NODE_SIZE);
  uint64_t ring = alloc(ring_records * RH_RECORD_SIZE);
  word(block + RH_B_RING) = ring;
  word(block + RH_B_RING_MASK) = ring_records - 1;
  word(block + RH_B_NODES_MAX) = nodes_max;
  word(block + RH_B_TID) = uint64_t(gettid());
  uint64_t key = fs_base(), table = arena.header(RH_H_THREADS), mask = arena.header(RH_H_THREAD_MASK);
  for (uint64_t i = RH_THREAD_HASH(key);; i++) {
    uint64_t slot = table + (i & mask) * RH_T_SLOT_SIZE;
    if (word(slot + RH_T_KEY) > 1) continue;
    word(slot + RH_T_BLOCK) = block;  // the block before the key: a probe that finds the key finds the block
    __atomic_store_n(reinterpret_cast<uint64_t*>(slot + RH_T_KEY), key, __ATOMIC_RELEASE);
    return block;
  }
}

void thread_unregister() {
  std::lock_guard<std::mutex> g(table_lock);
  uint64_t key = fs_base(), table = arena.header(RH_H_THREADS), mask = arena.header(RH_H_THREAD_MASK);
  for (uint64_t i = RH_THREAD_HASH(key), n = 0; n <= mask; i++, n++) {
    uint64_t slot = table + (i & mask) * RH_T_SLOT_SIZE;
    if (word(slot + RH_T_KEY) == key) {
      word(slot + RH_T_KEY) = 1;
      return;
    }
    if (word(slot + RH_T_KEY) == 0) return;
  }
}

std::string hook(void* fn, size_t size, uint32_t site) {
  uint64_t f = reinterpret_cast<uint64_t>(fn);
  uint64_t stub = arena.stubs_next;
  rethook::FastPlan p = rethook::fast_plan(rethook::RemotePtr(f), static_cast<const uint8_t*>(fn), size,
                                           rethook::RemotePtr(stub), rethook::RemotePtr(arena.entry), site);
  if (!p.ok) return p.reason;
  if (p.stub.size() > rethook::fast_stub_max_size()) return "stub larger than fast_stub_max_size()";
  arena.stubs_next += (p.stub.size() + 15) & ~15ull;
  memcpy(reinterpret_cast<void*>(stub), p.stub.data(), p.stub.size());
  uint64_t page = (f + p.at) & ~0xfffull;
  mprotect(reinterpret_cast<void*>(page), 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
  memcpy(reinterpret_cast<void*>(f + p.at), p.patch.data(), p.patch.size());
  __builtin___clear_cache(reinterpret_cast<char*>(f), reinterpret_cast<char*>(f + size));
  return "";
}

void set_site(uint32_t site, uint32_t pool, uint8_t capture) {
  word(arena.header(RH_H_SITES) + 8ull * site) = uint64_t(pool) | uint64_t(capture) << RH_SITE_CAPTURE_SHIFT;
}

void set_pool_max(uint32_t pool, uint64_t max) { word(arena.header(RH_H_POOLS) + pool * RH_POOL_SIZE + RH_P_MAX) = max; }

uint64_t pool_word(uint32_t pool, int off) { return word(arena.header(RH_H_POOLS) + pool * RH_POOL_SIZE + off); }

size_t drain(uint64_t block, std::vector<Record>* out, size_t max) {
  uint64_t head = __atomic_load_n(reinterpret_cast<uint64_t*>(block + RH_B_HEAD), __ATOMIC_ACQUIRE);
  uint64_t tail = word(block + RH_B_TAIL), mask = word(block + RH_B_RING_MASK), ring = word(block + RH_B_RING);
  size_t n = 0;
  for (; tail != head && n < max; tail++, n++) {
    uint64_t r = ring + (tail & mask) * RH_RECORD_SIZE;
    Record rec;
    uint64_t k = word(r + RH_R_KIND);
    rec.kind = k & 0xffffffff, rec.site = k >> 32;
    rec.tsc = word(r + RH_R_TSC), rec.sp = word(r + RH_R_SP), rec.ret = word(r + RH_R_RET);
    for (int i = 0; i < 8; i++) rec.regs[i] = word(r + RH_R_REGS + 8 * i);
    rec.fp = word(r + RH_R_FP), rec.depth = word(r + RH_R_DEPTH);
    memcpy(rec.str, reinterpret_cast<const void*>(r + RH_R_REGS), RH_STRING_MAX);
    if (out) out->push_back(rec);
  }
  rh_consumed(block, tail);
  return n;
}

bool symbol(const char* name, void** addr, size_t* size) {
  static std::vector<std::tuple<std::string, uint64_t, uint64_t>> syms;
  static int64_t bias = 0;
  if (syms.empty()) {
    std::string cmd = "nm -S --defined-only /proc/" + std::to_string(getpid()) + "/exe";  // not nm's own
    FILE* f = popen(cmd.c_str(), "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
      unsigned long long a, s;
      char type, n[400];
      if (sscanf(line, "%llx %llx %c %399s", &a, &s, &type, n) == 4) syms.emplace_back(n, a, s);
    }
    if (f) pclose(f);
    for (auto& [n, a, s] : syms)
      if (n == "main_anchor_for_nm") bias = int64_t(reinterpret_cast<uint64_t>(&main_anchor_for_nm) - a);
  }
  for (auto& [n, a, s] : syms) {
    if (n == name) {
      *addr = reinterpret_cast<void*>(a + bias);
      *size = s;
      return true;
    }
  }
  return false;
}

Scenario::~Scenario() {
  if (failure.empty()) {
    printf("ok %s\n", name.c_str());
  } else {
    printf("FAIL %s: %s\n", name.c_str(), failure.c_str());
    failures++;
  }
  fflush(stdout);
}

bool Scenario::expect(bool ok, const std::string& what) {
  if (!ok && failure.empty()) failure = what;
  return ok;
}

std::string describe(const Record& r) {
  char b[256];
  snprintf(b, sizeof b, "{kind %llu site %llu sp %llx ret %llx r0 %llx r1 %llx fp %llx depth %llu}",
           (unsigned long long)r.kind, (unsigned long long)r.site, (unsigned long long)r.sp,
           (unsigned long long)r.ret, (unsigned long long)r.regs[0], (unsigned long long)r.regs[1],
           (unsigned long long)r.fp, (unsigned long long)r.depth);
  return b;
}

bool expect_record(Scenario& s, const Record& r, uint64_t kind, uint64_t site, uint64_t depth, const char* what) {
  return s.expect(r.kind == kind && r.site == site && r.depth == depth,
                  std::string(what) + ": got " + describe(r) + ", want kind " + std::to_string(kind) + " site " +
                      std::to_string(site) + " depth " + std::to_string(depth));
}

}  // namespace harness
