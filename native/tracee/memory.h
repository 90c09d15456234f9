// A traced process's memory through /proc/PID/mem.
#pragma once
#include <cstddef>

#include "../remote_ptr.h"

namespace rethook {

// Opens /proc/PID/mem for bulk reads and writes. Writes go through FOLL_FORCE,
// so read-only text and our r-x pages can be patched without mprotect.
//
// The file is bound to the address space it was opened on: after an exec it
// reads nothing until reopen() (the tracer calls it on PTRACE_EVENT_EXEC).
class Memory {
 public:
  explicit Memory(int pid);
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  // Whole transfers only: a short read or write is a failure.
  bool read(RemotePtr addr, void* buf, size_t len) const;
  bool write(RemotePtr addr, const void* buf, size_t len) const;
  void reopen();
  int pid() const { return pid_; }

 private:
  int pid_;
  int fd_;
};

}  // namespace rethook
