// Shared by the files of native/dwarf only.
#pragma once
#include <elfutils/libdwfl.h>

#include <cstdint>
#include <map>
#include <string>

#include "dwarf.h"

namespace rethook::dwarf {

// types.cc: the signature JSON of the function at link-time address `link_addr` of `mod`.
std::string signature_json(Dwfl_Module* mod, uint64_t link_addr);
// types.cc: "file.c:21" for an address as dwfl places `mod`, "" when unknown.
std::string line_of(Dwfl_Module* mod, uint64_t dwfl_addr);

struct DebugInfo::Offline {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  int64_t mtime = 0, size = 0;
  ~Offline() {
    if (dwfl) dwfl_end(dwfl);
  }
};

struct DebugInfo::Live {
  Dwfl* dwfl = nullptr;
  unsigned generation = ~0u;
  bool attached = false;
  // The unwind in progress.
  const ThreadView* view = nullptr;
  std::map<uint64_t, uint64_t> substituted;  // slot -> real return address put there
  size_t next_real = 0;
  bool unresolved_trampoline = false;
  ~Live() {
    if (dwfl) dwfl_end(dwfl);
  }
};

}  // namespace rethook::dwarf
