// What the guardian process (lib/guardian/) needs from the system and Node
// cannot give: a file mapped shared into both the tracer and the guardian,
// and a guardian process started so that it learns of the tracer's death at once.
#pragma once
#include <napi.h>

namespace rethook {

// mapSharedFile(path, size): the file created (or opened) with `size` bytes
// and mapped MAP_SHARED; an ArrayBuffer over it, unmapped when collected.
Napi::Value MapSharedFile(const Napi::CallbackInfo& info);

// startGuardian(pid, mirror, node, script): fork the guardian (standby.h)
// with SIGUSR2 blocked and as its parent-death signal (the tracer's death is
// noticed in the same kernel step that lets its tracees go), in a session
// of its own, with no file descriptors of ours. Returns its pid.
Napi::Value StartGuardian(const Napi::CallbackInfo& info);

// reapChild(pid): true once our exited child `pid` was waited for.
Napi::Value ReapChild(const Napi::CallbackInfo& info);

}  // namespace rethook
