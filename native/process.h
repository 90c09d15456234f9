// ptrace mechanics on processes and threads: spawning under ptrace, waiting
// for stops without blocking, tracee memory, and injected system calls.
// Policy (what to do with a stop) lives in TypeScript; this file only acts.
#pragma once
#include <sys/types.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "arch/arch.h"
#include "remote_ptr.h"

namespace rethook {

// Kinds of stop reported by wait_any(); mirrored in lib/native.ts.
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

// Opens /proc/PID/mem for bulk reads and writes. Writes go through FOLL_FORCE,
// so read-only text and our r-x pages can be patched without mprotect.
class Memory {
 public:
  explicit Memory(int pid);
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  bool read(RemotePtr addr, void* buf, size_t len) const;
  bool write(RemotePtr addr, const void* buf, size_t len) const;
  void reopen();
  int pid() const { return pid_; }

 private:
  int pid_;
  int fd_;
};

// Fork a child that stops itself, seize it with our options, and let it run
// to the exec event. Returns the pid, or -1 with *err set.
int spawn_seized(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& envp, const std::string& cwd,
                 const std::vector<int>& stdio, std::string* err);

// Seize a running process's thread and interrupt it. Without exit_kill the
// thread outlives a tracer that dies (the kernel detaches it).
bool seize_thread(int tid, bool exit_kill, std::string* err);

// Mark a trap address that no thread can reach but by trapping there (see
// process.cc): the trampoline, breakpoints over instructions longer than the trap.
void set_unambiguous_trap(RemotePtr addr, bool on);

// Our ptrace options.
long ptrace_options();

// Non-blocking: the next stop of one of `tids`, or kind kNone. Never reaps a
// child that is not ours (Node's own child processes stay libuv's).
Stop wait_any(const std::unordered_set<int>& tids, int hint, ArchRegs* regs);
// Blocking wait for one thread (used by injected syscalls and detaching).
Stop wait_thread(int tid, ArchRegs* regs);

// Run one system call in a stopped thread, every register restored after.
// The stub "syscall; trap" is written at `stub` (when `write_stub`, the
// original bytes there are saved and put back). Returns false with *err.
bool inject_syscall(int tid, Memory* mem, RemotePtr stub, bool write_stub, long nr,
                    const uint64_t args[6], uint64_t* result, std::string* err);

// Call the function at `fn` (no arguments) in a stopped thread and return its
// integer result; it returns to `return_to`, which must hold a breakpoint
// trap (our trampoline). Every register is restored afterwards. Used to ask
// an IFUNC resolver which implementation it picks.
bool inject_call(int tid, Memory* mem, RemotePtr fn, RemotePtr return_to, uint64_t* result,
                 std::string* err);

}  // namespace rethook
