#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

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

long ptrace_options() {
  return PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
         PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
}

int spawn_seized(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& envp, const std::string& cwd,
                 const std::vector<int>& stdio, std::string* err) {
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
  pid_t pid = fork();
  if (pid < 0) {
    *err = std::string("fork: ") + strerror(errno);
    return -1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    // Die with the tracer: a program the tracer started never outlives it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // Node ignores SIGPIPE and blocks some signals; the program must start as
    // it would from a shell.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &sa, nullptr);
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
    if (read(pipefd[0], &e, sizeof e) == sizeof e) *err = strerror(e);
    else *err = "child did not start";
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
      if (read(pipefd[0], &e, sizeof e) == sizeof e) *err = strerror(e);
      else *err = "program exited before exec";
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

// Trap addresses where a thread can only be because it trapped on our
// breakpoint: the trampoline, and breakpoints over instructions longer than
// the trap (a resumed thread is never at breakpoint + 1 there). A SIGTRAP
// reported there needs no PTRACE_GETSIGINFO to be told from the program's own:
// one system call less per event. Only where the trap's pc is past the trap.
static std::unordered_set<uint64_t> g_unambiguous_traps;

void set_unambiguous_trap(RemotePtr addr, bool on) {
  if (on) g_unambiguous_traps.insert(addr.as_int());
  else g_unambiguous_traps.erase(addr.as_int());
}

static Stop decode_status(int tid, int status, ArchRegs* regs) {
  Stop s;
  s.tid = tid;
  if (WIFEXITED(status)) {
    s.kind = kExited;
    s.a = WEXITSTATUS(status);
    return s;
  }
  if (WIFSIGNALED(status)) {
    s.kind = kKilled;
    s.a = WTERMSIG(status);
    return s;
  }
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  if (event == PTRACE_EVENT_STOP) {
    if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
      s.kind = kGroupStop;
      s.a = sig;
    } else {
      s.kind = kInterrupt;
    }
    return s;
  }
  if (event != 0) {
    s.kind = kEvent;
    s.a = event;
    ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &s.msg);
    return s;
  }
  if (sig == (SIGTRAP | 0x80)) {
    s.kind = kSyscall;
    return s;
  }
  s.kind = kSignal;
  s.a = sig;
  if (sig == SIGTRAP && arch_get_regs(tid, regs)) {
    s.kind = kTrap;
    s.addr = RemotePtr(regs->words[kArch.reg_pc] - kArch.trap_pc_adjust);
    siginfo_t si;
    if (kArch.trap_pc_adjust > 0 && g_unambiguous_traps.count(s.addr.as_int()))
      s.si_code = kArch.trap_si_code;
    else if (ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0)
      s.si_code = si.si_code;
  }
  return s;
}

Stop wait_any(const std::unordered_set<int>& tids, int hint, ArchRegs* regs) {
  int status;
  // The thread that stopped last usually stops next: ask it first (one
  // syscall instead of a peek and a reap).
  if (hint > 0 && tids.count(hint) && waitpid(hint, &status, WNOHANG | __WALL) == hint)
    return decode_status(hint, status, regs);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  // Peek (WNOWAIT) to learn who is waiting without reaping a child of Node's.
  if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) == 0 &&
      si.si_pid != 0 && tids.count(si.si_pid)) {
    if (waitpid(si.si_pid, &status, WNOHANG | __WALL) == si.si_pid)
      return decode_status(si.si_pid, status, regs);
  }
  if (si.si_pid == 0) return Stop();
  // Someone else's child is first in line: ask each of ours in turn.
  for (int tid : tids) {
    if (waitpid(tid, &status, WNOHANG | __WALL) == tid) return decode_status(tid, status, regs);
  }
  return Stop();
}

Stop wait_thread(int tid, ArchRegs* regs) {
  int status;
  for (;;) {
    int r = waitpid(tid, &status, __WALL);
    if (r == tid) return decode_status(tid, status, regs);
    if (r < 0 && errno != EINTR) {
      Stop s;
      s.tid = tid;
      s.kind = kKilled;
      s.a = 0;
      return s;
    }
  }
}

namespace {
// Puts the thread's registers and the stub's original bytes back however the
// injected call ends (after rr's AutoRemoteSyscalls).
class RestoreOnExit {
 public:
  RestoreOnExit(int tid, Memory* mem, RemotePtr at, const ArchRegs& regs,
                std::vector<uint8_t> saved)
      : tid_(tid), mem_(mem), at_(at), regs_(regs), saved_(std::move(saved)) {}
  ~RestoreOnExit() {
    if (!saved_.empty()) mem_->write(at_, saved_.data(), saved_.size());
    arch_set_regs(tid_, regs_);
  }

