#include "session.h"

#include "tracee/thread_control.h"

namespace rethook {

namespace {

// The arch backend's view of a process's memory when it carries a plan out.
class PlanMemory : public MemoryAccess {
 public:
  explicit PlanMemory(Memory* m) : m_(m) {}
  bool write_u64(RemotePtr a, uint64_t v) override { return m_->write(a, &v, 8); }
  bool read_u64(RemotePtr a, uint64_t* v) override { return m_->read(a, v, 8); }

 private:
  Memory* m_;
};

}  // namespace

void TracedProcess::execed() {
  mem.reopen();
  breakpoints.clear();
  traps.clear();
}

void TracedProcess::copy_from(const TracedProcess& parent) {
  breakpoints = parent.breakpoints;
  traps = parent.traps;
}

bool TracedProcess::set_breakpoint(RemotePtr addr, RemotePtr slot, std::string* err) {
  if (!breakpoints.set(&mem, addr, slot, err)) return false;
  // Over an instruction longer than the trap, no thread is ever at addr + 1
  // but by trapping here (see TrapSet).
  const Breakpoint* bp = breakpoints.find(addr);
  if (bp && bp->plan.insn_len > kArch.breakpoint_len) traps.mark(addr);
  return true;
}

bool TracedProcess::remove_breakpoint(RemotePtr addr) {
  // A trap raised before the removal and reported after it is still told
  // apart, by its siginfo.
  traps.unmark(addr);
  return breakpoints.remove(&mem, addr);
}

bool TracedProcess::continue_from_breakpoint(int tid, RemotePtr addr, ArchRegs* regs,
                                             bool* resumed, std::string* err) {
  if (const Breakpoint* bp = breakpoints.find(addr)) {
    PlanMemory access(&mem);
    if (!arch_step_over(bp->plan, addr, bp->slot, regs, &access, err)) return false;
  } else {
    regs->words[kArch.reg_pc] = addr.as_int();  // removed meanwhile: run the original
  }
  arch_set_regs(tid, *regs);
  *resumed = resume_thread(tid, 0, false);
  return true;
}

TracedProcess& Session::add_process(int pid) {
  auto& p = procs_[pid];
  if (p) p->mem.reopen();
  else p = std::make_unique<TracedProcess>(pid);
  return *p;
}

void Session::drop_process(int pid) { procs_.erase(pid); }

TracedProcess* Session::process(int pid) {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : it->second.get();
}

void Session::find_thread(const std::function<bool(int tid)>& fn) const {
  for (auto& [tid, pid] : threads_)
    if (fn(tid)) return;
}

const TrapSet* Session::traps_of(int tid) const {
  auto t = threads_.find(tid);
  if (t == threads_.end()) return nullptr;
  auto p = procs_.find(t->second);
  return p == procs_.end() ? nullptr : &p->second->traps;
}

}  // namespace rethook
