// Live JSON lines from CALLS bytes (json_lines.h). The lines are those of
// lib/record/json-lines.ts for plain calls, byte for byte:
//   {"type":"entry","pid":P,"tid":T<entry tail>D,"args":["0x..",...],"ts":TS}
//   {"type":"exit","pid":P,"tid":T<exit tail>D,"retval":"0x..","unwound":false,"durationNs":N,"ts":TS}
//   {"type":"exit","pid":P,"tid":T<exit tail>D,"retval":null,"unwound":true,"durationNs":N,"reason":"R","ts":TS}
// and an exit is paired as lib/record/events.ts CallEvents.rows pairs it.
#include "json_lines.h"
#include "varint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rethook {

namespace {

enum : uint8_t { kEntry = 1, kExit = 2, kUnwound = 3, kString = 4, kExtra = 5, kHeld = 6 };
constexpr uint64_t kMaxDepth = (1ull << 31) - 1;
constexpr double kMaxSafe = 9007199254740991.0;
/** lib/record/batch.ts UNWIND_REASONS, as JSON strings. */
const char* const kReasons[] = {"\"longjmp\"", "\"exception\"", "\"thread-exit\"", "\"exec\"", "\"detach\"", "\"exit\"", "\"other\""};
constexpr unsigned kNReasons = 7;
/** The most a line takes besides its site's tail and its words: the fixed fields and five numbers of 20 digits. */
constexpr size_t kLineFixed = 200;
/** Words kept per site for version 3's XOR: 16 argument slots, then the return word (encode.h kWordSlots). */
constexpr size_t kSlots = 17;

struct Writer {
  uint8_t* p;
  void put(const char* s, size_t n) {
    memcpy(p, s, n);
    p += n;
  }
  template <size_t N>
  void lit(const char (&s)[N]) {
    put(s, N - 1);
  }
  void put(const std::string& s) { put(s.data(), s.size()); }
  void num(uint64_t v) {
    char tmp[20];
    int i = 20;
    do tmp[--i] = char('0' + v % 10), v /= 10;
    while (v);
    put(tmp + i, size_t(20 - i));
  }
  void hex(uint64_t v) {
    static const char kHex[] = "0123456789abcdef";
    *p++ = '0', *p++ = 'x';
    int digits = v ? (67 - __builtin_clzll(v)) >> 2 : 1;
    while (digits--) *p++ = uint8_t(kHex[(v >> (4 * digits)) & 15]);
  }
};

}  // namespace

void JsonLines::site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string entry_tail, std::string exit_tail) {
  if (id >= sites_.size()) sites_.resize(id + 1);
  Site& s = sites_[id];
  s.args = args, s.ret = ret, s.fp = fp, s.plain = plain, s.known = true;
  s.entry_tail = std::move(entry_tail), s.exit_tail = std::move(exit_tail);
}

