// Entry breakpoints of one process. A breakpoint is planted once and stays
// until it is removed for good: a thread that hits it runs the displaced
// instruction emulated or out of line (see arch.h), never by lifting it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "../arch/arch.h"
#include "../tracee/memory.h"

namespace rethook {

struct Breakpoint {
  std::vector<uint8_t> original;  // bytes under the breakpoint instruction
  StepPlan plan;
  RemotePtr slot;
};

class BreakpointTable {
 public:
  // Decode the instruction at addr: what stepping over it would take.
  StepPlan plan(Memory* mem, RemotePtr addr, std::string* err) const;
  // Plant a breakpoint; `slot` must be a free slot when plan().needs_slot.
  // Planting one that is there already succeeds and changes nothing.
  bool set(Memory* mem, RemotePtr addr, RemotePtr slot, std::string* err);
  // Put the original bytes back and forget the breakpoint.
  bool remove(Memory* mem, RemotePtr addr);
  // Forget the breakpoint without writing anything: the code it was in was
  // unmapped (dlclose), and whatever is mapped there now is not ours.
  void forget(RemotePtr addr) { bps_.erase(addr.as_int()); }
  // Put every original byte back in `mem` (another process's copy after fork,
  // or ours before detaching); the table is left as is.
  bool restore_all(Memory* mem) const;
  // Write every breakpoint instruction again (after restore_all into this
  // process's own memory, e.g. while an untraced vfork child shared it).
  bool replant_all(Memory* mem) const;
  void clear() { bps_.clear(); }
  const Breakpoint* find(RemotePtr addr) const;
  size_t size() const { return bps_.size(); }

 private:
  std::map<uint64_t, Breakpoint> bps_;
};

}  // namespace rethook
