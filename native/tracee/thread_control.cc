#include "thread_control.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

namespace rethook {

bool resume_thread(int tid, int sig, bool until_syscall) {
  auto req = until_syscall ? PTRACE_SYSCALL : PTRACE_CONT;
  return ptrace(req, tid, nullptr, (void*)(long)sig) == 0;
}

bool listen_thread(int tid) { return ptrace(PTRACE_LISTEN, tid, nullptr, nullptr) == 0; }

bool interrupt_thread(int tid) { return ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) == 0; }

bool detach_thread(int tid, int sig) {
  return ptrace(PTRACE_DETACH, tid, nullptr, (void*)(long)sig) == 0;
}

bool kill_process(int pid, int sig) { return ::kill(pid, sig) == 0; }

int reap_child(int pid) {
  int status;
  int r = waitpid(pid, &status, WNOHANG | __WALL);
  if (r == pid) return status;
  return r < 0 && errno == ECHILD ? -2 : -1;
}

}  // namespace rethook
