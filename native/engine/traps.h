// One process's "unambiguous trap" addresses.
#pragma once
#include <cstdint>
#include <unordered_set>

#include "../remote_ptr.h"

namespace rethook {

// Trap addresses where a thread can only be because it trapped on our
// breakpoint: the trampoline, and breakpoints over instructions longer than
// the trap (a resumed thread is never at breakpoint + 1 there). A SIGTRAP
// reported there needs no PTRACE_GETSIGINFO to be told from the program's own:
// one system call less per event. Only where the trap's pc is past the trap.
//
// Addresses mean something in one address space only: each traced process
// has its own set, copied to a forked child and emptied by exec.
class TrapSet {
 public:
  void mark(RemotePtr addr) { addrs_.insert(addr.as_int()); }
  void unmark(RemotePtr addr) { addrs_.erase(addr.as_int()); }
  bool contains(RemotePtr addr) const { return addrs_.count(addr.as_int()) != 0; }
  void clear() { addrs_.clear(); }

 private:
  std::unordered_set<uint64_t> addrs_;
};

}  // namespace rethook
