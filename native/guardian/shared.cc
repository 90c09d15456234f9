#include "shared.h"

#include "standby.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>


namespace rethook {

Napi::Value MapSharedFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  size_t size = size_t(info[1].As<Napi::Number>().Int64Value());
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Napi::Error::New(env, "cannot open " + path + ": " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || (size_t(st.st_size) < size && ftruncate(fd, off_t(size)) != 0)) {
    int e = errno;
    close(fd);
    throw Napi::Error::New(env, "cannot size " + path + ": " + strerror(e));
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw Napi::Error::New(env, "cannot map " + path + ": " + strerror(errno));
  return Napi::ArrayBuffer::New(env, p, size, [size](Napi::Env, void* data) { munmap(data, size); });
}

Napi::Value StartGuardian(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = info[0].As<Napi::Number>().Int32Value();
  std::string mirror = info[1].As<Napi::String>();
  std::string node = info[2].As<Napi::String>();
  std::string script = info[3].As<Napi::String>();
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
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    for (int fd = 3; fd < 1024; fd++) close(fd);
    guardian_standby(pid, mirror.c_str(), node.c_str(), script.c_str());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (child < 0) throw Napi::Error::New(env, std::string("fork: ") + strerror(errno));
  return Napi::Number::New(env, child);
}

Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  int status;
  pid_t pid = pid_t(info[0].As<Napi::Number>().Int32Value());
  pid_t r = waitpid(pid, &status, WNOHANG);
  return Napi::Boolean::New(info.Env(), r == pid || (r < 0 && errno == ECHILD));
}


}  // namespace rethook
