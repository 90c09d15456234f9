// Live JSON lines written straight from a record's CALLS bytes (json_lines.cc):
// what lib/record/json-lines.ts writes for a chunk whose every call is plain
// (its site has no signature: arguments and return value as hex words; no
// STRING or EXTRA record), byte for byte, with no object per call. Calls are
// paired with their thread's open calls as lib/record/events.ts CallEvents
// pairs them, on the very arrays it keeps. Mechanics only: the fields' names
// and escaping come from TypeScript, as each site's ready-made bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

struct JsonChunkResult {
  enum Status { kWritten = 0, kNotPlain = 1, kNeedRoom = 2 } status = kWritten;
  double rows = 0, entries = 0, lines = 0, unmatched = 0, last_ts = -1;
  /** kNeedRoom: what the open calls, the bytes and the lines need (their caps at least these). */
  size_t need_open = 0, need_bytes = 0, need_lines = 0;
};

class JsonLines {
 public:
  /** xor_words: version 3's words, each written XOR its site's last in the chunk (docs/record-format.md). */
  explicit JsonLines(bool xor_words) : xor_(xor_words) {}
  /** Site `id`: its words, and (plain) the bytes after the tid of its entry and exit lines, up to the depth's value. */
  void site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string entry_tail, std::string exit_tail);
  /**
   * One CALLS payload of thread `tid` of `pid`: decoded, and when every call
   * in it is plain, paired (open) and written (out). Nothing changes unless
   * kWritten: kNotPlain (or damage) leaves it to TypeScript; kNeedRoom says
   * how big the arrays and buffer must be for another try.
   */
  JsonChunkResult chunk(const uint8_t* p, size_t len, uint32_t pid, uint32_t tid, double base_ts, OpenCalls& open, LinesOut& out);

 private:
  struct Site {
    uint8_t args = 0;
    bool ret = false, fp = false, plain = false, known = false;
    std::string entry_tail, exit_tail;
  };
  std::vector<Site> sites_;
  // The chunk's rows, decoded before anything is written (reused).
  std::vector<uint8_t> kind_, reason_;
  std::vector<uint32_t> site_, depth_, words_at_;
  std::vector<double> ts_, hold_;
  std::vector<uint64_t> words_;
  // Version 3's words: per site, its last words in the chunk being decoded (17 slots), and the chunk they are of.
  const bool xor_;
  std::vector<uint64_t> prev_;
  std::vector<uint32_t> prev_gen_;
  uint32_t gen_ = 0;
};

}  // namespace rethook
