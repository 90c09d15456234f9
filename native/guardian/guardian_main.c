// rethook-guardian: stands by while rethook traces an attached process, and
// takes over the moment the tracer dies without detaching (SIGKILL), before
// the process meets our breakpoints untraced.
//
//   rethook-guardian PID MIRROR NODE SCRIPT
//
// Started by the tracer (native/guardian/shared.cc) with SIGUSR2 blocked and
// as its parent-death signal: the kernel sends it when the tracer's thread
// exits, right after letting its tracees go. Then every thread of PID is
// seized and interrupted at once, and this program becomes Node running
// SCRIPT (lib/guardian/main.ts), which keeps the threads (ptrace attachments
// survive exec) and undoes rethook's changes from MIRROR. A SIGTERM, or the
// mirror saying the tracer let go cleanly, ends it.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>

// Mirror header words (lib/guardian/mirror.ts): magic, version, pid, trampoline, state.
enum { STATE_WORD = 4, STATE_TRACING = 1 };

static void trace_log(const char* what, int value) {
  const char* log = getenv("RETHOOK_GUARDIAN_LOG");
  FILE* f = log ? fopen(log, "a") : NULL;
  if (!f) return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  fprintf(f, "native %ld.%06ld %s %d\n", (long)t.tv_sec, t.tv_nsec / 1000, what, value);
  fclose(f);
}

static int still_tracing(const char* mirror) {
  int fd = open(mirror, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  double state = 0;
  ssize_t n = pread(fd, &state, sizeof state, STATE_WORD * sizeof(double));
  close(fd);
  return n == sizeof state && state == STATE_TRACING;
}

// Seize and interrupt every thread of pid (again, for threads born meanwhile).
// Their tids go into argv-ready strings.
static int seize_all(int pid, char* tids, size_t cap) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", pid);
  int seized[4096], n = 0;
  for (int round = 0; round < 10; round++) {
    int before = n;
    DIR* d = opendir(dir);
    if (!d) break;
    struct dirent* e;
    while ((e = readdir(d)) && n < 4096) {
      int tid = atoi(e->d_name), known = 0;
      if (tid <= 0) continue;
      for (int i = 0; i < n; i++) known |= seized[i] == tid;
      if (known) continue;
      if (ptrace(PTRACE_SEIZE, tid, NULL, (void*)(long)(PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)) != 0) {
        trace_log("cannot seize", tid);
        continue;
      }
      ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
      seized[n++] = tid;
    }
    closedir(d);
    if (n == before) break;
  }
  size_t off = 0;
  tids[0] = 0;
  for (int i = 0; i < n && off + 16 < cap; i++) off += (size_t)snprintf(tids + off, cap - off, i ? ",%d" : "%d", seized[i]);
  return n;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: rethook-guardian PID MIRROR NODE SCRIPT\n");
    return 2;
  }
  int pid = atoi(argv[1]);
  const char* mirror = argv[2];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  struct timespec tick = {0, 250 * 1000 * 1000};
  for (;;) {
    int sig = sigtimedwait(&set, NULL, &tick);
    if (sig < 0 && errno != EAGAIN && errno != EINTR) return 1;
    if (sig > 0) trace_log("signal", sig);
    if (!still_tracing(mirror)) {
      trace_log("released", 0);
      return 0;
    }
    if (sig != SIGUSR2) continue;
    // The tracer is gone: stop the process now, then let Node undo the rest.
    static char tids[65536];
    trace_log("seized", seize_all(pid, tids, sizeof tids));
    // A multi-threaded parent reparents us thread by thread, each time with
    // our parent-death signal: no more of them, and none left pending.
    prctl(PR_SET_PDEATHSIG, 0);
    signal(SIGUSR2, SIG_IGN);
    const char* log = getenv("RETHOOK_GUARDIAN_LOG");
    int lfd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (lfd >= 0) {
      dup2(lfd, 1);
      dup2(lfd, 2);
    }
    char* node_argv[] = {argv[3], argv[4], (char*)mirror, tids, NULL};
    execv(argv[3], node_argv);
    return 1;  // the threads are let go when this exits
  }
}
