// The guardian's first half, run in a child forked by startGuardian
// (shared.cc): only async-signal-safe calls between that fork and its exec.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// The descriptors it runs with: the mirror (a sealed memfd) and a pidfd of
// the guarded process, taken while the tracer held it.
enum { GUARDIAN_MIRROR_FD = 3, GUARDIAN_PIDFD = 4 };

// Stand by until the parent-death signal (SIGUSR2, blocked) says the tracer
// died, or the mirror says it let go (then _exit). On the signal: if the
// pidfd says the process is gone, _exit (its pid may name another process
// now); else seize and interrupt every thread of `pid` at once, let go of any
// that is not the pidfd's process's (checked after seizing), and exec
// `node script tids` (ptrace attachments and fds 3-4 survive exec). Never returns.
void guardian_standby(int pid, const char* node, const char* script);

#ifdef __cplusplus
}
#endif
