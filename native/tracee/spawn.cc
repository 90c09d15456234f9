#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rethook {

long ptrace_options() {
  return PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
         PTRACE_O_TRACEVFORKDONE | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
}

int spawn_seized(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& envp, const std::string& cwd,
                 const std::vector<int>& stdio, uint64_t ignored, std::string* err,
                 int* died_pid, int* died_status) {
  *died_pid = 0;
  // Everything the child needs is prepared before fork: after it, the child
  // of a multi-threaded process may only call async-signal-safe functions.
  std::vector<char*> av, ev;
  for (auto& s : argv) av.push_back(const_cast<char*>(s.c_str()));
  av.push_back(nullptr);
  for (auto& s : envp) ev.push_back(const_cast<char*>(s.c_str()));
  ev.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + strerror(errno);
    return -1;
  }
  pid_t parent = getpid();
  // Every signal blocked across the fork, as libuv's uv_spawn does: until the
  // child has reset them below, it has our handlers, and Node's handler run
  // there (a Ctrl-C to the process group in that window) would write to the
  // signal pipe it shares with us: we would see the signal twice and the
  // program not at all. Blocked, it stays pending in the child until the
  // dispositions are default, and then does what it would do to the program.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid != 0) pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    *err = std::string("fork: ") + strerror(errno);
    return -1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    // Die with the tracer: a program the tracer started never outlives it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // Node ignores SIGPIPE and SIGXFSZ, handles others and blocks some; the
    // program must start as it would from a shell: every signal default but
    // those our own caller ignored (`ignored`, bit n-1 for signal n), which a
    // shell's exec would have left ignored (nohup, trap '' HUP).
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    for (int s = 1; s < NSIG; s++) {
      sa.sa_handler = s <= 64 && (ignored >> (s - 1)) & 1 ? SIG_IGN : SIG_DFL;
      sigaction(s, &sa, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Node marks its stdio close-on-exec and non-blocking; the program gets
    // them as a shell would give them (as libuv's uv_spawn does).
    for (int fd = 0; fd <= 2; fd++) {
      if (fd < int(stdio.size()) && stdio[fd] >= 0 && stdio[fd] != fd) dup2(stdio[fd], fd);
      fcntl(fd, F_SETFD, 0);
      int fl = fcntl(fd, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    int e = 0;
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      e = errno;
      (void)!write(pipefd[1], &e, sizeof e);
      _exit(127);
    }
    raise(SIGSTOP);
    execve(path.c_str(), av.data(), ev.data());
    e = errno;
    (void)!write(pipefd[1], &e, sizeof e);
    _exit(127);
  }
  close(pipefd[1]);
  int status;
  if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
    int e = 0;
    if (read(pipefd[0], &e, sizeof e) == sizeof e) {
      *err = strerror(e);
    } else {
      *err = "child did not start";
      if (WIFSIGNALED(status)) *died_pid = pid, *died_status = status;
    }
    close(pipefd[0]);
    return -1;
  }
  if (ptrace(PTRACE_SEIZE, pid, nullptr, (void*)ptrace_options()) != 0) {
    *err = std::string("ptrace(PTRACE_SEIZE): ") + strerror(errno);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    return -1;
  }
  kill(pid, SIGCONT);
  for (;;) {
    if (waitpid(pid, &status, __WALL) != pid) {
      *err = std::string("waitpid: ") + strerror(errno);
      close(pipefd[0]);
      return -1;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      int e = 0;
      if (read(pipefd[0], &e, sizeof e) == sizeof e) {
        *err = strerror(e);
      } else {
        *err = "program exited before exec";
        *died_pid = pid;
        *died_status = status;
      }
      close(pipefd[0]);
      return -1;
    }
    int event = status >> 16;
    int sig = WSTOPSIG(status);
    // The exec event comes from inside execve, whose return value is yet to be
    // written: go on to the syscall-exit stop, where registers are final.
    if (event == PTRACE_EVENT_EXEC) {
      ptrace(PTRACE_SYSCALL, pid, nullptr, nullptr);
      continue;
    }
    if (event == 0 && sig == (SIGTRAP | 0x80)) break;
    // The SIGSTOP group-stop and the SIGCONT that ends it are ours: swallow.
    int deliver = (event == 0 && sig != SIGCONT && sig != SIGSTOP) ? sig : 0;
    ptrace(PTRACE_CONT, pid, nullptr, (void*)(long)deliver);
  }
  close(pipefd[0]);
  return pid;
}

bool seize_thread(int tid, bool exit_kill, std::string* err) {
  long opts = ptrace_options();
  if (!exit_kill) opts &= ~long(PTRACE_O_EXITKILL);
  if (ptrace(PTRACE_SEIZE, tid, nullptr, (void*)opts) != 0) {
    *err = strerror(errno);
    return false;
  }
  ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
  return true;
}

}  // namespace rethook
