// The binary record's fast path: ring records -> CALLS records (encode.cc).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rethook {

struct TranscodeIn {
  uint8_t* arena;        // our mapping of the arena
  size_t block;          // the thread block's offset in it
  size_t ring;           // its ring's offset
  uint64_t mask;         // records in the ring - 1
  uint64_t head;         // records written (read by the caller)
  const uint32_t* sites; // per ring site index: [record site id + 1 (0: none), args | ret << 4 | fp << 5]
  size_t nsites;
  const double* clock;   // [cycles hi, cycles lo, ns, ns per cycle]: ns = ns0 + (cycles - cycles0) * rate
  const double* restored; // frames an unwinder restored (their UNWOUND records are exceptions)
  size_t nrestored;
  uint8_t* out;
  size_t limit;          // stop once the output passes this (a record takes at most 256 bytes)
  // Version 3's words: each argument and return word is written XOR the site's
  // word in the same slot at its last call in the same CALLS chunk
  // (docs/record-format.md). Per record site id: kWordSlots words, and the
  // chunk (gen) they are of; another gen's are all 0.
  uint64_t* prev;
  uint32_t* prev_gen;
  size_t nprev;          // record site ids the tables cover
  uint32_t gen;          // the open chunk's
};

/** Words kept per site: 16 argument slots, then the return word. */
constexpr size_t kWordSlots = 17;

struct TranscodeState {
  uint64_t tail;   // in/out: the next record to read (stored as the ring's tail at most every 256, and at the end)
  size_t pos;      // in/out: where the output goes on
  double last_ts;  // in/out: the chunk's last ts (ns)
  uint64_t depth_base = 0;  // in: added to every record's depth (the thread's calls in flight in trap mode, under all of these)
  uint64_t entries = 0;
  uint64_t damaged = 0;
  uint32_t damage = 0;  // 1: a kind or site that is none; 2: a depth past any stack
};

void record_transcode(const TranscodeIn& in, TranscodeState& st);

}  // namespace rethook
