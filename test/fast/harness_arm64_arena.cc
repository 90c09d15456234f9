// The harness's tracer half: the arena laid out per recorder.h, the recorder
// installed, stubs near the text, functions patched, rings drained.
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "harness_arm64.h"

Harness H;
int g_failures = 0;

namespace {

constexpr uint64_t kArenaSize = 64 << 20;
constexpr uint64_t kThreads = 4096, kThreadSlots = 64;
constexpr uint64_t kSites = 8192;  // 1024 sites
constexpr uint64_t kPools = 16384, kMaxPools = 256;
constexpr uint64_t kBump = 32768;

std::map<std::string, size_t> g_sizes;

void die(const char* what) {
  perror(what);
  _exit(2);
}

// Symbol sizes from our own ELF's .symtab (static: no dladdr).
void load_symbols() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (elf.size() < sizeof(Elf64_Ehdr)) die("/proc/self/exe");
  auto eh = reinterpret_cast<const Elf64_Ehdr*>(elf.data());
  auto sh = reinterpret_cast<const Elf64_Shdr*>(elf.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    const char* strtab = elf.data() + sh[sh[i].sh_link].sh_offset;
    auto sym = reinterpret_cast<const Elf64_Sym*>(elf.data() + sh[i].sh_offset);
    for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Sym); j++)
      if (ELF64_ST_TYPE(sym[j].st_info) == STT_FUNC) g_sizes[strtab + sym[j].st_name] = sym[j].st_size;
  }
}

}  // namespace

void* map_near(uint64_t near, size_t size) {
  // Hints above the text; `b` reaches +-128 MiB.
  for (uint64_t hint = (near & ~0xFFFFFULL) + (8 << 20); hint < near + (100 << 20); hint += 8 << 20) {
    void* p = mmap((void*)hint, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) continue;
    uint64_t a = uint64_t(p);
    if (a - near < (120 << 20) || near - a < (120 << 20)) return p;
    munmap(p, size);
  }
  die("no stub page near the text");
  return nullptr;
}

bool check(bool ok, const char* what, const std::string& detail) {
  if (!ok) {
    g_failures++;
    printf("  FAILED: %s %s\n", what, detail.c_str());
  }
  return ok;
}

std::string hexpair(uint64_t a, uint64_t b) {
  char buf[64];
  snprintf(buf, sizeof buf, "(0x%" PRIx64 " vs 0x%" PRIx64 ")", a, b);
  return buf;
}

uint64_t& hdr(uint64_t off) { return word(H.arena, off); }
uint64_t& pool_word(uint32_t pool, uint64_t off) { return word(hdr(RH_H_POOLS) + pool * RH_POOL_SIZE, off); }
void pool_set(uint32_t pool, uint64_t max) { pool_word(pool, RH_P_MAX) = max; }
size_t symbol_size(const char* name) { return g_sizes.count(name) ? g_sizes[name] : 0; }

void harness_init() {
  load_symbols();
  void* a = mmap(nullptr, kArenaSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) die("arena");
  H.arena = uint64_t(a);
  hdr(RH_H_MAGIC) = RH_MAGIC;
  hdr(RH_H_ENABLED) = 1;
  hdr(RH_H_CONSUMER) = 0;
  hdr(RH_H_TRACER_PID) = uint64_t(getpid());
  hdr(RH_H_THREADS) = H.arena + kThreads;
  hdr(RH_H_THREAD_MASK) = kThreadSlots - 1;
  hdr(RH_H_SITES) = H.arena + kSites;
  hdr(RH_H_POOLS) = H.arena + kPools;
  for (uint32_t p = 0; p < kMaxPools; p++) pool_set(p, 1 << 20);
  H.bump = H.arena + kBump;
  H.bump_end = H.arena + kArenaSize;

  const rethook::FastRecorder& r = rethook::fast_recorder();
  size_t size = (r.size + 4095) & ~size_t(4095);
  void* b = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) die("blob");
  memcpy(b, r.code, r.size);
  word(uint64_t(b), r.arena_word) = H.arena;  // before any stub can run
  if (mprotect(b, size, PROT_READ | PROT_EXEC) != 0) die("mprotect blob");
  __builtin___clear_cache((char*)b, (char*)b + r.size);
  H.blob = uint64_t(b);

  void* s = map_near(uint64_t(&probe), 1 << 20);
  H.stubs = uint64_t(s);
  H.stubs_end = H.stubs + (1 << 20);
}

