// The live call tree from CALLS bytes (tree_lines.h). The lines are those of
// lib/views/tree.ts TreeView in buffered mode for plain calls, byte for byte:
//   <tid, 7 wide> <2 spaces a level>name(0x1, 0x2, 0x3) = 0x0 <80 ns>
//   <tid, 7 wide> <2 spaces a level>name(0x1, 0x2, 0x3) {
//   <tid, 7 wide> <2 spaces a level>} unwound (longjmp) <1.2 us> /* name */
// deeper than INDENT_MAX levels: INDENT_MAX levels and `[depth] `.
#include "tree_lines.h"

#include <cstdio>
#include <cstring>

namespace rethook {

namespace {
/** lib/views/tree.ts INDENT_MAX. */
constexpr uint32_t kIndentMax = 256;
/** The most a line's prefix takes: the tid column and the indentation. */
constexpr size_t kPrefix = 24 + 2 * kIndentMax + 16;

void indent(ByteWriter& w, uint32_t depth) {
  const uint32_t levels = depth <= kIndentMax ? depth : kIndentMax;
  memset(w.p, ' ', 2 * levels);
  w.p += 2 * levels;
  if (depth > kIndentMax) {
    *w.p++ = '[';
    w.num(depth);
    w.lit("] ");
  }
}

/** n / 10^digits of a whole n, to `digits` decimals as JavaScript's toFixed writes the double n / unit. */
void fixed(ByteWriter& w, uint64_t n, uint64_t unit, unsigned digits) {
  const uint64_t scale = digits == 1 ? 10 : 100, step = unit / scale, q = n / step, r = n % step;
  bool up = r > step / 2;
  if (r == step / 2) {
    // A tie in decimal: toFixed rounds the double n / unit, up when it is the tie itself or above it (exact in a long double).
    const long double d = static_cast<long double>(static_cast<double>(n) / static_cast<double>(unit));
    up = d * static_cast<long double>(2 * scale) >= static_cast<long double>(2 * q + 1);
  }
  const uint64_t v = q + (up ? 1 : 0);
  w.num(v / scale);
  *w.p++ = '.';
  const uint64_t frac = v % scale;
  if (digits == 2) *w.p++ = char('0' + frac / 10);
  *w.p++ = char('0' + frac % 10);
}
}  // namespace

void format_duration(ByteWriter& w, uint64_t n) {
  if (n < 1000) {
    w.num(n);
    w.lit(" ns");
  } else if (n < 1000000) {
    fixed(w, n, 1000, 1);
    w.lit(" us");
  } else if (n < 1000000000) {
    fixed(w, n, 1000000, 1);
    w.lit(" ms");
  } else {
    fixed(w, n, 1000000000, 2);
    w.lit(" s");
  }
}

void TreeLines::site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string call_name, std::string block_name,
                     const std::string& typed) {
  if (id >= call_name_.size())
    call_name_.resize(id + 1), block_name_.resize(id + 1), entry_bytes_.resize(id + 1, 0), exit_bytes_.resize(id + 1, 0);
  calls_.site(id, args, ret, fp, plain, typed);
  const WordSignature* sig = calls_.typed(id);
  // An entry: the prefix, the name, 21 bytes an argument shown (or the typed values), and what closes the line before it (` {\n`).
  entry_bytes_[id] = kPrefix + call_name.size() + 24 * nargs_ + (sig ? sig->entry_bytes(false) : 0) + 16;
  // An exit: ` = value` or ` unwound (…)`, `<time>` (20 digits at most), or all that as a block's end with its prefix and name.
  exit_bytes_[id] = kPrefix + block_name.size() + 96 + kWordValueMax;
  call_name_[id] = std::move(call_name), block_name_[id] = std::move(block_name);
}

