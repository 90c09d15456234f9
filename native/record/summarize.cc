// A summary of CALLS records counted natively (summarize.h). The decoding
// follows lib/record/calls.ts decodeCalls with timesOnly (the words gone over,
// strings skipped), and the pairing lib/record/aggregate.ts once did in
// JavaScript: an ENTRY opens a call on its thread's stack, an EXIT or UNWOUND
// ends the innermost open call of its site and depth; its duration less the
// tracer's holding (HELD), round trip and nested calls (callTime) goes to its
// site's figures. Anything this decoder does not take (an EXTRA record, a
// damaged byte) leaves the chunk to lib/record/calls.ts, which names damage.
#include "summarize.h"
#include "varint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace rethook {

namespace {

enum : uint8_t { kEntry = 1, kExit = 2, kUnwound = 3, kString = 4, kExtra = 5, kHeld = 6 };
// lib/views/histogram.ts: 2^7 buckets per power of two, exact below 256, powers up to 2^53.
constexpr int32_t kSub = 128, kExact = 256;
constexpr int32_t kBuckets = kExact + (53 - 7 - 1) * kSub;
// lib/views/record-check.ts LIMITS, lib/record/calls.ts, lib/record/batch.ts UNWIND_REASONS.
constexpr uint64_t kMaxDepth = (1ull << 31) - 1;
constexpr uint64_t kMaxArgs = 16, kStringMax = 4096, kExtraMax = 1 << 20, kAttachedMax = 4 << 20, kReasons = 7;
/** Rows decoded before they are counted: what a chunk holds at once, however big it is. */
constexpr size_t kSegment = 1 << 14;
constexpr double kTwo53 = 9007199254740992.0, kTwo64 = 18446744073709551616.0;

}  // namespace

int32_t histogram_bucket(double v) {
  if (!(v >= 1)) return 0;
  if (v >= kTwo53) return kBuckets - 1;
  const uint64_t n = uint64_t(v);
  if (n < uint64_t(kExact)) return int32_t(n);
  const int k = 63 - __builtin_clzll(n);
  return kExact + (k - 8) * kSub + int32_t(n >> (k - 7)) - kSub;
}

void CallAcc::add(double total, double self_ns, bool was_unwound) {
  const int32_t i = histogram_bucket(total);
  if (counts.empty() || i < base || i >= base + int32_t(counts.size())) {
    // Cover bucket i by whole powers of two (histogram.ts cover).
    const int32_t block = i & ~(kSub - 1), end = std::min((i | (kSub - 1)) + 1, kBuckets);
    const int32_t low = counts.empty() ? block : std::min(base, block);
    const int32_t high = counts.empty() ? end : std::max(base + int32_t(counts.size()), end);
    std::vector<double> grown(size_t(high - low), 0.0);
    std::copy(counts.begin(), counts.end(), grown.begin() + (base - low));
    counts.swap(grown);
    base = low;
  }
  counts[size_t(i - base)]++;
  if (count == 0) min = std::numeric_limits<double>::infinity();
  count++;
  sum += total;
  if (total < min) min = total;
  if (total > max) max = total;
  self += self_ns;
  if (was_unwound) unwound++;
}

void CallSummary::site(uint32_t id, SiteShape s) {
  s.known = true;
  if (id >= shapes_.size()) shapes_.resize(id + 1);
  shapes_[id] = s;
  if (!per_thread_ && id >= accs_.size()) accs_.resize(id + 1);
}

CallAcc& CallSummary::acc(uint32_t site, uint32_t tid) {
  if (!per_thread_) {
    CallAcc& a = accs_[site];
    a.site = site;
    return a;
  }
  CallAcc& a = thread_accs_[(uint64_t(tid) << 32) | site];
  a.site = site, a.tid = tid;
  return a;
}

CallSummary::Open& CallSummary::thread(uint32_t tid) { return threads_[tid]; }

double CallSummary::call_time(double d, uint32_t nested) const {
  if (!overhead_) return d;
  const double t = d - overhead_ - double(nested) * per_nested_;
  return t > 0 ? t : 0;
}

void CallSummary::room(size_t n) {
  if (kind_.size() >= n) return;
  kind_.resize(n), site_.resize(n), depth_.resize(n), ts_.resize(n), hold_.resize(n);
}

