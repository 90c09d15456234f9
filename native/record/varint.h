// The record's varints (docs/record-format.md): LEB128, at most 10 bytes, the
// tenth 0 or 1. Shared by the native readers of CALLS bytes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rethook {

/** The varint at p[pos], pos moved past it; false past `len` or too long. */
inline bool read_varint(const uint8_t* p, size_t len, size_t& pos, uint64_t& v) {
  uint64_t r = 0;
  for (int i = 0; i < 10; i++) {
    if (pos >= len) return false;
    const uint8_t c = p[pos++];
    if (i == 9 && c > 1) return false;
    r |= uint64_t(c & 0x7f) << (7 * i);
    if (c < 0x80) {
      v = r;
      return true;
    }
  }
  return false;
}

}  // namespace rethook