uint64_t block_new(uint64_t records, uint64_t nodes_max) {
  uint64_t size = RH_B_NODES + nodes_max * RH_NODE_SIZE;
  uint64_t block = H.bump;
  uint64_t ring = (block + size + 127) & ~uint64_t(127);
  H.bump = ring + records * RH_RECORD_SIZE;
  if (H.bump > H.bump_end) die("arena full");
  memset((void*)block, 0, ring - block);
  word(block, RH_B_RING) = ring;
  word(block, RH_B_RING_MASK) = records - 1;
  word(block, RH_B_NODES_MAX) = nodes_max;
  word(block, RH_B_TID) = uint64_t(gettid());
  return block;
}

// Slots are written block first, key last (a thread that probes meanwhile
// sees an empty or a complete slot).
void block_register(uint64_t tp, uint64_t block) {
  uint64_t table = hdr(RH_H_THREADS), mask = hdr(RH_H_THREAD_MASK);
  for (uint64_t i = RH_THREAD_HASH(tp), n = 0; n <= mask; i++, n++) {
    uint64_t slot = table + (i & mask) * RH_T_SLOT_SIZE;
    uint64_t key = word(slot, RH_T_KEY);
    if (key == 0 || key == 1) {
      word(slot, RH_T_BLOCK) = block;
      __atomic_store_n(&word(slot, RH_T_KEY), tp, __ATOMIC_RELEASE);
      return;
    }
  }
  die("thread table full");
}

void block_unregister(uint64_t tp) {
  uint64_t table = hdr(RH_H_THREADS), mask = hdr(RH_H_THREAD_MASK);
  for (uint64_t i = RH_THREAD_HASH(tp), n = 0; n <= mask; i++, n++) {
    uint64_t slot = table + (i & mask) * RH_T_SLOT_SIZE;
    if (word(slot, RH_T_KEY) == tp) {
      word(slot, RH_T_KEY) = 1;  // deleted: later probes go on past it
      return;
    }
    if (word(slot, RH_T_KEY) == 0) return;
  }
}

bool hook(const void* fn, const char* name, uint32_t site, uint32_t pool, std::string* why) {
  const rethook::FastRecorder& r = rethook::fast_recorder();
  size_t len = symbol_size(name);
  uint64_t f = uint64_t(fn), stub = H.stubs;
  rethook::FastPlan p = rethook::fast_plan(rethook::RemotePtr(f), (const uint8_t*)fn, len, rethook::RemotePtr(stub),
                                           rethook::RemotePtr(H.blob + r.entry), site);
  if (!p.ok) {
    *why = p.reason;
    return false;
  }
  if (p.stub.size() > rethook::fast_stub_max_size()) {
    *why = "stub larger than fast_stub_max_size()";
    return false;
  }
  H.stubs += rethook::fast_stub_max_size();
  word(hdr(RH_H_SITES), site * 8) = pool;
  memcpy((void*)stub, p.stub.data(), p.stub.size());
  __builtin___clear_cache((char*)stub, (char*)stub + p.stub.size());
  uint64_t page = (f + p.at) & ~uint64_t(4095);
  if (mprotect((void*)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) die("mprotect text");
  memcpy((void*)(f + p.at), p.patch.data(), p.patch.size());
  __builtin___clear_cache((char*)(f + p.at), (char*)(f + p.at + p.patch.size()));
  mprotect((void*)page, 4096, PROT_READ | PROT_EXEC);
  return true;
}

std::vector<Record> drain(uint64_t block) {
  std::vector<Record> out;
  uint64_t head = __atomic_load_n(&word(block, RH_B_HEAD), __ATOMIC_ACQUIRE);
  uint64_t tail = word(block, RH_B_TAIL), mask = word(block, RH_B_RING_MASK);
  for (; tail != head; tail++) out.push_back(((const Record*)word(block, RH_B_RING))[tail & mask]);
  rh_consumed(block, tail);
  return out;
}

void reset(const std::vector<uint64_t>& blocks) {
  for (uint64_t off : {RH_H_MISSED_BUSY, RH_H_MISSED_NOTHREAD, RH_H_DROPPED, RH_H_NOMATCH}) hdr(off) = 0;
  hdr(RH_H_ENABLED) = 1;
  hdr(RH_H_CONSUMER) = 0;
  hdr(RH_H_TRACER_PID) = uint64_t(getpid());
  for (uint64_t b : blocks) {
    drain(b);
    word(b, RH_B_MISSED_DEPTH) = word(b, RH_B_DROPPED) = 0;
    check(word(b, RH_B_DEPTH) == 0 && word(b, RH_B_BUSY) == 0, "block idle between scenarios");
  }
  for (uint32_t p = 0; p < kMaxPools; p++) {
    check(pool_word(p, RH_P_ACTIVE) == 0, "pool idle between scenarios");
    pool_word(p, RH_P_NMISSED) = 0;
    pool_set(p, 1 << 20);
  }
}