TreeChunkResult TreeLines::chunk(const uint8_t* p, size_t len, uint32_t tid, double base_ts, const std::string& head, uint32_t head_depth,
                                 OpenCalls& open, LinesOut& out, size_t max_open) {
  TreeChunkResult res;
  size_t bytes = 0;
  if (!calls_.decode(p, len, base_ts, entry_bytes_, exit_bytes_, bytes) || (max_open && calls_.peak_open(open) > max_open)) {
    res.status = LinesResult::kNotPlain;
    return res;
  }
  const PlainCalls& c = calls_;
  bytes += head.size() + 8;
  if (open.cap < open.n + c.entries || out.cap - out.pos < bytes) {
    res.status = LinesResult::kNeedRoom;
    res.need_open = open.n + c.entries, res.need_bytes = out.pos + bytes, res.need_lines = 0;
    return res;
  }
  ByteWriter w{out.buf + out.pos};
  char col[24];
  const int col_len = snprintf(col, sizeof col, "%7u ", tid);
  // The pending head is the last thing written, not yet ended: from pending_at, at pending_depth.
  uint8_t* pending_at = nullptr;
  uint32_t pending_depth = 0;
  if (!head.empty()) {
    pending_at = w.p;
    w.put(head);
    pending_depth = head_depth;
  }
  // What follows the call: ` = value` (nothing for a void function), or ` unwound (why)`.
  const auto outcome = [&](size_t r) {
    if (c.kind_[r] == PlainCalls::kExit) {
      const WordSignature* sig = c.typed(c.site_[r]);
      const WordValue* ret = sig && sig->ret.kind != WordValue::kUnknown ? &sig->ret : nullptr;
      if (ret && ret->kind == WordValue::kVoid) return;
      w.lit(" = ");
      if (ret) write_text_value(w, *ret, c.words_[c.words_at_[r]]);
      else w.hex(c.words_[c.words_at_[r]]);
    } else {
      *w.p++ = ' ';
      w.lit("unwound (");
      const char* why = kUnwindReasons[c.reason_[r]];
      w.put(why, strlen(why));
      *w.p++ = ')';
    }
  };
  double lines = 0;
  c.pair(
      open, res.unmatched,
      [&](size_t r) {
        if (pending_at) w.lit(" {\n"), lines++;
        const uint32_t site = c.site_[r];
        pending_at = w.p;
        pending_depth = c.depth_[r];
        w.put(col, size_t(col_len));
        indent(w, pending_depth);
        w.put(call_name_[site]);
        *w.p++ = '(';
        if (const WordSignature* sig = c.typed(site)) {
          for (size_t i = 0; i < sig->params.size(); i++) {
            if (i) w.lit(", ");
            w.put(sig->params[i].text);
            write_text_value(w, sig->params[i], c.words_[c.words_at_[r] + i]);
          }
          if (sig->variadic && sig->params.empty()) w.lit("...");
          else if (sig->variadic) w.lit(", ...");
        } else {
          const unsigned shown = c.sites_[site].args < nargs_ ? c.sites_[site].args : nargs_;
          for (unsigned i = 0; i < shown; i++) {
            if (i) w.lit(", ");
            w.hex(c.words_[c.words_at_[r] + i]);
          }
        }
        *w.p++ = ')';
      },
      [&](size_t r, double dur) {
        const uint32_t depth = c.depth_[r];
        if (pending_at && pending_depth == depth) {
          outcome(r);
          w.lit(" <");
          format_duration(w, uint64_t(dur));
          w.lit(">\n");
          pending_at = nullptr, lines++;
          return;
        }
        if (pending_at) w.lit(" {\n"), pending_at = nullptr, lines++;
        w.put(col, size_t(col_len));
        indent(w, depth);
        *w.p++ = '}';
        outcome(r);
        w.lit(" <");
        format_duration(w, uint64_t(dur));
        w.lit("> /* ");
        w.put(block_name_[c.site_[r]]);
        w.lit(" */\n");
        lines++;
      });
  if (pending_at) res.pending_start = double(pending_at - out.buf), res.pending_depth = pending_depth;
  out.pos = size_t(w.p - out.buf);
  res.rows = double(c.n), res.entries = double(c.entries), res.lines = lines;
  res.last_ts = c.n ? c.ts_[c.n - 1] : -1;
  return res;
}

}  // namespace rethook
