// The in-process fast-mode harness (no ptrace): it plays the tracer's part
// itself. It lays out an arena exactly as native/fast/recorder.h says, maps
// the recorder blob executable, patches its own functions and reads the
// records back. One arena per process; every helper here is the tracer's
// side of the contract and says so where the order matters.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../../native/fast/recorder.h"

namespace harness {

// Site numbers (= pool numbers) of the hooked functions.
enum Site : uint32_t {
  S_TORTURE, S_OUTER, S_INNER, S_FACT, S_TAIL_A, S_TAIL_B, S_LJ_OUTER, S_LJ_A, S_LJ_B, S_RIPJCC, S_ENDBR,
  S_CALLFIRST, S_COUNT, S_EMPTY, S_LIMITED, S_CAP, S_CAP_REC, S_EMPTY_CAP, S_COUNT_SITES
};

// What rh_call (funcs_x86_64.S) passes and sees: args, frame, return address, results.
struct Call {
  uint64_t args[6];
  uint64_t frame, ret, rax, rdx;
  double xmm0;
};

struct Record {
  uint64_t kind, site, tsc, sp, ret, regs[8], fp, depth;
  uint8_t str[RH_STRING_MAX];  // a STRING record's bytes (R_REGS to the record's end)
};

// An address inside the arena, as a u64 lvalue.
inline volatile uint64_t& word(uint64_t addr) { return *reinterpret_cast<volatile uint64_t*>(addr); }

struct Arena {
  uint64_t base = 0, size = 0, next = 0;  // a bump allocator over [base, base+size)
  uint64_t recorder = 0;                  // the blob's copy (r-x)
  uint64_t entry = 0, ret = 0;            // its entry and return addresses
  uint64_t stubs = 0, stubs_next = 0;     // the stub area (rwx, near .text)

  uint64_t header(int off) const { return word(base + off); }
  void set(int off, uint64_t v) { word(base + off) = v; }
};

extern Arena arena;

// Maps the arena (MAP_SHARED|MAP_ANONYMOUS), its tables, the blob and the
// stub area. `fsgsbase` sets the blob's flags word.
void arena_init(bool fsgsbase, uint32_t sites);
// Allocates a block for the calling thread and enters it in the thread table
// (key = fs base from arch_prctl). Returns the block's address.
uint64_t thread_register(uint64_t ring_records, uint64_t nodes_max = 64);
// Marks the calling thread's slot deleted (key 1).
void thread_unregister();
// Sets a site's word: pool index in bits 0-31, capture mask in bits 32-39.
void set_site(uint32_t site, uint32_t pool, uint8_t capture);
// Patches `fn` (`size` bytes, from nm) with a stub for `site`; pool = site.
// Returns "" or the planner's reason.
std::string hook(void* fn, size_t size, uint32_t site);
void set_pool_max(uint32_t pool, uint64_t max);
uint64_t pool_word(uint32_t pool, int off);
// Reads the records the block holds (acquire head, copy, release tail).
size_t drain(uint64_t block, std::vector<Record>* out, size_t max = SIZE_MAX);
// A symbol's runtime address and size, from `nm -S` of ourselves.
bool symbol(const char* name, void** addr, size_t* size);

// Scenario bookkeeping: one line per scenario, "ok NAME" or "FAIL NAME: why".
struct Scenario {
  std::string name;
  std::string failure;
  explicit Scenario(std::string n) : name(std::move(n)) {}
  ~Scenario();
  bool expect(bool ok, const std::string& what);
};
extern int failures;

std::string describe(const Record& r);
// Checks a record field by field; returns false and notes the first mismatch.
bool expect_record(Scenario& s, const Record& r, uint64_t kind, uint64_t site, uint64_t depth, const char* what);

// Captured strings (harness_capture_x86_64.cc): hooks its own functions.
void capture_scenarios(uint64_t main_block);
void capture_benchmark();
// Scenarios needing threads (harness_threads_x86_64.cc).
void threads_scenarios();
void benchmark();
// The planner's byte tables (planner_x86_64.cc).
void planner_tables();

}  // namespace harness

extern "C" {
void rh_call(void* fn, harness::Call* io);
void rh_empty_cap(const char*);
long count_me(long x);
extern volatile long sink;
}
