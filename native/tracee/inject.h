// Running code of ours in a stopped thread of the tracee: one system call, or
// one call of a function, every register and code byte put back afterwards.
#pragma once
#include <string>
#include <vector>

#include "../arch/arch.h"
#include "../remote_ptr.h"
#include "memory.h"

namespace rethook {

// Puts a stopped thread's registers, and the code bytes an injection wrote
// over, back however the injection ends (after rr's AutoRemoteSyscalls):
// explicitly with restore(), whose result the caller checks, or, on an early
// return, from the destructor. Code is saved before it is overwritten, so a
// write that fails halfway is undone too.
class InjectionScope {
 public:
  InjectionScope(int tid, Memory* mem) : tid_(tid), mem_(mem) {}
  InjectionScope(const InjectionScope&) = delete;
  InjectionScope& operator=(const InjectionScope&) = delete;
  ~InjectionScope();

  // Read the thread's registers; nothing is restored until this succeeded.
  bool save_registers(std::string* err);
  const ArchRegs& saved() const { return saved_regs_; }
  // Write `code` at `at`, keeping the bytes there to put back.
  bool write_code(RemotePtr at, const std::vector<uint8_t>& code, std::string* err);
  // Put everything back now. False (with *err) when some of it could not be.
  bool restore(std::string* err);

 private:
  int tid_;
  Memory* mem_;
  bool regs_saved_ = false;
  ArchRegs saved_regs_{};
  RemotePtr code_at_;
  std::vector<uint8_t> saved_code_;
};

// Run one system call in a stopped thread, every register restored after.
// The stub "syscall; trap" is written at `stub` (the thread's pc when null;
// when `write_stub`, the original bytes there are put back). A signal that
// arrives meanwhile is the program's: it is delivered after. Returns false
// with *err.
bool inject_syscall(int tid, Memory* mem, RemotePtr stub, bool write_stub, long nr,
                    const uint64_t args[6], uint64_t* result, std::string* err);

// Call the function at `fn` (no arguments) in a stopped thread and return its
// integer result; it returns to `return_to`, which must hold a breakpoint
// trap (our trampoline). Every register is restored afterwards. A signal
// during the call fails it. Used to ask an IFUNC resolver which
// implementation it picks.
bool inject_call(int tid, Memory* mem, RemotePtr fn, RemotePtr return_to, uint64_t* result,
                 std::string* err);

}  // namespace rethook
