// Live JSON lines written straight from a record's CALLS bytes (json_lines.cc):
// what lib/record/json-lines.ts writes for a chunk whose every call is plain
// (plain_calls.h), byte for byte, with no object per call. Mechanics only: the
// fields' names and escaping come from TypeScript, as each site's ready-made
// bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plain_calls.h"

namespace rethook {

class JsonLines {
 public:
  explicit JsonLines(bool xor_words) : calls_(xor_words) {}
  /**
   * Site `id`: its words, and (plain) the bytes after the tid of its entry and
   * exit lines, up to the depth's value; `typed`: its values as words
   * (wordSignature's bytes; empty: none, the site has no signature).
   */
  void site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string entry_tail, std::string exit_tail, const std::string& typed);
  /**
   * One CALLS payload of thread `tid` of `pid`: decoded, and when every call
   * in it is plain, paired (open) and written (out). Nothing changes unless
   * kWritten: kNotPlain (or damage) leaves it to TypeScript; kNeedRoom says
   * how big the arrays and buffer must be for another try.
   */
  LinesResult chunk(const uint8_t* p, size_t len, uint32_t pid, uint32_t tid, double base_ts, OpenCalls& open, LinesOut& out);

 private:
  PlainCalls calls_;
  std::vector<std::string> entry_tail_, exit_tail_;
  /** The most a site's entry and exit line take. */
  std::vector<size_t> entry_bytes_, exit_bytes_;
};

}  // namespace rethook
