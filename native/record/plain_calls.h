// A CALLS payload of plain calls, decoded and paired: what the native line
// writers (json_lines.h, tree_lines.h) share. A call is plain when its site
// has no signature (arguments and return value are hex words) and no STRING
// or EXTRA record comes with it. Calls are paired with their thread's open
// calls as lib/record/events.ts CallEvents pairs them, on the very arrays it
// keeps (OpenCalls), so a later chunk decoded in TypeScript pairs with them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "word_values.h"

namespace rethook {

/** A thread's open calls (CallEvents' Open): arrays of `cap`, `n` in use, innermost last. */
struct OpenCalls {
  uint32_t* depth;
  uint32_t* site;
  double* ts;
  size_t n, cap;
};

/** Where lines go: bytes from `pos` up to `cap`; with `ends`, each line's end and ts too (up to `lines_cap`). */
struct LinesOut {
  uint8_t* buf;
  size_t pos, cap;
  uint32_t* ends = nullptr;
  double* ts = nullptr;
  size_t lines_cap = 0;
};

struct LinesResult {
  enum Status { kWritten = 0, kNotPlain = 1, kNeedRoom = 2 } status = kWritten;
  double rows = 0, entries = 0, lines = 0, unmatched = 0, last_ts = -1;
  /** kNeedRoom: what the open calls, the bytes and the lines need (their caps at least these). */
  size_t need_open = 0, need_bytes = 0, need_lines = 0;
};

/** lib/record/batch.ts UNWIND_REASONS. */
extern const char* const kUnwindReasons[];
constexpr unsigned kNUnwindReasons = 7;

class PlainCalls {
 public:
  enum : uint8_t { kEntry = 1, kExit = 2, kUnwound = 3 };
  /** xor_words: version 3's words, each written XOR its site's last in the chunk (docs/record-format.md). */
  explicit PlainCalls(bool xor_words) : xor_(xor_words) {}
  /**
   * Site `id`: its words, and whether its calls are plain; `typed`: its
   * values as words (lib/types/values.ts wordSignature's bytes; empty: no
   * signature). A signature that cannot be read, or whose values are not all
   * words of the site, makes its calls TypeScript's.
   */
  void site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, const std::string& typed);
  /** Site `id`'s typed values as words, or null (untyped: hex words). */
  const WordSignature* typed(uint32_t id) const { return has_typed_[id] ? &typed_[id] : nullptr; }
  /**
   * Decodes a whole payload into the rows below; false when it is not all
   * plain (a STRING or EXTRA record, a typed or unknown site) or damaged.
   * `bytes`: the sum of `entry_bytes` per entry and `exit_bytes` per exit.
   */
  bool decode(const uint8_t* p, size_t len, double base_ts, const std::vector<size_t>& entry_bytes, const std::vector<size_t>& exit_bytes,
              size_t& bytes);

  /**
   * The decoded rows paired: entry(r) for an entry (pushed on `open`, calls
   * whose exits never came dropped first), exit(r, duration) for an exit or
   * unwinding that matches its thread's innermost open call; the others
   * counted in `unmatched`. The caller made room: open.cap >= open.n + entries.
   */
  template <class Entry, class Exit>
  void pair(OpenCalls& open, double& unmatched, Entry entry, Exit exit) const {
    size_t on = open.n;
    for (size_t r = 0; r < n; r++) {
      const uint32_t depth = depth_[r], site = site_[r];
      if (kind_[r] == kEntry) {
        while (on && open.depth[on - 1] >= depth) on--;  // calls whose exits never came
        open.depth[on] = depth, open.site[on] = site, open.ts[on] = ts_[r], on++;
        entry(r);
        continue;
      }
      while (on && open.depth[on - 1] > depth) on--;
      if (!on || open.depth[on - 1] != depth || open.site[on - 1] != site) {
        unmatched++;
        continue;
      }
      double dur = ts_[r] - open.ts[on - 1] - hold_[r];
      if (dur < 0) dur = 0;
      on--;
      exit(r, dur);
    }
    open.n = on;
  }

  /** The most calls `open` would hold at once while the decoded rows are paired (pair() without its writes). */
  size_t peak_open(const OpenCalls& open) const;

  // The rows decoded (reused from chunk to chunk): n of them, `entries` entries.
  size_t n = 0;
  uint64_t entries = 0;
  std::vector<uint8_t> kind_, reason_;
  std::vector<uint32_t> site_, depth_, words_at_;
  std::vector<double> ts_, hold_;
  /** Per row from words_at_: an entry's argument words; an exit's return word (0 when its site records none). */
  std::vector<uint64_t> words_;
  struct Site {
    uint8_t args = 0;
    bool ret = false, fp = false, plain = false, known = false;
  };
  std::vector<Site> sites_;
  std::vector<WordSignature> typed_;
  std::vector<bool> has_typed_;

 private:
  mutable std::vector<uint32_t> sim_depth_, sim_site_;
  // Version 3's words: per site, its last words in the chunk being decoded (17 slots), and the chunk they are of.
  const bool xor_;
  std::vector<uint64_t> prev_;
  std::vector<uint32_t> prev_gen_;
  uint32_t gen_ = 0;
};

}  // namespace rethook
