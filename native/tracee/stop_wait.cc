#include "stop_wait.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

namespace rethook {

namespace {

Stop decode_status(int tid, int status, const TrapSet* traps, ArchRegs* regs) {
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
    if (kArch.trap_pc_adjust > 0 && traps && traps->contains(s.addr))
      s.si_code = kArch.trap_si_code;
    else if (ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0)
      s.si_code = si.si_code;
  }
  return s;
}

bool elapsed_more_than(const struct timespec& since, double ns) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since.tv_sec) * 1e9 + (now.tv_nsec - since.tv_nsec) > ns;
}

// How many tracers (NativeTracer objects) of this Node process are active.
// Process-global on purpose: SIGCHLD's disposition, and so SA_NOCLDSTOP, is
// one per process, not per tracer; quieting it is safe only while a single
// tracer is active (see StopWaiter::quiet_stops).
int g_active_tracers = 0;

}  // namespace

Stop wait_any(const WaitTargets& targets, int hint, ArchRegs* regs) {
  int status;
  // The thread that stopped last usually stops next: ask it first (one
  // syscall instead of a peek and a reap).
  if (hint > 0 && targets.has_thread(hint) && waitpid(hint, &status, WNOHANG | __WALL) == hint)
    return decode_status(hint, status, targets.traps_of(hint), regs);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  // Peek (WNOWAIT) to learn who is waiting without reaping a child of Node's.
  if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) == 0 &&
      si.si_pid != 0 && targets.has_thread(si.si_pid)) {
    if (waitpid(si.si_pid, &status, WNOHANG | __WALL) == si.si_pid)
      return decode_status(si.si_pid, status, targets.traps_of(si.si_pid), regs);
  }
  if (si.si_pid == 0) return Stop();
  // Someone else's child is first in line: ask each of ours in turn.
  Stop found;
  targets.find_thread([&](int tid) {
    if (waitpid(tid, &status, WNOHANG | __WALL) != tid) return false;
    found = decode_status(tid, status, targets.traps_of(tid), regs);
    return true;
  });
  return found;
}

Stop wait_thread(int tid, const TrapSet* traps, ArchRegs* regs, double timeout_ns, bool reap_exits) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long pause_ns = 0;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    // Peek first: an exit may have to stay for the stop loop (see above).
    int r = waitid(P_PID, tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {  // not a child of ours (any more): gone
      Stop s;
      s.tid = tid;
      s.kind = kKilled;
      return s;
    }
    if (si.si_pid == tid) {
      bool exited = si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
      if (exited && !reap_exits) {
        Stop s;
        s.tid = tid;
        s.kind = si.si_code == CLD_EXITED ? kExited : kKilled;
        s.a = si.si_status;
        return s;
      }
      int status;
      if (waitpid(tid, &status, WNOHANG | __WALL) == tid) return decode_status(tid, status, traps, regs);
      continue;
    }
    if (elapsed_more_than(start, timeout_ns)) {
      Stop s;
      s.tid = tid;
      return s;
    }
    if (pause_ns == 0) {
      sched_yield();
      if (elapsed_more_than(start, 100000)) pause_ns = 20000;
    } else {
      struct timespec ts = {0, pause_ns};
      nanosleep(&ts, nullptr);
      if (pause_ns < 1000000) pause_ns *= 2;
    }
  }
}

bool thread_is_stopped(int tid) {
  unsigned long msg;
  // Any ptrace request but PTRACE_INTERRUPT/KILL/LISTEN fails with ESRCH
  // unless the tracee is in a ptrace-stop.
  return ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg) == 0 || errno != ESRCH;
}

Stop StopWaiter::noted(const Stop& s) {
  if (s.kind != kNone) last_tid_ = s.tid;
  return s;
}

// With spin_ns > 0, keep asking for that long, yielding the CPU in between: a
// tracee on this CPU then runs to its next stop at once, and the stop is taken
// here without a signal and an event-loop wake-up (see docs/internals.md, "How JS and the
// tracer hand off").
//
// While stops are being taken here, they send no SIGCHLD (SA_NOCLDSTOP): a
// signal, its handler and libuv's pipe cost about as much as a ptrace stop.
// Before going idle the notification is turned back on, and one last look
// closes the race with a stop that came in between.
Stop StopWaiter::next(const WaitTargets& targets, double spin_ns, ArchRegs* regs) {
  quiet_stops(true);
  Stop s = wait_any(targets, last_tid_, regs);
  if (s.kind != kNone) return noted(s);
  if (spin_ns > 0) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      sched_yield();
      s = wait_any(targets, last_tid_, regs);
      if (s.kind != kNone) return noted(s);
      if (elapsed_more_than(start, spin_ns)) break;
    }
  }
  quiet_stops(false);
  return noted(wait_any(targets, last_tid_, regs));
}

Stop StopWaiter::wait_thread(int tid, const TrapSet* traps, ArchRegs* regs, double timeout_ns,
                             bool reap_exits) {
  return noted(rethook::wait_thread(tid, traps, regs, timeout_ns, reap_exits));
}

void StopWaiter::set_active(bool active) {
  if (active == active_) return;
  active_ = active;
  g_active_tracers += active ? 1 : -1;
  if (!active) quiet_stops(false);
}

void StopWaiter::shutdown() {
  quiet_stops(false);
  if (active_) {
    active_ = false;
    g_active_tracers--;
  }
}

// Toggle SA_NOCLDSTOP on the process's SIGCHLD action (libuv's handler is
// kept). Only while this is the one active tracer of the process: another
// one idle at that moment would miss the signal for its own tracee's stop.
// Turning it back on is always allowed.
void StopWaiter::quiet_stops(bool quiet) {
  if (quiet == quiet_) return;
  if (quiet && (!active_ || g_active_tracers != 1)) return;
  struct sigaction sa;
  if (sigaction(SIGCHLD, nullptr, &sa) != 0) return;
  if (quiet) sa.sa_flags |= SA_NOCLDSTOP;
  else sa.sa_flags &= ~SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &sa, nullptr) == 0) quiet_ = quiet;
}

}  // namespace rethook
