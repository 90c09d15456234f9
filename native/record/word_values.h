// Typed values that are the words themselves: what the native line writers
// (json_lines.h, tree_lines.h) render for a site whose every argument and its
// return value are integers, booleans or plain pointers in registers. The
// rules are lib/types/values.ts's (fromRegister, decodeValue) for those
// kinds; TypeScript decides which sites qualify and says how each value is
// shown (lib/types/values.ts wordSignature), with the bytes of its JSON and
// text around it ready-made and escaped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "byte_writer.h"

namespace rethook {

/** The most a value's own bytes take (digits of a 64-bit word in octal, quoted, and a brace). */
constexpr size_t kWordValueMax = 32;

struct WordValue {
  enum Kind : uint8_t { kUnknown = 0, kInt = 1, kBool = 2, kPtr = 3, kVoid = 4 };
  enum Format : uint8_t { kDec = 0, kHex = 1, kOct = 2 };
  uint8_t kind = kUnknown, size = 8, fmt = kDec;
  bool sign = true;
  /** JSON: `{"name":…,"type":…,"value":` (void: the whole object); text: `name=`. */
  std::string json, text;
};

struct WordSignature {
  bool variadic = false;
  std::vector<WordValue> params;
  WordValue ret;
  /** The most an entry's values take (their JSON, or their text, with separators), and an exit's return value. */
  size_t entry_bytes(bool json) const {
    size_t n = 8;
    for (const WordValue& v : params) n += (json ? v.json.size() : v.text.size()) + kWordValueMax + 2;
    return n;
  }
  size_t exit_bytes() const { return ret.json.size() + kWordValueMax + 8; }
};

/** wordSignature()'s bytes read; false when they are not such bytes. */
bool parse_word_signature(const uint8_t* p, size_t len, WordSignature& out);

/** A value's JSON (after its prefix: the value and the closing brace). */
void write_json_value(ByteWriter& w, const WordValue& v, uint64_t word);
/** A value's text as the tree shows it (after its prefix). */
void write_text_value(ByteWriter& w, const WordValue& v, uint64_t word);

}  // namespace rethook
