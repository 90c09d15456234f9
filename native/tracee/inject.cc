#include "inject.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stop_wait.h"

namespace rethook {

InjectionScope::~InjectionScope() {
  std::string ignored;  // the injection has failed already: its error is the one reported
  restore(&ignored);
}

bool InjectionScope::save_registers(std::string* err) {
  if (!arch_get_regs(tid_, &saved_regs_)) {
    *err = std::string("cannot read registers: ") + strerror(errno);
    return false;
  }
  regs_saved_ = true;
  return true;
}

bool InjectionScope::write_code(RemotePtr at, const std::vector<uint8_t>& code, std::string* err) {
  if (!saved_code_.empty()) {
    *err = "one injection writes code at one place";
    return false;
  }
  std::vector<uint8_t> original(code.size());
  if (!mem_->read(at, original.data(), original.size())) {
    *err = "cannot read the code at the injection site";
    return false;
  }
  code_at_ = at;
  saved_code_ = std::move(original);
  if (!mem_->write(at, code.data(), code.size())) {
    *err = "cannot write the injection stub";
    return false;
  }
  return true;
}

bool InjectionScope::restore(std::string* err) {
  bool ok = true;
  if (!saved_code_.empty()) {
    if (!mem_->write(code_at_, saved_code_.data(), saved_code_.size())) {
      *err = "cannot put back the code under an injection stub";
      ok = false;
    }
    saved_code_.clear();
  }
  if (regs_saved_) {
    if (!arch_set_regs(tid_, saved_regs_) && ok) {
      *err = std::string("cannot restore registers after an injection: ") + strerror(errno);
      ok = false;
    }
    regs_saved_ = false;
  }
  return ok;
}

namespace {

// An injected syscall (mmap, prctl) or IFUNC resolver takes microseconds; a
// thread that does not come back within this is not waited for further.
constexpr double kInjectionTimeoutNs = 5e9;

// What a signal (or a trap not at the expected address) during an injection means.
enum class StraySignal {
  Defer,  // the program's own: remember it, deliver it once the injection is undone
  Fail,   // the injected code raised it: the injection fails
};

// Start `regs` in a stopped thread and let it run until it traps at `trap_at`;
// regs then hold its registers at that trap. Other stops (events, group-stops)
// are resumed through. `what` names the injection in errors.
bool run_until_trap(int tid, const ArchRegs& start, RemotePtr trap_at, StraySignal stray,
                    const char* what, ArchRegs* regs, std::vector<int>* deferred,
                    std::string* err) {
  if (!arch_set_regs(tid, start) || ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
    *err = std::string("cannot start an injected ") + what + ": " + strerror(errno);
    return false;
  }
  for (;;) {
    // No trap set: the si_code of the traps here is never looked at. A death
    // is left for the stop loop to take (the thread's exit is reported there).
    Stop s = wait_thread(tid, nullptr, regs, kInjectionTimeoutNs, false);
    if (s.kind == kNone) {
      *err = std::string("an injected ") + what + " did not finish in time";
      return false;
    }
    if (s.kind == kExited || s.kind == kKilled) {
      *err = std::string("the thread died during an injected ") + what;
      return false;
    }
    if (s.kind == kTrap && s.addr == trap_at) return true;
    if (s.kind == kSignal || s.kind == kTrap) {
      int sig = s.a ? s.a : SIGTRAP;
      if (stray == StraySignal::Fail) {
        *err = std::string("the injected ") + what + " raised signal " + std::to_string(sig);
        return false;
      }
      deferred->push_back(sig);
    }
    ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
}

}  // namespace

bool inject_syscall(int tid, Memory* mem, RemotePtr stub, bool write_stub, long nr,
                    const uint64_t args[6], uint64_t* result, std::string* err) {
  InjectionScope scope(tid, mem);
  if (!scope.save_registers(err)) return false;
  std::vector<uint8_t> code = arch_syscall_stub();
  if (stub.is_null()) stub = RemotePtr(scope.saved().words[kArch.reg_pc]);
  if (write_stub && !scope.write_code(stub, code, err)) return false;
  ArchRegs regs = scope.saved();
  arch_prepare_syscall(&regs, stub, nr, args);
  // The trap ends the stub.
  RemotePtr trap_at = stub + int64_t(code.size() - kArch.breakpoint_len);
  std::vector<int> deferred;
  ArchRegs end;
  if (!run_until_trap(tid, regs, trap_at, StraySignal::Defer, "syscall", &end, &deferred, err))
    return false;
  *result = arch_syscall_result(end);
  if (!scope.restore(err)) return false;
  for (int sig : deferred) syscall(SYS_tgkill, mem->pid(), tid, sig);
  return true;
}

bool inject_call(int tid, Memory* mem, RemotePtr fn, RemotePtr return_to, uint64_t* result,
                 std::string* err) {
  InjectionScope scope(tid, mem);
  if (!scope.save_registers(err)) return false;
  ArchRegs regs = scope.saved();
  // A fresh, aligned frame well below the thread's stack pointer (past any red zone).
  uint64_t sp = (regs.words[kArch.reg_sp] - 1024) & ~uint64_t(15);
  if (kArch.reg_return_address >= 0) {
    regs.words[kArch.reg_return_address] = return_to.as_int();
  } else {
    // Below the thread's sp: nothing of the program's is there to put back.
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
  ArchRegs end;
  if (!run_until_trap(tid, regs, return_to, StraySignal::Fail, "call", &end, nullptr, err))
    return false;
  *result = end.words[kArch.reg_retval];
  return scope.restore(err);
}

}  // namespace rethook
