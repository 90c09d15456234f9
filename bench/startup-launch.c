// Start-up benchmark's launcher: `startup-launch CMD [ARGS...]`.
// Forks; the child takes CLOCK_MONOTONIC right before exec'ing CMD and hands
// it down in RETHOOK_STARTUP_T0 (bench/startup-first.c reads it at its first
// instruction of its own code). Prints the whole process's time (fork to
// reaped) and the CPU time it and its children used, in ns, and exits with
// CMD's status.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: startup-launch CMD [ARGS...]\n");
    return 2;
  }
  long long begin = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    char t0[32];
    snprintf(t0, sizeof t0, "%lld", now_ns());
    setenv("RETHOOK_STARTUP_T0", t0, 1);
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) return 126;
  long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
  printf("%lld %lld\n", now_ns() - begin, cpu);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