 private:
  int tid_;
  Memory* mem_;
  RemotePtr at_;
  ArchRegs regs_;
  std::vector<uint8_t> saved_;
};
}  // namespace

bool inject_syscall(int tid, Memory* mem, RemotePtr stub, bool write_stub, long nr,
                    const uint64_t args[6], uint64_t* result, std::string* err) {
  ArchRegs saved;
  if (!arch_get_regs(tid, &saved)) {
    *err = std::string("cannot read registers: ") + strerror(errno);
    return false;
  }
  std::vector<uint8_t> code = arch_syscall_stub();
  if (stub.is_null()) stub = RemotePtr(saved.words[kArch.reg_pc]);
  std::vector<uint8_t> original;
  if (write_stub) {
    original.resize(code.size());
    if (!mem->read(stub, original.data(), original.size())) {
      *err = "cannot read the code at the injection site";
      return false;
    }
    if (!mem->write(stub, code.data(), code.size())) {
      *err = "cannot write the injection stub";
      return false;
    }
  }
  RestoreOnExit restore(tid, mem, stub, saved, std::move(original));
  ArchRegs regs = saved;
  arch_prepare_syscall(&regs, stub, nr, args);
  if (!arch_set_regs(tid, regs)) {
    *err = std::string("cannot set registers: ") + strerror(errno);
    return false;
  }
  // The trap ends the stub: its reported pc is its address plus trap_pc_adjust
  // (x86-64: the stub's end; arm64: the brk itself).
  uint64_t expect = stub.as_int() + code.size() - kArch.breakpoint_len + kArch.trap_pc_adjust;
  std::vector<int> deferred;
  if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
    *err = std::string("cannot resume for the injected syscall: ") + strerror(errno);
    return false;
  }
  for (;;) {
    Stop s = wait_thread(tid, &regs);
    if (s.kind == kExited || s.kind == kKilled) {
      *err = "the thread died during an injected syscall";
      return false;
    }
    if (s.kind == kTrap && regs.words[kArch.reg_pc] == expect) break;
    // A signal that arrives meanwhile is the program's: deliver it after.
    if (s.kind == kSignal || (s.kind == kTrap)) deferred.push_back(s.a ? s.a : SIGTRAP);
    ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
  *result = arch_syscall_result(regs);
  for (int sig : deferred) syscall(SYS_tgkill, mem->pid(), tid, sig);
  return true;
}

bool inject_call(int tid, Memory* mem, RemotePtr fn, RemotePtr return_to, uint64_t* result,
                 std::string* err) {
  ArchRegs saved;
  if (!arch_get_regs(tid, &saved)) {
    *err = std::string("cannot read registers: ") + strerror(errno);
    return false;
  }
  RestoreOnExit restore(tid, mem, RemotePtr(), saved, {});
  ArchRegs regs = saved;
  // A fresh, aligned frame well below the thread's stack pointer (past any red zone).
  uint64_t sp = (saved.words[kArch.reg_sp] - 1024) & ~uint64_t(15);
  if (kArch.reg_return_address >= 0) {
    regs.words[kArch.reg_return_address] = return_to.as_int();
  } else {
    sp -= 8;
    uint64_t ret = return_to.as_int();
    if (!mem->write(RemotePtr(sp), &ret, 8)) {
      *err = "cannot write the return address of an injected call";
      return false;
    }
  }
  regs.words[kArch.reg_sp] = sp;
  regs.words[kArch.reg_pc] = fn.as_int();
  for (int i = 0; i < kArch.nargs; i++) regs.words[kArch.reg_args[i]] = 0;
  arch_cancel_syscall_restart(&regs);
  if (!arch_set_regs(tid, regs) || ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
    *err = std::string("cannot start an injected call: ") + strerror(errno);
    return false;
  }
  for (;;) {
    Stop s = wait_thread(tid, &regs);
    if (s.kind == kExited || s.kind == kKilled) {
      *err = "the thread died during an injected call";
      return false;
    }
    if (s.kind == kTrap && s.addr == return_to) break;
    if (s.kind == kSignal || s.kind == kTrap) {
      *err = "the injected call raised signal " + std::to_string(s.a ? s.a : SIGTRAP);
      return false;
    }
    ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
  *result = regs.words[kArch.reg_retval];
  return true;
}

}  // namespace rethook
