// Running and stopping traced threads: thin wrappers over the ptrace requests
// (and kill/waitpid) the tracer uses, each reporting success. They decide
// nothing; TypeScript says when.
#pragma once

namespace rethook {

// Resume a stopped thread delivering `sig` (0: none); with until_syscall it
// stops again at the next syscall entry or exit (PTRACE_SYSCALL).
bool resume_thread(int tid, int sig, bool until_syscall);
// Leave a group-stop without ending it (PTRACE_LISTEN).
bool listen_thread(int tid);
// Stop a running thread (PTRACE_INTERRUPT: an event stop, no signal).
bool interrupt_thread(int tid);
// Detach, delivering `sig` (0: none).
bool detach_thread(int tid, int sig);
// kill(2).
bool kill_process(int pid, int sig);
// A detached child of ours that has exited is waited for (no zombie left
// behind). Its wait status once it is gone; -1 while it runs, -2 when it
// is gone and its status unknown.
int reap_child(int pid);

}  // namespace rethook
