// An address in the tracee's address space. A distinct type so that it is
// never confused with a pointer of ours or with a plain integer (after rr's
// remote_ptr): arithmetic is explicit and dereferencing is impossible.
#pragma once
#include <cstdint>

namespace rethook {

class RemotePtr {
 public:
  constexpr RemotePtr() : v_(0) {}
  constexpr explicit RemotePtr(uint64_t v) : v_(v) {}
  constexpr uint64_t as_int() const { return v_; }
  constexpr bool is_null() const { return v_ == 0; }
  constexpr RemotePtr operator+(int64_t d) const { return RemotePtr(v_ + d); }
  constexpr RemotePtr operator-(int64_t d) const { return RemotePtr(v_ - d); }
  constexpr int64_t operator-(RemotePtr o) const { return int64_t(v_ - o.v_); }
  constexpr bool operator==(RemotePtr o) const { return v_ == o.v_; }
  constexpr bool operator!=(RemotePtr o) const { return v_ != o.v_; }
  constexpr bool operator<(RemotePtr o) const { return v_ < o.v_; }

 private:
  uint64_t v_;
};

}  // namespace rethook
