// The yardstick: the cost of one bare ptrace stop on this machine. A child
// executes int3 in a loop; the parent does waitpid + GETREGS + SETREGS + CONT
// per stop, as any breakpoint tracer must at least do.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  pid_t pid = fork();
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    for (long i = 0; i < n; i++) __asm__ volatile("int3");
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  ptrace(PTRACE_CONT, pid, 0, 0);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct user_regs_struct regs;
  for (long i = 0; i < n; i++) {
    waitpid(pid, &st, 0);
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
    ptrace(PTRACE_SETREGS, pid, 0, &regs);
    ptrace(PTRACE_CONT, pid, 0, 0);
  }
  waitpid(pid, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
