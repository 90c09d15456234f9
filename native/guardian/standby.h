// The guardian's first half, run in a child forked by startGuardian
// (shared.cc): only async-signal-safe calls between that fork and its exec.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Stand by until the parent-death signal (SIGUSR2, blocked) says the tracer
// died, or the mirror says it let go (then _exit). On the signal: seize and
// interrupt every thread of `pid` at once and exec `node script mirror tids`
// (ptrace attachments survive exec). Never returns.
void guardian_standby(int pid, const char* mirror, const char* node, const char* script);

#ifdef __cplusplus
}
#endif
