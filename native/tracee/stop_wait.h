// Waiting for ptrace stops: what a stop was (decoded from a wait status into
// a Stop), the non-blocking wait over our threads, the blocking wait for one
// thread, and the policy of how a tracer waits (spinning, SIGCHLD quieted).
// What to do with a stop is TypeScript's business; nothing here acts on one.
#pragma once
#include <functional>

#include "../arch/arch.h"
#include "../engine/traps.h"
#include "../remote_ptr.h"

namespace rethook {

// Kinds of stop reported by a wait; mirrored in lib/native.ts.
enum StopKind : int {
  kNone = 0,
  kExited = 1,     // a = exit code
  kKilled = 2,     // a = signal
  kTrap = 3,       // a breakpoint-like trap: regs loaded, addr = trap address
  kSignal = 4,     // signal-delivery-stop: a = signal
  kEvent = 5,      // ptrace event stop: a = event, msg = event message
  kGroupStop = 6,  // a = stopping signal
  kInterrupt = 7,  // PTRACE_EVENT_STOP not caused by a signal (seize, interrupt, new thread)
  kSyscall = 8,    // syscall-enter or -exit stop (after resume with PTRACE_SYSCALL)
};

struct Stop {
  StopKind kind = kNone;
  int tid = 0;
  int a = 0;
  unsigned long msg = 0;
  RemotePtr addr;
  int si_code = 0;
};

// The threads a wait may reap, and the trap set of each one's process. The
// Session implements it; a thread not listed is never reaped by wait_any.
class WaitTargets {
 public:
  virtual bool has_thread(int tid) const = 0;
  // Calls fn for each thread until it returns true.
  virtual void find_thread(const std::function<bool(int tid)>& fn) const = 0;
  // The trap set of tid's process, or null (then every trap's si_code is read).
  virtual const TrapSet* traps_of(int tid) const = 0;

 protected:
  ~WaitTargets() = default;
};

// Non-blocking: the next stop of one of `targets`' threads, or kind kNone.
// Never reaps a child that is not ours (Node's own child processes stay
// libuv's). `hint` is asked first. Has no side effect on `targets`: an exited
// thread stays listed until the caller removes it.
Stop wait_any(const WaitTargets& targets, int hint, ArchRegs* regs);
// Bounded wait for one thread (used by injections, detaching, attaching and
// forks): its next stop, or kind kNone when none came within timeout_ns (0:
// just look). Never blocks for longer: a thread that cannot stop (blocked in
// vfork, a zombie leader) never hangs the tracer. An exit is reported but,
// unless reap_exits, left for the stop loop to take. `traps` may be null.
Stop wait_thread(int tid, const TrapSet* traps, ArchRegs* regs, double timeout_ns, bool reap_exits);
// The thread is in a ptrace-stop now (whether or not its stop was taken).
bool thread_is_stopped(int tid);

// How one tracer waits for events (see docs/internals.md, "How JS and the tracer hand
// off"): spinning before going idle, SIGCHLD's stop notifications turned off
// meanwhile, and the thread that stopped last asked first.
class StopWaiter {
 public:
  StopWaiter() = default;
  StopWaiter(const StopWaiter&) = delete;
  StopWaiter& operator=(const StopWaiter&) = delete;
  ~StopWaiter() { shutdown(); }

  // The next stop, or kNone. With spin_ns > 0, keep asking for that long.
  Stop next(const WaitTargets& targets, double spin_ns, ArchRegs* regs);
  // Bounded wait for one thread (rethook::wait_thread); it becomes the one asked first.
  Stop wait_thread(int tid, const TrapSet* traps, ArchRegs* regs, double timeout_ns, bool reap_exits);
  // An active tracer has a traced program running; only an active one may
  // quiet SIGCHLD. Idempotent.
  void set_active(bool active);
  // Notifications back on, no longer counted as active. Idempotent.
  void shutdown();

 private:
  Stop noted(const Stop& s);
  void quiet_stops(bool quiet);

  int last_tid_ = 0;
  bool quiet_ = false;
  bool active_ = false;
};

}  // namespace rethook
