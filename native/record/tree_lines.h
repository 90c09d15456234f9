// The live call tree written straight from a record's CALLS bytes
// (tree_lines.cc): what lib/views/tree.ts writes to a file or a pipe (no
// colors, no time column, no backtraces) for a chunk whose every call is plain
// (plain_calls.h), byte for byte, with no object per call. A leaf takes one
// line; a call with calls inside it opens a block closed by `} = ret <time> /*
// f */`. The entry line not yet written (a leaf so far) is the tree's pending
// head: it comes in from TypeScript and goes back to it at the chunk's end.
// Mechanics only: the names, escaped, come from TypeScript.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plain_calls.h"

namespace rethook {

struct TreeChunkResult : LinesResult {
  /** The pending head at the end (a leaf so far): out.buf[pending_start, out.pos), at depth pending_depth; -1: none. */
  double pending_start = -1, pending_depth = 0;
};

class TreeLines {
 public:
  /** nargs: the argument registers a line shows (-A). */
  TreeLines(bool xor_words, unsigned nargs) : calls_(xor_words), nargs_(nargs) {}
  /** Site `id`: its words, and (plain) its name as a call line and as a block's end show it; `typed` as JsonLines::site's. */
  void site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string call_name, std::string block_name, const std::string& typed);
  /**
   * One CALLS payload of thread `tid`: decoded, and when every call in it is
   * plain, paired (open) and written (out), after the thread's pending head
   * (`head`, at `head_depth`; empty: none). Nothing changes unless kWritten;
   * kNotPlain too when the thread would hold more than `max_open` open calls
   * at once (0: no limit).
   */
  TreeChunkResult chunk(const uint8_t* p, size_t len, uint32_t tid, double base_ts, const std::string& head, uint32_t head_depth, OpenCalls& open,
                        LinesOut& out, size_t max_open);

 private:
  PlainCalls calls_;
  const unsigned nargs_;
  std::vector<std::string> call_name_, block_name_;
  std::vector<size_t> entry_bytes_, exit_bytes_;
};

/** `<time>`'s text, as lib/views/view.ts formatDuration writes it (toFixed's rounding included) for whole ns up to 2^53. */
void format_duration(ByteWriter& w, uint64_t ns);

}  // namespace rethook
