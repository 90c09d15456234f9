// What the guardian process (lib/guardian/) and fast mode need from the
// system that Node cannot give: shared memory with no name anywhere (a memfd,
// never a path in a shared directory), a tracee's memfd taken by descriptor
// (never reopened by path), and a guardian process started so that it learns
// of the tracer's death at once and names its process by a pidfd.
#pragma once
#include <napi.h>

namespace rethook {

// createSharedMemory(name, size): a new memfd of `size` bytes, sealed
// against shrinking and growing, mapped MAP_SHARED. Returns [fd, ArrayBuffer];
// the mapping is unmapped when the buffer is collected; the fd is the caller's
// to close (after handing it to the guardian).
Napi::Value CreateSharedMemory(const Napi::CallbackInfo& info);

// mapSharedFd(fd, size): map an inherited memfd (the guardian's mirror, fd 3)
// MAP_SHARED; checks it is a memfd of at least `size` bytes.
Napi::Value MapSharedFd(const Napi::CallbackInfo& info);

// adoptTraceeMemfd(pid, fd, name, size): take descriptor `fd` of process
// `pid` (pidfd_getfd: the very file, whatever its path now says), check it is
// a fresh memfd called `name` (memfd, empty, unsealed), size it to `size`,
// seal it (no shrinking, no growing, no more seals) and map it MAP_SHARED.
// Anything else throws, and nothing is written to it.
Napi::Value AdoptTraceeMemfd(const Napi::CallbackInfo& info);

// startGuardian(pid, mirrorFd, node, script): fork the guardian (standby.h)
// with SIGUSR2 blocked and as its parent-death signal (the tracer's death is
// noticed in the same kernel step that lets its tracees go), in a session
// of its own, with no file descriptors of ours but two: the mirror at fd 3
// and a pidfd of `pid` at fd 4, taken now, while the process is ours.
// Returns its pid.
Napi::Value StartGuardian(const Napi::CallbackInfo& info);

// pidfdAlive(fd): the process a pidfd names has not exited.
Napi::Value PidfdAlive(const Napi::CallbackInfo& info);

// reapChild(pid): true once our exited child `pid` was waited for.
Napi::Value ReapChild(const Napi::CallbackInfo& info);

}  // namespace rethook
