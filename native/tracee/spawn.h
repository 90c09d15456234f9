// Getting threads under ptrace: starting a program seized, seizing a running
// thread. Neither registers anything with a Session: the caller does.
#pragma once
#include <stdint.h>
#include <string>
#include <vector>

namespace rethook {

// Our ptrace options: exec, clone, fork and vfork events (and the end of a
// vfork in the parent: the child no longer shares its memory), syscall stops told
// apart (TRACESYSGOOD), and the tracee killed when the tracer dies (EXITKILL).
long ptrace_options();

// Fork a child that stops itself, seize it with our options, and let it run
// to the syscall-exit stop of its execve. stdio: descriptors for its 0, 1, 2
// (-1: inherit). Every signal starts default but those in `ignored` (bit
// n-1 for signal n), which start ignored. Returns the pid, or -1 with *err set.
// A child that died before its exec for a reason of its own (killed by a
// signal someone sent it) is no error of exec's: *died_pid and *died_status
// (a wait status) say so, and *err too; otherwise *died_pid stays 0.
int spawn_seized(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& envp, const std::string& cwd,
                 const std::vector<int>& stdio, uint64_t ignored, std::string* err,
                 int* died_pid, int* died_status);

// Seize a running process's thread and interrupt it. Without exit_kill the
// thread outlives a tracer that dies (the kernel detaches it).
bool seize_thread(int tid, bool exit_kill, std::string* err);

}  // namespace rethook
