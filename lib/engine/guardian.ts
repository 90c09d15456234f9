// Standing guard over an attached process. If the tracer dies without
// detaching (SIGKILL: no JavaScript runs), the kernel lets the process go
// with our breakpoints and hijacked return addresses in it, and it would die
// at its next hooked call or return. A small guardian process, started at
// attach (native/guardian/standby.c, in a child forked by the addon), with
// the mirror as a nameless memfd and the process as a pidfd, learns of that death in the same
// kernel step that lets the process go (its parent-death signal), seizes
// every thread at once, and then (as Node, lib/guardian/main.ts) undoes
// everything from the mirror the tracer keeps (guardian/mirror.ts) and
// detaches. A clean end releases it.
import * as fs from 'fs';
import * as path from 'path';
import { arch, reapChild, startGuardian as startGuardianProcess } from '../native';
import type { Proc } from './traced';
import { Mirror, MirrorState } from '../guardian/mirror';
import type { ThreadTable } from './traced';

export interface Guardian {
  readonly mirror: Mirror;
  readonly pid: number;
}

/** The package's root: lib/engine or dist/engine are two levels below it. */
const ROOT = path.join(__dirname, '..', '..');
/** The guardian's JavaScript half (tests load lib/ from source; the guardian always runs from dist/). */
const GUARDIAN_SCRIPT = path.join(ROOT, 'dist', 'guardian', 'main.js');


/** Start the guardian of the attached process `pid`; null when it cannot run (tracing goes on unguarded). */
export function startGuardian(pid: number): Guardian | null {
  if (process.env.RETHOOK_NO_GUARDIAN) return null;
  if (!fs.existsSync(GUARDIAN_SCRIPT)) return null;
  let mirror: Mirror;
  try {
    mirror = Mirror.create();
  } catch {
    return null;
  }
  mirror.init(pid);
  try {
    return { mirror, pid: startGuardianProcess(pid, mirror.fd, process.execPath, GUARDIAN_SCRIPT) };
  } catch {
    return null;
  } finally {
    fs.closeSync(mirror.fd); // the guardian has its own; the mapping stays
  }
}

/** The tracer lets go cleanly: the guardian leaves, its mirror is removed. */
export function releaseGuardian(g: Guardian): void {
  g.mirror.state = MirrorState.Released;
  try {
    process.kill(g.pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
  // It is our child: wait for it (no zombie left behind).
  const timer = setInterval(() => {
    if (reapChild(g.pid)) clearInterval(timer);
  }, 100);
  timer.unref();
}

/** A breakpoint written at `addr` in `proc` over `original` (read just before): the guardian of `proc` learns of it. */
export function guardBreakpoint(g: Guardian | null, proc: Proc, addr: number, original: Buffer | null): void {
  if (!g || proc.pid !== g.mirror.pid || !original) return;
  g.mirror.trampoline = proc.pages.trampoline;
  g.mirror.addBreakpoint(addr, original.readUInt32LE(0));
}

export function unguardBreakpoint(g: Guardian | null, proc: Proc, addr: number): void {
  if (g && proc.pid === g.mirror.pid) g.mirror.removeBreakpoint(addr);
}

/** The original bytes a breakpoint at `addr` is about to replace (4 bytes: the longest trap, arm64's brk). */
export function bytesUnder(proc: Proc, addr: number): Buffer | null {
  return proc.mem.read(addr, Math.max(4, arch.breakpointLength));
}

/** After a stop: the stopped thread's calls in flight, as they are now. */
export function mirrorThread(g: Guardian, table: ThreadTable, tid: number): void {
  const th = table.thread(tid);
  if (!th) return g.mirror.dropThread(tid);
  if (th.proc.pid === g.mirror.pid) g.mirror.setThread(tid, th.stack.nodes);
}

/**
 * A thread stopped at our breakpoint `addr` (sp `sp`), before anything is
 * done with it: if the tracer dies now, the guardian knows the thread's pc is
 * that trap's (the kernel lets it go from there, without its SIGTRAP once we
 * took the stop) and not the instruction after it run already.
 */
export function mirrorTrap(g: Guardian, tid: number, addr: number, sp: number): void {
  g.mirror.setTrap(tid, addr, sp);
}
