#include "breakpoints.h"

namespace rethook {

static bool read_code(Memory* mem, RemotePtr addr, uint8_t* buf, size_t* len) {
  // Up to 16 bytes: an instruction may end just before an unmapped page.
  for (size_t n = 16; n > 0; n--) {
    if (mem->read(addr, buf, n)) {
      *len = n;
      return true;
    }
  }
  return false;
}

StepPlan BreakpointTable::plan(Memory* mem, RemotePtr addr, std::string* err) const {
  uint8_t code[16];
  size_t len = 0;
  if (auto* bp = find(addr)) return bp->plan;
  if (!read_code(mem, addr, code, &len)) {
    StepPlan p;
    p.reason = "address is not readable";
    return p;
  }
  return arch_plan_step_over(addr, code, len);
}

bool BreakpointTable::set(Memory* mem, RemotePtr addr, RemotePtr slot, std::string* err) {
  if (find(addr)) return true;
  uint8_t code[16];
  size_t len = 0;
  if (!read_code(mem, addr, code, &len)) {
    *err = "address is not readable";
    return false;
  }
  Breakpoint bp;
  bp.plan = arch_plan_step_over(addr, code, len);
  if (bp.plan.kind == StepKind::Refused) {
    *err = bp.plan.reason;
    return false;
  }
  if (bp.plan.needs_slot) {
    if (slot.is_null()) {
      *err = "no out-of-line slot";
      return false;
    }
    if (!arch_build_slot(&bp.plan, addr, code, slot)) {
      *err = bp.plan.reason;
      return false;
    }
    if (!mem->write(slot, bp.plan.slot_code.data(), bp.plan.slot_code.size())) {
      *err = "cannot write the out-of-line slot";
      return false;
    }
    bp.slot = slot;
  }
  bp.original.assign(code, code + kArch.breakpoint_len);
  if (!mem->write(addr, kArch.breakpoint, kArch.breakpoint_len)) {
    *err = "cannot write the breakpoint";
    return false;
  }
  bps_.emplace(addr.as_int(), std::move(bp));
  return true;
}

bool BreakpointTable::remove(Memory* mem, RemotePtr addr) {
  auto it = bps_.find(addr.as_int());
  if (it == bps_.end()) return false;
  bool ok = mem->write(addr, it->second.original.data(), it->second.original.size());
  bps_.erase(it);
  return ok;
}

bool BreakpointTable::restore_all(Memory* mem) const {
  bool ok = true;
  for (auto& [a, bp] : bps_) ok &= mem->write(RemotePtr(a), bp.original.data(), bp.original.size());
  return ok;
}

bool BreakpointTable::replant_all(Memory* mem) const {
  bool ok = true;
  for (auto& [a, bp] : bps_) ok &= mem->write(RemotePtr(a), kArch.breakpoint, kArch.breakpoint_len);
  return ok;
}

const Breakpoint* BreakpointTable::find(RemotePtr addr) const {
  auto it = bps_.find(addr.as_int());
  return it == bps_.end() ? nullptr : &it->second;
}

}  // namespace rethook
