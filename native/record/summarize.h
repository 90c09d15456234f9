// A summary of CALLS records (`trace -c`, `trace --hist`, `report`) counted
// natively: no object, no JavaScript, per call (summarize.cc). Mechanics
// only: the record's bytes decoded times-only, each thread's open calls paired
// with their ends, and per site (and thread) the count, sums, extremes and a
// log-linear histogram, the very buckets of lib/views/histogram.ts. What the
// rows mean, their names and their text are lib/views/summary.ts's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace rethook {

/** What a site's records carry besides the times (lib/record/batch.ts SiteInfo). */
struct SiteShape {
  uint8_t args = 0;
  bool ret = false;
  bool fp = false;
  bool known = false;
};

/** One site's (and thread's) figures: lib/views/summary.ts's Acc. */
struct CallAcc {
  uint32_t site = 0, tid = 0;
  double count = 0, sum = 0, self = 0, min = 0, max = 0, unwound = 0;
  /** Histogram counts of buckets [base, base + counts.size()), grown by whole powers of two. */
  int32_t base = 0;
  std::vector<double> counts;
  void add(double total, double self_ns, bool was_unwound);
};

/** What a chunk held, for the reader's totals. */
struct ChunkCounts {
  double rows = 0, entries = 0, orphans = 0, last_ts = 0;
};

/** An EXTRA record of a chunk, for the caller to check (its JSON) and read (`inherited`): offsets in the payload. */
struct ChunkExtra {
  size_t at = 0;    // after its tag and dt (where damage is named)
  size_t json = 0;  // its JSON's first byte
  size_t len = 0;
  bool on_entry = false;  // the call before it in the chunk is an ENTRY
};

/** The bucket of a duration in ns: lib/views/histogram.ts bucketOf, exactly. */
int32_t histogram_bucket(double ns);

class CallSummary {
 public:
  /** overhead_ns 0: durations as measured (callTime's null); nested_ns is taken off only with an overhead. */
  CallSummary(double overhead_ns, double nested_ns, uint32_t max_open, bool per_thread)
      : overhead_(overhead_ns), per_nested_(overhead_ns ? nested_ns : 0), max_open_(max_open), per_thread_(per_thread) {}

  void site(uint32_t id, SiteShape s);
  /**
   * One CALLS payload (after its pid, tid and baseTs) decoded times-only and,
   * with `aggregate`, counted, in batches of rows (memory stays bounded
   * whatever the chunk's size). False at damage, with the calls before it
   * counted: the caller names it (lib/record/calls.ts) and stops. Its EXTRA
   * records are left in extras() for the caller to check.
   */
  bool chunk(const uint8_t* p, size_t len, uint32_t tid, double base_ts, bool aggregate, ChunkCounts* out);
  /** The last chunk's EXTRA records. */
  const std::vector<ChunkExtra>& extras() const { return extras_; }
  /** One thread's rows, decoded elsewhere (held may be null). */
  void batch(uint32_t tid, const uint8_t* kind, const uint32_t* site, const double* ts, const uint32_t* depth, const double* held, size_t n);
  /** Every open call ended as unwound at `ts`, innermost first. */
  void end_open(double ts);
  /** The accumulators with calls since the last take, handed over and emptied. */
  std::vector<CallAcc> take();

  uint64_t open() const { return held_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Open {
    std::vector<uint32_t> depth, site, nested;
    std::vector<double> start, children;
    size_t n = 0;
  };
  CallAcc& acc(uint32_t site, uint32_t tid);
  Open& thread(uint32_t tid);
  void rows(Open& t, uint32_t tid, size_t n);
  void room(size_t n);
  double call_time(double d, uint32_t nested) const;

  const double overhead_, per_nested_;
  const uint32_t max_open_;
  const bool per_thread_;
  std::vector<SiteShape> shapes_;
  std::unordered_map<uint32_t, Open> threads_;
  std::vector<CallAcc> accs_;                        // by site (not per thread)
  std::unordered_map<uint64_t, CallAcc> thread_accs_;  // by tid << 32 | site (per thread)
  uint64_t held_ = 0, dropped_ = 0;
  // One chunk's rows, decoded before any is counted (reused).
  std::vector<uint8_t> kind_;
  std::vector<uint32_t> site_, depth_;
  std::vector<double> ts_, hold_;
  std::vector<ChunkExtra> extras_;
};

}  // namespace rethook
