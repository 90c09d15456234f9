// See standby.h. Everything here is a system call or plain memory work:
// this runs in a child forked from a multi-threaded process (Node), where
// only async-signal-safe functions may be called until exec.
#define _GNU_SOURCE
#include "standby.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// Mirror header word holding the state (lib/guardian/mirror.ts): 1 = tracing.
enum { STATE_WORD = 4, STATE_TRACING = 1, MAX_THREADS = 4096 };

static int put_int(char* out, int v);

static int still_tracing(void) {
  double state = 0;
  ssize_t n = pread(GUARDIAN_MIRROR_FD, &state, sizeof state, STATE_WORD * sizeof(double));
  return n == (ssize_t)sizeof state && state == STATE_TRACING;
}

// The pid still names the process the pidfd was taken of (it has not been
// reaped; a zombie counts, and cannot be seized).
static int same_process(void) {
  return syscall(SYS_pidfd_send_signal, GUARDIAN_PIDFD, 0, NULL, 0) == 0;
}

// Thread tid belongs to process pid (/proc/PID/task/TID resolves only then).
static int thread_of(int pid, int tid) {
  char path[64] = "/proc/";
  int len = 6 + put_int(path + 6, pid);
  memcpy(path + len, "/task/", 6);
  len += 6;
  len += put_int(path + len, tid);
  path[len] = 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

// Decimal of a non-negative int into out; returns the length.
static int put_int(char* out, int v) {
  char tmp[16];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

// Seize and interrupt every thread of pid (again, for threads born
// meanwhile), listing their tids comma-separated in out.
static void seize_all(int pid, char* out, size_t cap) {
  static int seized[MAX_THREADS];
  int n = 0;
  char dir[32] = "/proc/";
  int len = 6 + put_int(dir + 6, pid);
  memcpy(dir + len, "/task", 6);
  for (int round = 0; round < 10; round++) {
    int before = n;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) break;
    char buf[4096];
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
      for (long off = 0; off < got;) {
        struct dirent64* e = (struct dirent64*)(buf + off);
        off += e->d_reclen;
        int tid = 0;
        for (const char* c = e->d_name; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
        if (tid <= 0 || n >= MAX_THREADS) continue;
        int known = 0;
        for (int i = 0; i < n; i++) known |= seized[i] == tid;
        if (known) continue;
        if (ptrace(PTRACE_SEIZE, tid, NULL, (void*)(long)(PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)) != 0) continue;
        ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
        seized[n++] = tid;
      }
    }
    close(fd);
    if (n == before) break;
  }
  size_t o = 0;
  for (int i = 0; i < n && o + 16 < cap; i++) {
    if (i) out[o++] = ',';
    o += (size_t)put_int(out + o, seized[i]);
  }
  out[o] = 0;
}

// After seizing: let every thread go unless the pidfd's process still holds
// the pid (then /proc/PID/task listed its threads) and each is one of its.
static int keep_only_ours(int pid, char* tids) {
  int ok = same_process();
  char* w = tids;
  for (char* r = tids; *r;) {
    int tid = 0;
    char* start = r;
    while (*r >= '0' && *r <= '9') tid = tid * 10 + (*r++ - '0');
    if (*r == ',') r++;
    if (ok && thread_of(pid, tid)) {
      if (w != tids) *w++ = ',';
      while (start < r && *start != ',') *w++ = *start++;
    } else {
      ptrace(PTRACE_DETACH, tid, NULL, NULL);
    }
  }
  *w = 0;
  return ok;
}

void guardian_standby(int pid, const char* node, const char* script) {
  // Its name says what it is: an attach that finds it tracing waits for it (lib/engine/attach.ts).
  prctl(PR_SET_NAME, "rethook-guard", 0, 0, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  struct timespec tick = {0, 250 * 1000 * 1000};
  for (;;) {
    int sig = sigtimedwait(&set, NULL, &tick);
    if (sig < 0 && errno != EAGAIN && errno != EINTR) _exit(1);
    if (!still_tracing()) _exit(0);
    if (sig != SIGUSR2) continue;
    // The tracer is gone: stop the process now; Node undoes the rest. Not
    // if it has gone too: its pid may be another process's by now.
    if (!same_process()) _exit(0);
    static char tids[MAX_THREADS * 12];
    seize_all(pid, tids, sizeof tids);
    if (!keep_only_ours(pid, tids)) _exit(0);
    // A multi-threaded parent reparents us thread by thread, each time with
    // our parent-death signal: no more of them, and none left pending.
    prctl(PR_SET_PDEATHSIG, 0);
    signal(SIGUSR2, SIG_IGN);
    char* argv[] = {(char*)node, (char*)script, tids, NULL};
    execv(node, argv);
    _exit(1);  // the threads are let go when we exit
  }
}
