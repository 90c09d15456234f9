// The yardstick: the cost of one bare ptrace stop on this machine. A child
// executes a breakpoint instruction in a loop; the parent does waitpid + get
// registers + set registers + CONT per stop, as any breakpoint tracer must at
// least do.
//
// x86-64: int3, PTRACE_GETREGS / PTRACE_SETREGS; the trap leaves rip past the
// int3, so the child simply goes on.
// arm64: brk #0, PTRACE_GETREGSET / PTRACE_SETREGSET (NT_PRSTATUS); the trap
// leaves pc at the brk itself, so the parent advances it by 4 before
// continuing.
#include <elf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define BREAKPOINT() __asm__ volatile("int3")
#elif defined(__aarch64__)
#define BREAKPOINT() __asm__ volatile("brk #0")
#else
#error "bare-stop: x86-64 or arm64 only"
#endif

// One stop's register round trip, the thread left to run on past the trap.
static void step_past_trap(pid_t pid) {
#if defined(__x86_64__)
  struct user_regs_struct regs;
  ptrace(PTRACE_GETREGS, pid, 0, &regs);
  ptrace(PTRACE_SETREGS, pid, 0, &regs);
#else
  struct user_regs_struct regs;
  struct iovec iov = {&regs, sizeof regs};
  ptrace(PTRACE_GETREGSET, pid, (void*)NT_PRSTATUS, &iov);
  regs.pc += 4;
  ptrace(PTRACE_SETREGSET, pid, (void*)NT_PRSTATUS, &iov);
#endif
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  pid_t pid = fork();
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    for (long i = 0; i < n; i++) BREAKPOINT();
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  ptrace(PTRACE_CONT, pid, 0, 0);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    waitpid(pid, &st, 0);
    step_past_trap(pid);
    ptrace(PTRACE_CONT, pid, 0, 0);
  }
  waitpid(pid, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
