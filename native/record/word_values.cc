// Typed values from words (word_values.h): the text and JSON of
// lib/types/values.ts and lib/types/render.ts jsonValue for ints, booleans
// and plain pointers.
#include "word_values.h"

namespace rethook {

namespace {

constexpr uint64_t kMaxSafe = 9007199254740991ull;  // Number.MAX_SAFE_INTEGER

bool read_bytes(const uint8_t* p, size_t len, size_t& pos, std::string& out) {
  if (len - pos < 4) return false;
  const uint32_t n = uint32_t(p[pos]) | uint32_t(p[pos + 1]) << 8 | uint32_t(p[pos + 2]) << 16 | uint32_t(p[pos + 3]) << 24;
  pos += 4;
  if (len - pos < n) return false;
  out.assign(reinterpret_cast<const char*>(p + pos), n);
  pos += n;
  return true;
}

bool read_value(const uint8_t* p, size_t len, size_t& pos, WordValue& v, bool text) {
  if (len - pos < 4) return false;
  v.kind = p[pos], v.size = p[pos + 1], v.sign = p[pos + 2] != 0, v.fmt = p[pos + 3];
  pos += 4;
  if (v.kind > WordValue::kVoid || v.fmt > WordValue::kOct || !(v.size == 1 || v.size == 2 || v.size == 4 || v.size == 8)) return false;
  return read_bytes(p, len, pos, v.json) && (!text || read_bytes(p, len, pos, v.text));
}

/** The low `size` bytes of the word, as the type reads them: sign-extended or not; `negative` when below 0. */
uint64_t integer(const WordValue& v, uint64_t word, bool& negative) {
  const unsigned bits = 8u * v.size;
  const uint64_t u = bits == 64 ? word : word & ((1ull << bits) - 1);
  negative = v.sign && (u >> (bits - 1)) & 1;
  if (!negative) return u;
  return bits == 64 ? ~u + 1 : ((1ull << bits) - u);  // its magnitude
}

void octal(ByteWriter& w, uint64_t u) {
  char tmp[24];
  int i = 24;
  do tmp[--i] = char('0' + (u & 7)), u >>= 3;
  while (u);
  w.put(tmp + i, size_t(24 - i));
}

/** An integer's decimal digits, with its sign. */
void decimal(ByteWriter& w, uint64_t magnitude, bool negative) {
  if (negative) *w.p++ = '-';
  w.num(magnitude);
}

}  // namespace

bool parse_word_signature(const uint8_t* p, size_t len, WordSignature& out) {
  if (len < 3 || p[0] != 1) return false;
  out.variadic = p[1] != 0;
  out.params.assign(p[2], WordValue{});
  size_t pos = 3;
  for (WordValue& v : out.params)
    if (!read_value(p, len, pos, v, true) || v.kind == WordValue::kUnknown || v.kind == WordValue::kVoid) return false;
  return read_value(p, len, pos, out.ret, false) && pos == len;
}

void write_json_value(ByteWriter& w, const WordValue& v, uint64_t word) {
  switch (v.kind) {
    case WordValue::kInt: {
      bool negative;
      const uint64_t m = integer(v, word, negative);
      // A number where it is exact in a double, else its digits as a string (render.ts jsonValue).
      if (m <= kMaxSafe) {
        decimal(w, m, negative);
      } else {
        *w.p++ = '"';
        decimal(w, m, negative);
        *w.p++ = '"';
      }
      break;
    }
    case WordValue::kBool:
      if (word & 0xff) w.lit("true");
      else w.lit("false");
      break;
    case WordValue::kPtr:
      *w.p++ = '"';
      w.hex(word);
      *w.p++ = '"';
      break;
  }
  *w.p++ = '}';
}

void write_text_value(ByteWriter& w, const WordValue& v, uint64_t word) {
  switch (v.kind) {
    case WordValue::kInt: {
      bool negative;
      const uint64_t m = integer(v, word, negative);
      if (v.fmt == WordValue::kDec) return decimal(w, m, negative);
      const uint64_t u = v.size == 8 ? word : word & ((1ull << (8u * v.size)) - 1);
      if (v.fmt == WordValue::kHex) return w.hex(u);
      *w.p++ = '0';
      return octal(w, u);
    }
    case WordValue::kBool:
      if (word & 0xff) w.lit("true");
      else w.lit("false");
      return;
    case WordValue::kPtr:
      if (word) w.hex(word);
      else w.lit("NULL");
      return;
  }
}

}  // namespace rethook