bool CallSummary::chunk(const uint8_t* p, size_t len, uint32_t tid, double base_ts, bool aggregate, ChunkCounts* out) {
  size_t pos = 0, n = 0;  // n: rows held, not yet counted
  double ts = base_ts, rows_seen = 0, entries = 0, orphans = 0, last_ts = -1;
  uint8_t last_kind = 0;
  uint64_t attached = 0;  // bytes of EXTRA records on the last call
  const size_t nsites = shapes_.size();
  Open* t = aggregate ? &thread(tid) : nullptr;
  extras_.clear();
  room(kSegment);
  while (pos < len) {
    uint64_t tag, dt, v;
    if (!read_varint(p, len, pos, tag) || !read_varint(p, len, pos, dt)) return false;
    const uint8_t kind = uint8_t(tag & 7);
    const uint64_t site = tag >> 3;
    if (kind == kString || kind == kExtra) {
      const size_t at = pos;
      uint64_t index = 0, bytes;
      if (kind == kString && (!read_varint(p, len, pos, index) || index >= kMaxArgs)) return false;
      if (!read_varint(p, len, pos, bytes) || bytes > (kind == kString ? kStringMax : kExtraMax) || bytes > len - pos) return false;
      if (!rows_seen) orphans++;
      else if (kind == kExtra && (attached += bytes) > kAttachedMax) return false;
      if (kind == kExtra) extras_.push_back(ChunkExtra{at, pos, size_t(bytes), rows_seen && last_kind == kEntry});
      pos += bytes;
      continue;
    }
    if (kind == kHeld) {
      // For the EXIT or UNWOUND just before it: a row still held (a batch is counted only when the next row comes).
      if (!read_varint(p, len, pos, v) || !n || kind_[n - 1] == kEntry) return false;
      hold_[n - 1] = double(v);
      continue;
    }
    if (kind < kEntry || kind > kUnwound || site >= nsites || !shapes_[site].known) return false;
    if (!read_varint(p, len, pos, v) || v > kMaxDepth) return false;
    const uint32_t depth = uint32_t(v);
    const SiteShape& s = shapes_[site];
    if (kind == kUnwound) {
      if (pos >= len || p[pos++] >= kReasons) return false;
    } else {
      const unsigned words = kind == kEntry ? s.args : s.ret ? 1 : 0;
      for (unsigned i = 0; i < words; i++)
        if (!read_varint(p, len, pos, v)) return false;
      if (s.fp) {
        if (len - pos < 8) return false;
        pos += 8;
      }
    }
    if (n == kSegment) {
      if (t) rows(*t, tid, n);
      n = 0;
    }
    ts += double(dt);
    kind_[n] = kind, site_[n] = uint32_t(site), ts_[n] = ts, depth_[n] = depth, hold_[n] = 0;
    n++;
    rows_seen++;
    last_ts = ts, last_kind = kind, attached = 0;
    if (kind == kEntry) entries++;
  }
  if (ts > kTwo64) return false;
  if (t && n) rows(*t, tid, n);
  out->rows = rows_seen, out->entries = entries, out->orphans = orphans, out->last_ts = last_ts;
  return true;
}

void CallSummary::batch(uint32_t tid, const uint8_t* kind, const uint32_t* site, const double* ts, const uint32_t* depth, const double* held, size_t n) {
  room(n);
  std::memcpy(kind_.data(), kind, n);
  std::memcpy(site_.data(), site, n * 4);
  std::memcpy(ts_.data(), ts, n * 8);
  std::memcpy(depth_.data(), depth, n * 4);
  if (held) std::memcpy(hold_.data(), held, n * 8);
  else std::fill(hold_.begin(), hold_.begin() + ptrdiff_t(n), 0.0);
  for (size_t r = 0; r < n; r++)
    if (site_[r] >= shapes_.size() || !shapes_[site_[r]].known) this->site(site_[r], SiteShape{});
  rows(thread(tid), tid, n);
}

void CallSummary::rows(Open& t, uint32_t tid, size_t count) {
  size_t n = t.n;
  for (size_t r = 0; r < count; r++) {
    const uint8_t kind = kind_[r];
    const uint32_t depth = depth_[r], site = site_[r];
    if (kind == kEntry) {
      while (n && t.depth[n - 1] >= depth) n--, held_--;  // calls whose exits never came
      if (held_ >= max_open_) {
        dropped_++;
        continue;
      }
      if (n == t.depth.size()) {
        const size_t m = std::max<size_t>(64, n * 2);
        t.depth.resize(m), t.site.resize(m), t.nested.resize(m), t.start.resize(m), t.children.resize(m);
      }
      t.depth[n] = depth, t.site[n] = site, t.start[n] = ts_[r], t.children[n] = 0, t.nested[n] = 0;
      n++, held_++;
    } else if (kind == kExit || kind == kUnwound) {
      while (n && t.depth[n - 1] > depth) n--, held_--;
      if (!n || t.depth[n - 1] != depth || t.site[n - 1] != site) continue;  // inherited, or its entry not seen
      const size_t top = n - 1;
      double dur = ts_[r] - t.start[top] - hold_[r] - overhead_ - double(t.nested[top]) * per_nested_;
      if (dur < 0) dur = 0;
      const double self = dur - t.children[top];
      n--, held_--;
      if (n) {
        t.children[n - 1] += dur;
        t.nested[n - 1] += 1 + t.nested[n];
      }
      acc(site, tid).add(dur, self > 0 ? self : 0, kind == kUnwound);
    }
  }
  t.n = n;
}

void CallSummary::end_open(double ts) {
  for (auto& [tid, t] : threads_) {
    while (t.n) {
      const size_t top = --t.n;
      const double dur = call_time(std::max(0.0, ts - t.start[top]), t.nested[top]);
      if (t.n) {
        t.children[t.n - 1] += dur;
        t.nested[t.n - 1] += 1 + t.nested[top];
      }
      acc(t.site[top], tid).add(dur, std::max(0.0, dur - t.children[top]), true);
    }
  }
  held_ = 0;
}

std::vector<CallAcc> CallSummary::take() {
  std::vector<CallAcc> out;
  auto give = [&](CallAcc& a) {
    if (!a.count) return;
    out.push_back(std::move(a));
    const uint32_t site = out.back().site, tid = out.back().tid;
    a = CallAcc{};
    a.site = site, a.tid = tid;
  };
  for (auto& a : accs_) give(a);
  for (auto& [key, a] : thread_accs_) give(a);
  return out;
}

}  // namespace rethook
