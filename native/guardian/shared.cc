#include "shared.h"

#include "standby.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rethook {

namespace {

constexpr unsigned kSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW;

Napi::ArrayBuffer MapFd(Napi::Env env, int fd, size_t size, const std::string& what) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw Napi::Error::New(env, "cannot map " + what + ": " + strerror(errno));
  return Napi::ArrayBuffer::New(env, p, size, [size](Napi::Env, void* data) { munmap(data, size); });
}

[[noreturn]] void Fail(Napi::Env env, int fd, const std::string& msg) {
  if (fd >= 0) close(fd);
  throw Napi::Error::New(env, msg);
}

}  // namespace

Napi::Value CreateSharedMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  size_t size = size_t(info[1].As<Napi::Number>().Int64Value());
  int fd = int(syscall(SYS_memfd_create, name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) Fail(env, -1, std::string("memfd_create: ") + strerror(errno));
  if (ftruncate(fd, off_t(size)) != 0 || fcntl(fd, F_ADD_SEALS, kSizeSeals | F_SEAL_SEAL) != 0)
    Fail(env, fd, std::string("cannot size shared memory: ") + strerror(errno));
  Napi::ArrayBuffer buf = MapFd(env, fd, size, name);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t(0), Napi::Number::New(env, fd));
  out.Set(uint32_t(1), buf);
  return out;
}

Napi::Value MapSharedFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t size = size_t(info[1].As<Napi::Number>().Int64Value());
  struct stat st;
  int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || seals < 0 || (unsigned(seals) & kSizeSeals) != kSizeSeals ||
      size_t(st.st_size) != size)
    throw Napi::Error::New(env, "descriptor " + std::to_string(fd) + " is not rethook's sealed shared memory");
  return MapFd(env, fd, size, "descriptor " + std::to_string(fd));
}

Napi::Value AdoptTraceeMemfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = info[0].As<Napi::Number>().Int32Value();
  int target = info[1].As<Napi::Number>().Int32Value();
  std::string name = info[2].As<Napi::String>();
  size_t size = size_t(info[3].As<Napi::Number>().Int64Value());
  std::string what = "descriptor " + std::to_string(target) + " of process " + std::to_string(pid);
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) Fail(env, -1, "pidfd_open(" + std::to_string(pid) + "): " + strerror(errno));
  int fd = int(syscall(SYS_pidfd_getfd, pidfd, target, 0));
  int err = errno;
  close(pidfd);
  if (fd < 0) Fail(env, -1, "cannot take " + what + ": " + strerror(err));
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  // Our memfd, as the injected memfd_create made it: a regular shmem file,
  // open read-write, empty, sealable with no seal yet (a file in tmpfs by a
  // name has F_SEAL_SEAL; an O_PATH handle has no seals to read), named ours.
  struct stat st;
  int seals = fcntl(fd, F_GET_SEALS);
  int flags = fcntl(fd, F_GETFL);
  char link[256];
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(self.c_str(), link, sizeof link - 1);
  std::string expect = "/memfd:" + name + " (deleted)";
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0 || seals != 0 || flags < 0 ||
      (flags & O_ACCMODE) != O_RDWR || n != ssize_t(expect.size()) || expect.compare(0, expect.size(), link, size_t(n)) != 0)
    Fail(env, fd, what + " is not the memory fast mode created (it was replaced)");
  if (ftruncate(fd, off_t(size)) != 0 || fcntl(fd, F_ADD_SEALS, kSizeSeals | F_SEAL_SEAL) != 0)
    Fail(env, fd, "cannot size " + what + ": " + strerror(errno));
  Napi::ArrayBuffer buf = MapFd(env, fd, size, what);
  close(fd);
  return buf;
}

Napi::Value StartGuardian(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = info[0].As<Napi::Number>().Int32Value();
  int mirror = info[1].As<Napi::Number>().Int32Value();
  std::string node = info[2].As<Napi::String>();
  std::string script = info[3].As<Napi::String>();
  // The process, named by identity: a pid reused later is never touched.
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw Napi::Error::New(env, std::string("pidfd_open: ") + strerror(errno));
  // SIGUSR2 blocked across fork and exec: the guardian takes its
  // parent-death signal with sigtimedwait. Blocked here, in this thread.
  sigset_t usr2, old;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, &old);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGUSR2);
    if (getppid() != parent) raise(SIGUSR2);  // the tracer died already: act at once
    setsid();  // a Ctrl-C meant for the tracer is not for the guardian
    // Out of the way of 0-4 first, then the mirror at 3 and the pidfd at 4.
    int m = fcntl(mirror, F_DUPFD, 64), p = fcntl(pidfd, F_DUPFD, 64);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    if (m < 0 || p < 0 || dup2(m, 3) != 3 || dup2(p, 4) != 4) _exit(1);
    if (syscall(SYS_close_range, 5u, ~0u, 0u) != 0)
      for (int fd = 5; fd < 1024; fd++) close(fd);
    guardian_standby(pid, node.c_str(), script.c_str());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(pidfd);
  if (child < 0) throw Napi::Error::New(env, std::string("fork: ") + strerror(errno));
  return Napi::Number::New(env, child);
}

Napi::Value PidfdAlive(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), syscall(SYS_pidfd_send_signal, fd, 0, nullptr, 0) == 0);
}

Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  int status;
  pid_t pid = pid_t(info[0].As<Napi::Number>().Int32Value());
  pid_t r = waitpid(pid, &status, WNOHANG);
  return Napi::Boolean::New(info.Env(), r == pid || (r < 0 && errno == ECHILD));
}

}  // namespace rethook
