// Debug information through elfutils (libdw/libdwfl), the library uftrace,
// perf, bpftrace and systemtap use: the types of a function's parameters and
// return value, and CFI unwinding of a stopped thread with source lines.
//
// Debug information is found where Debian's -dbgsym packages and `objcopy
// --only-keep-debug` put it: in the object itself (built with -g), by its
// build-id under DIR/.build-id/xx/yyyy.debug for each debug directory
// (/usr/lib/debug, or those the caller gives instead), or by .gnu_debuglink next
// to the object, in its .debug/ folder, or under a debug directory.
//
// No ptrace here: memory is read through a callback (the session's
// /proc/PID/mem), registers come from the caller.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <elfutils/libdwfl.h>

namespace rethook::dwarf {

// One frame of an unwound stack.
struct Frame {
  uint64_t pc;
  std::string symbol;  // the function containing pc (from .symtab or debug info), "" if none
  uint64_t offset;     // pc - that function's start
  std::string file;    // source file (base name) of the call or instruction, "" if unknown
  int line;            // 0 if unknown
};

struct Unwound {
  std::vector<Frame> frames;
  // False when the unwinder stopped before an outermost frame (a frame it
  // could not unwind), or a frame's pc had no call frame information.
  bool reliable;
  std::string error;
};

// What the unwinder needs of a stopped thread.
struct ThreadView {
  int pid, tid;
  uint64_t pc;
  uint64_t regs[33];  // DWARF-numbered (arch_dwarf_regs)
  unsigned nregs;
  // Reads one word of the tracee's memory.
  std::function<bool(uint64_t addr, uint64_t* out)> read_word;
  // Return addresses replaced by the trampoline: the value read is `tramp`;
  // the real ones, innermost call first, take its place in turn.
  uint64_t tramp;
  std::vector<uint64_t> real_returns;
  unsigned max_frames;
};

class DebugInfo {
 public:
  // dirs: the debug directories, ':'-separated; null: /usr/lib/debug.
  explicit DebugInfo(const char* dirs);
  ~DebugInfo();
  DebugInfo(const DebugInfo&) = delete;
  DebugInfo& operator=(const DebugInfo&) = delete;

  // The signature of the function at link-time address `addr` of the object
  // at `file`, as JSON (see types.cc), or "" when no debug information
  // describes a function starting there.
  std::string signature(const std::string& file, uint64_t addr);
  // Source file (base name) and line of a link-time address, "" when unknown.
  std::string source_line(const std::string& file, uint64_t addr);
  // The offset of member `member` in the structure type named `type` (as the
  // object's debug information names it: "runtime.g"), or -1 when not described.
  int64_t member_offset(const std::string& file, const std::string& type, const std::string& member);

  // Unwind a stopped thread by call frame information. `generation` changes
  // whenever the process's objects changed (dlopen, exec): its module list is
  // read again from /proc/PID/maps.
  Unwound unwind(const ThreadView& t, unsigned generation);
  void forget_process(int pid);

  struct Offline;  // one object read offline (types, lines)
  struct Live;     // one traced process (unwinding)

 private:
  Offline* offline(const std::string& file);

  std::string debuginfo_path_;
  char* debuginfo_path_c_;
  std::unique_ptr<Dwfl_Callbacks> offline_cb_, live_cb_;
  std::map<std::string, std::unique_ptr<Offline>> files_;
  std::map<int, std::unique_ptr<Live>> procs_;
};

}  // namespace rethook::dwarf
