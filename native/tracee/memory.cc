#include "memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace rethook {

Memory::Memory(int pid) : pid_(pid), fd_(-1) { reopen(); }

Memory::~Memory() {
  if (fd_ >= 0) close(fd_);
}

void Memory::reopen() {
  if (fd_ >= 0) close(fd_);
  std::string path = "/proc/" + std::to_string(pid_) + "/mem";
  fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
}

bool Memory::read(RemotePtr addr, void* buf, size_t len) const {
  return fd_ >= 0 && pread(fd_, buf, len, off_t(addr.as_int())) == ssize_t(len);
}

bool Memory::write(RemotePtr addr, const void* buf, size_t len) const {
  return fd_ >= 0 && pwrite(fd_, buf, len, off_t(addr.as_int())) == ssize_t(len);
}

}  // namespace rethook