JsonChunkResult JsonLines::chunk(const uint8_t* p, size_t len, uint32_t pid, uint32_t tid, double base_ts, OpenCalls& open, LinesOut& out) {
  JsonChunkResult res;
  const auto not_plain = [&res]() {
    res.status = JsonChunkResult::kNotPlain;
    return res;
  };
  // 1. Decode the whole chunk (damage, a STRING or EXTRA record, or a typed site: TypeScript's).
  size_t pos = 0, n = 0, nwords = 0, bytes = 0;
  double ts = base_ts;
  uint64_t entries = 0;
  gen_ = gen_ == UINT32_MAX ? 1 : gen_ + 1;
  if (xor_ && prev_gen_.size() < sites_.size()) prev_gen_.resize(sites_.size(), 0), prev_.resize(sites_.size() * kSlots, 0);
  while (pos < len) {
    uint64_t tag, dt, v;
    if (!read_varint(p, len, pos, tag) || !read_varint(p, len, pos, dt)) return not_plain();
    const uint8_t kind = uint8_t(tag & 7);
    const uint64_t site = tag >> 3;
    if (kind == kHeld) {
      if (!read_varint(p, len, pos, v) || !n || kind_[n - 1] == kEntry) return not_plain();
      hold_[n - 1] = double(v);
      continue;
    }
    if (kind < kEntry || kind > kUnwound || site >= sites_.size() || !sites_[site].known || !sites_[site].plain) return not_plain();
    if (!read_varint(p, len, pos, v) || v > kMaxDepth) return not_plain();
    ts += double(dt);
    if (!(ts <= kMaxSafe)) return not_plain();
    if (n == kind_.size()) {
      const size_t m = std::max<size_t>(4096, 2 * n);
      kind_.resize(m), reason_.resize(m), site_.resize(m), depth_.resize(m), words_at_.resize(m), ts_.resize(m), hold_.resize(m);
    }
    const Site& s = sites_[site];
    kind_[n] = kind, site_[n] = uint32_t(site), depth_[n] = uint32_t(v), ts_[n] = ts, hold_[n] = 0, reason_[n] = 0, words_at_[n] = uint32_t(nwords);
    const unsigned words = kind == kEntry ? s.args : kind == kExit && s.ret ? 1 : 0;
    if (words_.size() < nwords + words + 1) words_.resize(std::max<size_t>(4096, 2 * (nwords + words + 1)));
    for (unsigned i = 0; i < words; i++)
      if (!read_varint(p, len, pos, words_[nwords++])) return not_plain();
    if (xor_ && words) {
      uint64_t* last = &prev_[site * kSlots];
      if (prev_gen_[site] != gen_) std::fill(last, last + kSlots, 0), prev_gen_[site] = gen_;
      if (kind == kEntry)
        for (unsigned i = 0; i < words; i++) last[i] = words_[nwords - words + i] ^= last[i];
      else
        last[kSlots - 1] = words_[nwords - 1] ^= last[kSlots - 1];
    }
    if (kind == kExit && !s.ret) words_[nwords++] = 0;  // an exit shows a return word: 0 when its site records none
    if (kind == kUnwound) {
      if (pos >= len || p[pos] >= kNReasons) return not_plain();
      reason_[n] = p[pos++];
    } else if (s.fp) {
      if (len - pos < 8) return not_plain();
      pos += 8;
    }
    if (kind == kEntry) entries++;
    bytes += kLineFixed + (kind == kEntry ? s.entry_tail.size() + 21 * s.args : s.exit_tail.size());
    n++;
  }
  // 2. Room: the open calls may grow by every entry, the bytes and lines by every row.
  if (open.cap < open.n + entries || out.cap - out.pos < bytes || (out.ends && out.lines_cap < n)) {
    res.status = JsonChunkResult::kNeedRoom;
    res.need_open = open.n + entries, res.need_bytes = out.pos + bytes, res.need_lines = n;
    return res;
  }
  // 3. Pair and write.
  Writer w{out.buf + out.pos};
  size_t lines = 0, on = open.n;
  char head[64];
  const int head_len = snprintf(head, sizeof head, "\"pid\":%u,\"tid\":%u", pid, tid);
  const auto line_done = [&](double at) {
    if (out.ends) out.ends[lines] = uint32_t(w.p - out.buf), out.ts[lines] = at;
    lines++;
  };
  for (size_t r = 0; r < n; r++) {
    const uint8_t kind = kind_[r];
    const uint32_t depth = depth_[r], site = site_[r];
    const Site& s = sites_[site];
    if (kind == kEntry) {
      while (on && open.depth[on - 1] >= depth) on--;  // calls whose exits never came
      open.depth[on] = depth, open.site[on] = site, open.ts[on] = ts_[r], on++;
      w.lit("{\"type\":\"entry\",");
      w.put(head, size_t(head_len));
      w.put(s.entry_tail);
      w.num(depth);
      w.lit(",\"args\":[");
      for (unsigned i = 0; i < s.args; i++) {
        if (i) *w.p++ = ',';
        *w.p++ = '"';
        w.hex(words_[words_at_[r] + i]);
        *w.p++ = '"';
      }
      w.lit("],\"ts\":");
      w.num(uint64_t(ts_[r]));
      w.lit("}\n");
      line_done(ts_[r]);
      continue;
    }
    while (on && open.depth[on - 1] > depth) on--;
    if (!on || open.depth[on - 1] != depth || open.site[on - 1] != site) {
      res.unmatched++;
      continue;
    }
    double dur = ts_[r] - open.ts[on - 1] - hold_[r];
    if (dur < 0) dur = 0;
    on--;
    w.lit("{\"type\":\"exit\",");
    w.put(head, size_t(head_len));
    w.put(s.exit_tail);
    w.num(depth);
    if (kind == kExit) {
      w.lit(",\"retval\":\"");
      w.hex(words_[words_at_[r]]);
      w.lit("\",\"unwound\":false,\"durationNs\":");
      w.num(uint64_t(dur));
    } else {
      w.lit(",\"retval\":null,\"unwound\":true,\"durationNs\":");
      w.num(uint64_t(dur));
      w.lit(",\"reason\":");
      w.put(kReasons[reason_[r]], strlen(kReasons[reason_[r]]));
    }
    w.lit(",\"ts\":");
    w.num(uint64_t(ts_[r]));
    w.lit("}\n");
    line_done(ts_[r]);
  }
  open.n = on;
  out.pos = size_t(w.p - out.buf);
  res.rows = double(n), res.entries = double(entries), res.lines = double(lines);
  res.last_ts = n ? ts_[n - 1] : -1;
  return res;
}

}  // namespace rethook
