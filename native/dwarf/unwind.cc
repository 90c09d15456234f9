// CFI unwinding of a thread stopped by us, through libdwfl's frame API
// (dwfl_attach_state with our own callbacks): registers from the stop,
// memory through the session's /proc/PID/mem, modules from /proc/PID/maps.
// Return addresses our trampoline replaced are put back as they are read,
// innermost call first (the kernel's rethook_find_ret_addr), so the unwinder
// sees the stack as the program left it.
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>
#include <cstring>

#include "dwarf.h"
#include "internal.h"

namespace rethook::dwarf {

namespace {

pid_t next_thread(Dwfl*, void* arg, void** thread_argp) {
  auto* live = static_cast<DebugInfo::Live*>(arg);
  if (*thread_argp) return 0;
  *thread_argp = arg;
  return live->view ? live->view->tid : 0;
}

bool get_thread(Dwfl*, pid_t tid, void* arg, void** thread_argp) {
  auto* live = static_cast<DebugInfo::Live*>(arg);
  *thread_argp = arg;
  return live->view && live->view->tid == tid;
}

bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* arg) {
  auto* live = static_cast<DebugInfo::Live*>(arg);
  const ThreadView* v = live->view;
  uint64_t w;
  if (!v || !v->read_word(addr, &w)) return false;
  if (v->tramp && w == v->tramp) {
    auto it = live->substituted.find(addr);
    if (it != live->substituted.end()) {
      w = it->second;
    } else if (live->next_real < v->real_returns.size()) {
      w = v->real_returns[live->next_real++];
      live->substituted[addr] = w;
    } else {
      live->unresolved_trampoline = true;
    }
  }
  *result = w;
  return true;
}

bool set_initial_registers(Dwfl_Thread* thread, void* arg) {
  auto* live = static_cast<DebugInfo::Live*>(arg);
  const ThreadView* v = live->view;
  if (!dwfl_thread_state_registers(thread, 0, v->nregs, v->regs)) return false;
  dwfl_thread_state_register_pc(thread, v->pc);
  return true;
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    next_thread, get_thread, memory_read, set_initial_registers, nullptr, nullptr,
};

// Whether call frame information describes `addr` (a DWARF-bias address) in `mod`.
bool has_cfi(Dwfl_Module* mod, Dwarf_Addr addr) {
  Dwarf_Addr bias;
  for (Dwarf_CFI* cfi : {dwfl_module_eh_cfi(mod, &bias), dwfl_module_dwarf_cfi(mod, &bias)}) {
    Dwarf_Frame* frame = nullptr;
    if (cfi && dwarf_cfi_addrframe(cfi, addr - bias, &frame) == 0) {
      free(frame);
      return true;
    }
  }
  return false;
}

struct Collect {
  std::vector<std::pair<uint64_t, bool>> pcs;  // pc, isactivation
  unsigned max;
};

int on_frame(Dwfl_Frame* frame, void* arg) {
  auto* c = static_cast<Collect*>(arg);
  Dwarf_Addr pc;
  bool act = false;
  if (!dwfl_frame_pc(frame, &pc, &act)) return DWARF_CB_ABORT;
  c->pcs.emplace_back(pc, act);
  return c->pcs.size() >= c->max ? DWARF_CB_ABORT : DWARF_CB_OK;
}

}  // namespace

DebugInfo::DebugInfo(const char* dirs) {
  // "-": no CRC check of .gnu_debuglink files; then the object's own folder,
  // its .debug/, and the debug directories (build-id and debuglink lookups
  // under each absolute one): the caller's, else /usr/lib/debug.
  debuginfo_path_ = "-:.debug:" + (dirs ? std::string(dirs) : std::string("/usr/lib/debug"));
  debuginfo_path_c_ = debuginfo_path_.data();
  offline_cb_ = std::make_unique<Dwfl_Callbacks>();
  memset(offline_cb_.get(), 0, sizeof(Dwfl_Callbacks));
  offline_cb_->find_elf = dwfl_build_id_find_elf;
  offline_cb_->find_debuginfo = dwfl_standard_find_debuginfo;
  offline_cb_->section_address = dwfl_offline_section_address;
  offline_cb_->debuginfo_path = &debuginfo_path_c_;
  live_cb_ = std::make_unique<Dwfl_Callbacks>();
  memset(live_cb_.get(), 0, sizeof(Dwfl_Callbacks));
  live_cb_->find_elf = dwfl_linux_proc_find_elf;
  live_cb_->find_debuginfo = dwfl_standard_find_debuginfo;
  live_cb_->debuginfo_path = &debuginfo_path_c_;
}

DebugInfo::~DebugInfo() = default;

void DebugInfo::forget_process(int pid) { procs_.erase(pid); }

Unwound DebugInfo::unwind(const ThreadView& t, unsigned generation) {
  Unwound out{{}, false, ""};
  auto& slot = procs_[t.pid];
  if (!slot) slot = std::make_unique<Live>();
  Live* live = slot.get();
  if (!live->dwfl) live->dwfl = dwfl_begin(live_cb_.get());
  if (!live->dwfl) {
    out.error = dwfl_errmsg(-1);
    return out;
  }
  if (live->generation != generation) {
    dwfl_report_begin(live->dwfl);
    if (dwfl_linux_proc_report(live->dwfl, t.pid) != 0) {
      dwfl_report_end(live->dwfl, nullptr, nullptr);
      out.error = "cannot read the process's maps";
      return out;
    }
    dwfl_report_end(live->dwfl, nullptr, nullptr);
    live->generation = generation;
  }
  live->view = &t;
  live->substituted.clear();
  live->next_real = 0;
  live->unresolved_trampoline = false;
  if (!live->attached) {
    if (!dwfl_attach_state(live->dwfl, nullptr, t.pid, &kThreadCallbacks, live)) {
      out.error = dwfl_errmsg(-1);
      live->view = nullptr;
      return out;
    }
    live->attached = true;
  }
  Collect c{{}, t.max_frames ? t.max_frames : 256};
  int rc = dwfl_getthread_frames(live->dwfl, t.tid, on_frame, &c);
  if (rc < 0) out.error = dwfl_errmsg(-1);
  // Reliable: the walk reached the outermost frame (its return address is
  // undefined in the CFI), every frame on the way was described by CFI, and
  // every trampoline stood for a call of ours.
  bool reliable = rc == 0 && !live->unresolved_trampoline;
  for (size_t i = 0; i < c.pcs.size(); i++) {
    auto [pc, act] = c.pcs[i];
    Dwarf_Addr lookup = act ? pc : pc - 1;
    Frame f{pc, "", 0, "", 0};
    Dwfl_Module* mod = dwfl_addrmodule(live->dwfl, lookup);
    if (!mod) {
      reliable = false;
    } else {
      if (i + 1 < c.pcs.size() && !has_cfi(mod, lookup)) reliable = false;
      GElf_Off off = 0;
      GElf_Sym sym;
      const char* name = dwfl_module_addrinfo(mod, lookup, &off, &sym, nullptr, nullptr, nullptr);
      if (name && (sym.st_size == 0 || off < sym.st_size)) {
        f.symbol = name;
        f.offset = off + (pc - lookup);
      }
      std::string where = line_of(mod, lookup);
      size_t colon = where.rfind(':');
      if (colon != std::string::npos) {
        f.file = where.substr(0, colon);
        f.line = atoi(where.c_str() + colon + 1);
      }
    }
    out.frames.push_back(std::move(f));
  }
  live->view = nullptr;
  out.reliable = reliable && !c.pcs.empty();
  return out;
}

}  // namespace rethook::dwarf
