// The binary record's fast path (docs/record-format.md, CALLS records): one
// thread's ring records transcoded straight into CALLS chunk bytes, with no
// object per call. Mechanics only: which sites exist and what each carries,
// the clock's factors and the chunk around the bytes are lib/record's.
#include "encode.h"

#include <cmath>
#include <cstring>

#include "../fast/recorder.h"

namespace rethook {

namespace {

/** Deeper than any node stack: a record that says so was written over (as lib/fast/drain.ts). */
constexpr uint64_t kMaxDepth = 1u << 20;
/** Records between two stores of the ring's tail (a waiting thread goes on sooner). */
constexpr uint64_t kTailEvery = 256;

inline uint8_t* varint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = uint8_t(v) | 0x80;
    v >>= 7;
  }
  *p++ = uint8_t(v);
  return p;
}

inline uint64_t u64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

}  // namespace

void record_transcode(const TranscodeIn& in, TranscodeState& st) {
  __atomic_thread_fence(__ATOMIC_ACQUIRE);  // the records below head, after the head the caller read
  uint8_t* const block = in.arena + in.block;
  const uint8_t* const ring = in.arena + in.ring;
  uint8_t* out = in.out + st.pos;
  uint8_t* const limit = in.out + in.limit;
  uint64_t tail = st.tail, stored = tail;
  const double hi0 = in.clock[0], lo0 = in.clock[1], t0 = in.clock[2], rate = in.clock[3];
  const uint64_t c0 = (uint64_t(hi0) << 32) | uint64_t(lo0);
  int64_t last = int64_t(st.last_ts);
  uint32_t prev_kind = 0;  // the last record written: a STRING belongs to the ENTRY before it
  while (tail < in.head && out <= limit) {
    const uint8_t* r = ring + (tail & in.mask) * RH_RECORD_SIZE;
    tail++;
    uint32_t kind, site;
    memcpy(&kind, r + RH_R_KIND, 4);
    memcpy(&site, r + RH_R_KIND + 4, 4);
    if (kind == RH_KIND_STRING) {
      if (prev_kind != RH_KIND_ENTRY && prev_kind != RH_KIND_STRING) {
        st.damaged++, st.damage = 1;
        continue;
      }
      uint64_t len = u64(r + RH_R_RET);
      if (len > RH_STRING_MAX) len = RH_STRING_MAX;
      // The string and its NUL; none read: cut there (at RH_STRING_MAX, or where its memory ended).
      if (const void* nul = memchr(r + RH_R_REGS, 0, len)) len = size_t(static_cast<const uint8_t*>(nul) - (r + RH_R_REGS)) + 1;
      *out++ = 4;  // tag: STRING, site 0
      *out++ = 0;  // dt
      out = varint(out, u64(r + RH_R_TSC) & 0xff);
      out = varint(out, len);
      memcpy(out, r + RH_R_REGS, len);
      out += len;
      prev_kind = RH_KIND_STRING;
    } else {
      const uint64_t depth = u64(r + RH_R_DEPTH);
      if (kind < RH_KIND_ENTRY || kind > RH_KIND_UNWOUND || site >= in.nsites || !in.sites[2 * site]) {
        st.damaged++, st.damage = 1;
        prev_kind = 0;
        continue;
      }
      if (depth > kMaxDepth) {
        st.damaged++, st.damage = 2;
        prev_kind = 0;
        continue;
      }
      const uint32_t id = in.sites[2 * site] - 1, flags = in.sites[2 * site + 1];
      if (id >= in.nprev) {
        st.damaged++, st.damage = 1;
        prev_kind = 0;
        continue;
      }
      uint64_t* const prev = in.prev + size_t(id) * kWordSlots;
      if (in.prev_gen[id] != in.gen) {
        memset(prev, 0, kWordSlots * 8);
        in.prev_gen[id] = in.gen;
      }
      const uint32_t nargs = flags & 15;
      const bool ret = flags & 16, fp = flags & 32;
      const int64_t ts = int64_t(std::llround(t0 + double(int64_t(u64(r + RH_R_TSC) - c0)) * rate));
      int64_t dt = ts - last;
      if (dt < 0) dt = 0;  // a clock step back (a refined rate): the order is what holds
      else last = ts;
      out = varint(out, uint64_t(kind) | (uint64_t(id) << 3));
      out = varint(out, uint64_t(dt));
      out = varint(out, depth + st.depth_base);
      if (kind == RH_KIND_ENTRY) {
        for (uint32_t i = 0; i < nargs; i++) {
          const uint64_t w = u64(r + RH_R_REGS + 8 * i);
          out = varint(out, w ^ prev[i]);
          prev[i] = w;
        }
        if (fp) memcpy(out, r + RH_R_FP, 8), out += 8;
        st.entries++;
      } else if (kind == RH_KIND_EXIT) {
        if (ret) {
          const uint64_t w = u64(r + RH_R_REGS);
          out = varint(out, w ^ prev[kWordSlots - 1]);
          prev[kWordSlots - 1] = w;
        }
        if (fp) memcpy(out, r + RH_R_FP, 8), out += 8;
      } else {
        // Found gone while an unwinder had its real return address back: an exception removed it; else a longjmp.
        const double sp = double(u64(r + RH_R_SP));
        uint8_t reason = 0;
        for (size_t i = 0; i < in.nrestored; i++)
          if (in.restored[i] == sp) reason = 1;
        *out++ = reason;
      }
      prev_kind = kind;
    }
    if (tail - stored >= kTailEvery) rh_consumed(uint64_t(block), stored = tail);
  }
  rh_consumed(uint64_t(block), tail);
  st.tail = tail;
  st.pos = size_t(out - in.out);
  st.last_ts = double(last);
}

}  // namespace rethook
