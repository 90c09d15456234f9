// The arm64 fast-mode harness: one static program that is both tracee and
// tracer. It lays an arena out as native/fast/recorder.h says, installs the
// recorder blob, patches its own functions with fast_plan's stubs, calls
// them and checks every record. Built by test/fast-recorder-arm64.test.ts
// (cross-compiled, run under qemu-aarch64-static on x86-64 hosts).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../../native/fast/planner.h"
#include "../../native/fast/recorder.h"

// ---- the assembly side (harness_arm64_funcs.S) ------------------------------
struct CallCtx {
  uint64_t in[31];  // x0..x30 (x18 and x30 ignored; x16/x17 are canaries)
  uint64_t in_d0, in_nzcv;
  uint64_t out[31];  // every register after the call
  uint64_t out_d0, out_nzcv;
  uint64_t sp, ret;  // the frame and the return address the callee gets
};
static_assert(sizeof(CallCtx) == 544, "harness_arm64_funcs.S's offsets");

extern "C" {
void rh_call(const void* fn, CallCtx* ctx);
extern uint64_t probe_seen[34];  // x0..x30, sp, nzcv, d0 at probe's entry
extern uint64_t rh_data;
uint64_t pac_sign(uint64_t p);
// Their first instructions are the point (see the .S).
void probe(), f_adrp(), f_adr(), f_ldrx(), f_ldrw(), f_ldrsw(), f_ldrd(), f_bcond(), f_cbz(), f_tbnz();
void tail_a(), tail_b(), f_thunk(), g_bti(), g_paci(), g_pacib(), g_bti_paci(), g_nopad();
long f_empty(long), f_empty_plain(long);
// harness_arm64_cfuncs.c, built with -mbranch-protection=standard.
long c_outer(long), c_inner(long), c_rec(long), c_worker(long, long);
double c_double(double, long);
long c_lj_top2(void), c_lj_top1(void);
long c_lj_outer(long), c_lj_inner(long), c_lj_one(long), c_lj_plain(long);
long c_disable(long*);
long c_str(const char*, long);
}

// ---- the arena (harness_arm64_arena.cc) ----------------------------------------
struct Record {
  uint32_t kind, site;
  uint64_t tsc, sp, ret, regs[8], fp, depth, pad[2];
};
static_assert(sizeof(Record) == RH_RECORD_SIZE, "recorder.h's record");

inline uint64_t& word(uint64_t base, uint64_t off) { return *reinterpret_cast<uint64_t*>(base + off); }
inline uint64_t thread_pointer() {
  uint64_t tp;
  asm volatile("mrs %0, tpidr_el0" : "=r"(tp));
  return tp;
}

struct Harness {
  uint64_t arena = 0;      // its base (the header)
  uint64_t blob = 0;       // the recorder, installed
  uint64_t stubs = 0;      // the next free stub slot (near the text)
  uint64_t stubs_end = 0;
  uint64_t bump = 0, bump_end = 0;  // arena allocation
};
extern Harness H;

void harness_init();
// A block with a ring of `records` (a power of two) and `nodes_max` nodes,
// registered for the calling thread.
uint64_t block_new(uint64_t records, uint64_t nodes_max);
void block_register(uint64_t tp, uint64_t block);
void block_unregister(uint64_t tp);
// Patch fn (its symbol's size from the ELF) for site, in pool `pool`.
bool hook(const void* fn, const char* name, uint32_t site, uint32_t pool, std::string* why);
void pool_set(uint32_t pool, uint64_t max);
uint64_t& pool_word(uint32_t pool, uint64_t off);
uint64_t& hdr(uint64_t off);
// Records between tail and head (single-threaded use): tail = head after.
std::vector<Record> drain(uint64_t block);
// The counters back to 0, the rings emptied, every pool's active checked 0.
void reset(const std::vector<uint64_t>& blocks);
size_t symbol_size(const char* name);
// An rwx mapping within a `b`'s reach of `near`.
void* map_near(uint64_t near, size_t size);

// ---- checks -----------------------------------------------------------------------
extern int g_failures;
bool check(bool ok, const char* what, const std::string& detail = "");
#define CHECK(cond) check((cond), #cond)
#define CHECK_EQ(a, b) check((uint64_t)(a) == (uint64_t)(b), #a " == " #b, hexpair((uint64_t)(a), (uint64_t)(b)))
std::string hexpair(uint64_t a, uint64_t b);

int run_planner_tables();  // harness_arm64_planner.cc: failures
