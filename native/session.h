// The native state of one tracer (one NativeTracer object): its traced
// processes, each with its memory, breakpoints and trap set, and the
// thread -> process table its waits go by. No globals: two tracers in one
// Node process share nothing here (SIGCHLD's disposition, which they do
// share, is dealt with in tracee/stop_wait.cc).
//
// Registration is explicit and TypeScript's: spawning or seizing registers
// nothing, an exited thread stays registered until removed, and an exec is
// announced by execed(). This layer keeps books and acts; it decides nothing.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "arch/arch.h"
#include "engine/breakpoints.h"
#include "engine/traps.h"
#include "tracee/memory.h"
#include "tracee/stop_wait.h"

namespace rethook {

// One traced process (one address space).
class TracedProcess {
 public:
  explicit TracedProcess(int pid) : mem(pid) {}
  TracedProcess(const TracedProcess&) = delete;
  TracedProcess& operator=(const TracedProcess&) = delete;

  // The process replaced its image: a new address space, none of our
  // breakpoints or traps in it.
  void execed();
  // A fork child is a copy of `parent`'s memory, our breakpoints included:
  // it gets copies of the table and of the trap set (its bytes are untouched).
  void copy_from(const TracedProcess& parent);

  bool set_breakpoint(RemotePtr addr, RemotePtr slot, std::string* err);
  bool remove_breakpoint(RemotePtr addr);
  // The object holding the breakpoint was unmapped: forget it, write nothing.
  void forget_breakpoint(RemotePtr addr) {
    traps.unmark(addr);
    breakpoints.forget(addr);
  }
  // A trap at the trampoline is always ours.
  void mark_trampoline(RemotePtr addr) { traps.mark(addr); }

  // A thread stopped on the breakpoint at addr, its registers (possibly
  // changed by TypeScript) in *regs: run the displaced instruction (emulated
  // or out of line; the original when the breakpoint is gone) and continue
  // it. False with *err when the plan could not be carried out (nothing was
  // resumed); otherwise *resumed says whether PTRACE_CONT succeeded.
  bool continue_from_breakpoint(int tid, RemotePtr addr, ArchRegs* regs, bool* resumed,
                                std::string* err);

  Memory mem;
  BreakpointTable breakpoints;
  TrapSet traps;
};

class Session final : public WaitTargets {
 public:
  // Start keeping `pid`'s state; a known pid's memory is reopened.
  TracedProcess& add_process(int pid);
  void drop_process(int pid);
  // The process, or null when it is not ours.
  TracedProcess* process(int pid);

  // Thread `tid` of process `pid` is waited for; its traps are looked up in
  // pid's trap set.
  void add_thread(int tid, int pid) { threads_[tid] = pid; }
  void remove_thread(int tid) { threads_.erase(tid); }

  // The next stop of a registered thread, or kNone (see StopWaiter::next).
  Stop wait(double spin_ns, ArchRegs* regs) { return waiter_.next(*this, spin_ns, regs); }
  // Bounded wait for one thread, registered or not (see rethook::wait_thread).
  Stop wait_thread(int tid, ArchRegs* regs, double timeout_ns, bool reap_exits) {
    return waiter_.wait_thread(tid, traps_of(tid), regs, timeout_ns, reap_exits);
  }
  void set_active(bool active) { waiter_.set_active(active); }
  void shutdown() { waiter_.shutdown(); }

  // WaitTargets
  bool has_thread(int tid) const override { return threads_.count(tid) != 0; }
  void find_thread(const std::function<bool(int tid)>& fn) const override;
  const TrapSet* traps_of(int tid) const override;

 private:
  std::unordered_map<int, std::unique_ptr<TracedProcess>> procs_;
  std::unordered_map<int, int> threads_;  // tid -> pid
  StopWaiter waiter_;
};

}  // namespace rethook
