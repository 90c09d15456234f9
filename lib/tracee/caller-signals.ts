// The signals rethook's caller ignored (nohup, `trap '' HUP`, a shell's
// background job: SIGINT and SIGQUIT), which a program started by rethook
// must keep ignored, as it would started by the shell itself.
//
// Node resets every signal disposition it inherits at start-up, before any
// JavaScript runs (measured, Node 20: an inherited SIG_IGN of SIGHUP, SIGINT
// or SIGQUIT is SIG_DFL again in /proc/self/status), and sets SIGPIPE and
// SIGXFSZ ignored itself: by the time this code runs, what the caller ignored
// is gone. So it is noted before Node starts, by bin/rethook.js's first line
// (sh reads /proc/$$/status's SigIgn and passes it in RETHOOK_CALLER_SIGIGN).
// `node bin/rethook.js` (or a script using the API) skips that line: nothing
// is known, and the program starts with every signal default, as
// child_process.spawn starts one. SIGPIPE and SIGXFSZ, which Node ignores,
// are thus default for the program unless the caller ignored them.
import { constants } from 'os';

export const CALLER_SIGIGN = 'RETHOOK_CALLER_SIGIGN';

/** The caller's SigIgn mask (bit n-1 for signal n), 0 when not known. */
export function callerIgnoredSignals(): bigint {
  const v = process.env[CALLER_SIGIGN];
  return v && /^[0-9a-fA-F]{1,16}$/.test(v) ? BigInt('0x' + v) : 0n;
}

/** Whether rethook's caller ignored `sig`. */
export function callerIgnores(sig: NodeJS.Signals): boolean {
  const n = constants.signals[sig];
  return n !== undefined && ((callerIgnoredSignals() >> BigInt(n - 1)) & 1n) === 1n;
}

/**
 * Signals the CLI would otherwise die of or act on, kept ignored when its
 * caller ignored them: a hangup under nohup, a Ctrl-C the shell kept from a
 * background job, must not end rethook (which would take the program with it).
 */
const KEPT: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM'];

/** Ignore, in this process too, the signals of KEPT the caller ignored (a listener that does nothing). */
export function ignoreAsCallerDid(): void {
  for (const sig of KEPT) if (callerIgnores(sig) && process.listenerCount(sig) === 0) process.on(sig, () => undefined);
}

/** process.on(sig, handler), unless the caller ignored `sig`: then it stays ignored. */
export function onSignal(sig: NodeJS.Signals, handler: () => void): void {
  if (!callerIgnores(sig)) process.on(sig, handler);
}
