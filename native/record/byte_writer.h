// Bytes written into a buffer the caller made room in: what the native line
// writers write their lines with.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace rethook {

/** Bytes written from `p` on (the caller made room). */
struct ByteWriter {
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

}  // namespace rethook
