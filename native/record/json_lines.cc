// Live JSON lines from CALLS bytes (json_lines.h). The lines are those of
// lib/record/json-lines.ts for plain calls, byte for byte:
//   {"type":"entry","pid":P,"tid":T<entry tail>D,"args":["0x..",...],"ts":TS}
//   {"type":"exit","pid":P,"tid":T<exit tail>D,"retval":"0x..","unwound":false,"durationNs":N,"ts":TS}
//   {"type":"exit","pid":P,"tid":T<exit tail>D,"retval":null,"unwound":true,"durationNs":N,"reason":"R","ts":TS}
// and an exit is paired as lib/record/events.ts CallEvents.rows pairs it.
#include "json_lines.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rethook {

namespace {

/** The most a line takes besides its site's tail and its words: the fixed fields and five numbers of 20 digits. */
constexpr size_t kLineFixed = 200;

}  // namespace

void JsonLines::site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, std::string entry_tail, std::string exit_tail,
                     const std::string& typed) {
  if (id >= entry_tail_.size())
    entry_tail_.resize(id + 1), exit_tail_.resize(id + 1), entry_bytes_.resize(id + 1, 0), exit_bytes_.resize(id + 1, 0);
  calls_.site(id, args, ret, fp, plain, typed);
  const WordSignature* sig = calls_.typed(id);
  entry_bytes_[id] = kLineFixed + entry_tail.size() + 21 * args + (sig ? sig->entry_bytes(true) : 0);
  exit_bytes_[id] = kLineFixed + exit_tail.size() + (sig ? sig->exit_bytes() : 0);
  entry_tail_[id] = std::move(entry_tail), exit_tail_[id] = std::move(exit_tail);
}

LinesResult JsonLines::chunk(const uint8_t* p, size_t len, uint32_t pid, uint32_t tid, double base_ts, OpenCalls& open, LinesOut& out) {
  LinesResult res;
  // 1. Decode the whole chunk (damage, a STRING or EXTRA record, or a typed site: TypeScript's).
  size_t bytes = 0;
  if (!calls_.decode(p, len, base_ts, entry_bytes_, exit_bytes_, bytes)) {
    res.status = LinesResult::kNotPlain;
    return res;
  }
  const PlainCalls& c = calls_;
  const size_t n = c.n;
  // 2. Room: the open calls may grow by every entry, the bytes and lines by every row.
  if (open.cap < open.n + c.entries || out.cap - out.pos < bytes || (out.ends && out.lines_cap < n)) {
    res.status = LinesResult::kNeedRoom;
    res.need_open = open.n + c.entries, res.need_bytes = out.pos + bytes, res.need_lines = n;
    return res;
  }
  // 3. Pair and write.
  ByteWriter w{out.buf + out.pos};
  size_t lines = 0;
  char head[64];
  const int head_len = snprintf(head, sizeof head, "\"pid\":%u,\"tid\":%u", pid, tid);
  const auto line_done = [&](double at) {
    if (out.ends) out.ends[lines] = uint32_t(w.p - out.buf), out.ts[lines] = at;
    lines++;
  };
  c.pair(
      open, res.unmatched,
      [&](size_t r) {
        const uint32_t site = c.site_[r];
        w.lit("{\"type\":\"entry\",");
        w.put(head, size_t(head_len));
        w.put(entry_tail_[site]);
        w.num(c.depth_[r]);
        w.lit(",\"args\":[");
        for (unsigned i = 0; i < c.sites_[site].args; i++) {
          if (i) *w.p++ = ',';
          *w.p++ = '"';
          w.hex(c.words_[c.words_at_[r] + i]);
          *w.p++ = '"';
        }
        if (const WordSignature* sig = c.typed(site)) {
          w.lit("],\"argv\":[");
          for (size_t i = 0; i < sig->params.size(); i++) {
            if (i) *w.p++ = ',';
            w.put(sig->params[i].json);
            write_json_value(w, sig->params[i], c.words_[c.words_at_[r] + i]);
          }
        }
        w.lit("],\"ts\":");
        w.num(uint64_t(c.ts_[r]));
        w.lit("}\n");
        line_done(c.ts_[r]);
      },
      [&](size_t r, double dur) {
        w.lit("{\"type\":\"exit\",");
        w.put(head, size_t(head_len));
        w.put(exit_tail_[c.site_[r]]);
        w.num(c.depth_[r]);
        if (c.kind_[r] == PlainCalls::kExit) {
          w.lit(",\"retval\":\"");
          w.hex(c.words_[c.words_at_[r]]);
          w.lit("\",\"unwound\":false,\"durationNs\":");
          w.num(uint64_t(dur));
          const WordSignature* sig = c.typed(c.site_[r]);
          if (sig && sig->ret.kind != WordValue::kUnknown) {
            const WordValue& ret = sig->ret;
            w.lit(",\"ret\":");
            w.put(ret.json);
            if (ret.kind != WordValue::kVoid) write_json_value(w, ret, c.words_[c.words_at_[r]]);
          }
        } else {
          w.lit(",\"retval\":null,\"unwound\":true,\"durationNs\":");
          w.num(uint64_t(dur));
          w.lit(",\"reason\":\"");
          const char* why = kUnwindReasons[c.reason_[r]];
          w.put(why, strlen(why));
          *w.p++ = '"';
        }
        w.lit(",\"ts\":");
        w.num(uint64_t(c.ts_[r]));
        w.lit("}\n");
        line_done(c.ts_[r]);
      });
  out.pos = size_t(w.p - out.buf);
  res.rows = double(n), res.entries = double(c.entries), res.lines = double(lines);
  res.last_ts = n ? c.ts_[n - 1] : -1;
  return res;
}

}  // namespace rethook
