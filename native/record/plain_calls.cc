// Plain calls decoded from CALLS bytes (plain_calls.h), as lib/record/calls.ts
// decodes them (docs/record-format.md).
#include "plain_calls.h"
#include "varint.h"

#include <algorithm>

namespace rethook {

const char* const kUnwindReasons[] = {"longjmp", "exception", "thread-exit", "exec", "detach", "exit", "other"};

namespace {
enum : uint8_t { kString = 4, kExtra = 5, kHeld = 6 };
constexpr uint64_t kMaxDepth = (1ull << 31) - 1;
constexpr double kMaxSafe = 9007199254740991.0;
/** Words kept per site for version 3's XOR: 16 argument slots, then the return word (encode.h kWordSlots). */
constexpr size_t kSlots = 17;
}  // namespace

void PlainCalls::site(uint32_t id, uint8_t args, bool ret, bool fp, bool plain, const std::string& typed) {
  if (id >= sites_.size()) sites_.resize(id + 1), typed_.resize(id + 1), has_typed_.resize(id + 1, false);
  WordSignature& sig = typed_[id];
  has_typed_[id] = !typed.empty() && parse_word_signature(reinterpret_cast<const uint8_t*>(typed.data()), typed.size(), sig) && sig.params.size() <= args;
  sites_[id] = Site{args, ret, fp, plain && (typed.empty() || has_typed_[id]), true};
}

bool PlainCalls::decode(const uint8_t* p, size_t len, double base_ts, const std::vector<size_t>& entry_bytes,
                        const std::vector<size_t>& exit_bytes, size_t& bytes) {
  size_t pos = 0, nwords = 0;
  double ts = base_ts;
  n = 0, entries = 0, bytes = 0;
  gen_ = gen_ == UINT32_MAX ? 1 : gen_ + 1;
  if (xor_ && prev_gen_.size() < sites_.size()) prev_gen_.resize(sites_.size(), 0), prev_.resize(sites_.size() * kSlots, 0);
  while (pos < len) {
    uint64_t tag, dt, v;
    if (!read_varint(p, len, pos, tag) || !read_varint(p, len, pos, dt)) return false;
    const uint8_t kind = uint8_t(tag & 7);
    const uint64_t site = tag >> 3;
    if (kind == kHeld) {
      if (!read_varint(p, len, pos, v) || !n || kind_[n - 1] == kEntry) return false;
      hold_[n - 1] = double(v);
      continue;
    }
    if (kind < kEntry || kind > kUnwound || site >= sites_.size() || !sites_[site].known || !sites_[site].plain) return false;
    if (!read_varint(p, len, pos, v) || v > kMaxDepth) return false;
    ts += double(dt);
    if (!(ts <= kMaxSafe)) return false;
    if (n == kind_.size()) {
      const size_t m = std::max<size_t>(4096, 2 * n);
      kind_.resize(m), reason_.resize(m), site_.resize(m), depth_.resize(m), words_at_.resize(m), ts_.resize(m), hold_.resize(m);
    }
    const Site& s = sites_[site];
    kind_[n] = kind, site_[n] = uint32_t(site), depth_[n] = uint32_t(v), ts_[n] = ts, hold_[n] = 0, reason_[n] = 0, words_at_[n] = uint32_t(nwords);
    const unsigned words = kind == kEntry ? s.args : kind == kExit && s.ret ? 1 : 0;
    if (words_.size() < nwords + words + 1) words_.resize(std::max<size_t>(4096, 2 * (nwords + words + 1)));
    for (unsigned i = 0; i < words; i++)
      if (!read_varint(p, len, pos, words_[nwords++])) return false;
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
      if (pos >= len || p[pos] >= kNUnwindReasons) return false;
      reason_[n] = p[pos++];
    } else if (s.fp) {
      if (len - pos < 8) return false;
      pos += 8;
    }
    if (kind == kEntry) entries++;
    bytes += kind == kEntry ? entry_bytes[site] : exit_bytes[site];
    n++;
  }
  return true;
}

size_t PlainCalls::peak_open(const OpenCalls& open) const {
  sim_depth_.assign(open.depth, open.depth + open.n);
  sim_site_.assign(open.site, open.site + open.n);
  size_t peak = open.n;
  for (size_t r = 0; r < n; r++) {
    const uint32_t depth = depth_[r];
    if (kind_[r] == kEntry) {
      while (!sim_depth_.empty() && sim_depth_.back() >= depth) sim_depth_.pop_back(), sim_site_.pop_back();
      sim_depth_.push_back(depth), sim_site_.push_back(site_[r]);
      peak = std::max(peak, sim_depth_.size());
      continue;
    }
    while (!sim_depth_.empty() && sim_depth_.back() > depth) sim_depth_.pop_back(), sim_site_.pop_back();
    if (!sim_depth_.empty() && sim_depth_.back() == depth && sim_site_.back() == site_[r]) sim_depth_.pop_back(), sim_site_.pop_back();
  }
  return peak;
}

}  // namespace rethook
