// Attaching to a running process: seize every thread (again, until no new
// one appears), hold each at its interrupt stop, then take the image as it is.
//
// Stops are taken with non-blocking waits: polled briefly, then from timers,
// so the event loop (and Ctrl-C) keeps running while a thread cannot stop
// yet. A thread blocked in vfork stops only when its child execs or exits;
// until then the shared memory must not be touched (the child would meet our
// breakpoints), so attaching completes at that moment. A process stopped by
// SIGSTOP & co. reports group-stops: held as such, it is released with
// PTRACE_LISTEN (run.ts) and stays stopped until someone sends SIGCONT.
import * as fs from 'fs';
import { ptraceCode, RethookError } from '../errors';
import { Info, StopKind } from '../native';
import type { Proc } from './traced';
import { pause } from './detach';
import { adoptRunningImage } from './images';
import { learnStack } from './lifecycle';
import type { Session } from './session';

const SIGTRAP = 5;
const PTRACE_EVENT_FORK = 1, PTRACE_EVENT_VFORK = 2, PTRACE_EVENT_CLONE = 3, PTRACE_EVENT_VFORK_DONE = 5;
/** Rounds of reading /proc/PID/task for threads born while we seize. */
const MAX_SEIZE_ROUNDS = 100;
/** Threads are polled without yielding to the event loop for this long; then from timers. */
const SYNC_POLL_MS = 100;
const POLL_INTERVAL_MS = 10;

/** What attaching waits for: threads to stop, and children born meanwhile to let go. */
interface Pending {
  threads: Map<number, number>; // tid -> signal seen first (kept for later)
  children: Set<number>;
}

/**
 * Seize every thread and wait for each to stop (`slow` is told, once, when
 * some take longer than a moment: blocked in vfork, say). Resolves with all
 * of them held and the image adopted.
 */
export async function seizeAll(s: Session, pid: number, slow?: (tids: number[]) => void): Promise<void> {
  s.attaching = true;
  try {
    await seizeAndHold(s, pid, slow);
  } finally {
    s.attaching = false;
  }
}

async function seizeAndHold(s: Session, pid: number, slow?: (tids: number[]) => void): Promise<void> {
  const proc = s.table.addProcess(pid);
  const seized = new Set<number>();
  const pending: Pending = { threads: new Map(), children: new Set() };
  for (let round = 0; round < MAX_SEIZE_ROUNDS; round++) {
    let tids: number[];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
    } catch {
      throw new RethookError(`no process ${pid}`, 'ENOPROCESS');
    }
    const fresh = tids.filter((t) => !seized.has(t));
    if (!fresh.length) break;
    for (const tid of fresh) {
      try {
        seizeWaitingForOurGuardian(s, pid, tid);
      } catch (e) {
        if (seized.size === 0) throw new RethookError(`cannot attach to process ${pid}: ${heldBy(pid, tid) ?? (e as Error).message}`, ptraceCode((e as Error).message, 'ENOPROCESS'), { cause: e });
        continue; // the thread just exited
      }
      seized.add(tid);
      s.table.addThread(proc, tid);
      pending.threads.set(tid, 0);
    }
    pollStops(s, proc, pending, seized);
  }
  const start = Date.now();
  let told = false;
  while (pending.threads.size || pending.children.size) {
    if (pollStops(s, proc, pending, seized)) continue;
    if (s.status) throw new RethookError(`attaching to process ${pid} was given up`, 'ENOPROCESS');
    const waited = Date.now() - start;
    if (waited < SYNC_POLL_MS) {
      pause(1);
      continue;
    }
    if (!told && pending.threads.size) {
      told = true;
      slow?.([...pending.threads.keys()]);
    }
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
  if (!s.table.thread(pid) && !s.held.length) throw new RethookError(`no process ${pid}`, 'ENOPROCESS');
  const first = s.held[0];
  if (!first) throw new RethookError(`cannot attach to process ${pid}: no thread stopped`, 'ENOPROCESS');
  adoptRunningImage(s, proc, first.tid);
}

/** Take every stop waiting among the pending threads and children; true when one came. */
function pollStops(s: Session, proc: Proc, pending: Pending, seized: Set<number>): boolean {
  let progress = false;
  for (const [tid, sig] of [...pending.threads]) {
    const kind = s.nat.waitThread(tid, 0);
    if (kind === StopKind.None) continue;
    progress = true;
    const info = s.info;
    if (kind === StopKind.Exited || kind === StopKind.Killed) {
      pending.threads.delete(tid);
      s.table.removeThread(tid);
    } else if (kind === StopKind.Event && info[Info.A] === PTRACE_EVENT_VFORK_DONE) {
      // A thread seized while blocked in vfork stops at its vfork-done event
      // when the child lets go, and that stop took our interrupt's place (any
      // ptrace stop clears a pending one). It is still in the kernel: asked
      // again, it stops as it returns to its own code.
      s.resume(tid, 0);
      s.nat.interrupt(tid);
    } else if (kind === StopKind.Interrupt || kind === StopKind.GroupStop) {
      pending.threads.delete(tid);
      const th = s.table.thread(tid);
      if (th) learnStack(s, th);
      s.held.push({ tid, addr: 0, sig, group: kind === StopKind.GroupStop });
    } else {
      // A stop that came before the interrupt: keep its signal for later, or
      // note the thread or child it announces; go on to the interrupt stop.
      if (kind === StopKind.Signal || kind === StopKind.Trap) pending.threads.set(tid, info[Info.A] || SIGTRAP);
      else if (kind === StopKind.Event && info[Info.A] === PTRACE_EVENT_CLONE) {
        const nt = info[Info.Msg];
        seized.add(nt);
        s.table.addThread(proc, nt);
        pending.threads.set(nt, 0);
      } else if (kind === StopKind.Event && (info[Info.A] === PTRACE_EVENT_FORK || info[Info.A] === PTRACE_EVENT_VFORK)) {
        // Nothing of ours is in its memory yet: it is let go at its first stop.
        pending.children.add(info[Info.Msg]);
      }
      s.resume(tid, 0);
    }
  }
  for (const child of [...pending.children]) {
    const kind = s.nat.waitThread(child, 0);
    if (kind === StopKind.None) continue;
    progress = true;
    pending.children.delete(child);
    if (kind !== StopKind.Exited && kind !== StopKind.Killed) s.nat.detach(child, 0);
  }
  return progress;
}

/**
 * Seize `tid`. A guardian of ours from an earlier session (our child) may
 * still hold the threads for a moment after that session detached (it seizes
 * them when told to go, reads that it is released, and lets go): wait for it,
 * up to a second, rather than report another tracer.
 */
function seizeWaitingForOurGuardian(s: Session, pid: number, tid: number): void {
  for (const end = Date.now() + GUARDIAN_WAIT_MS; ; ) {
    try {
      return s.nat.seize(tid, false);
    } catch (e) {
      if (!/Operation not permitted|EPERM/.test((e as Error).message) || Date.now() > end || !tracedByGuardian(pid, tid)) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * When another tracer holds the thread (gdb, strace, a debugger): who, from
 * /proc (its TracerPid and that process's command), for the refusal to name.
 */
function heldBy(pid: number, tid: number): string | null {
  try {
    const tracer = Number(/^TracerPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    if (!tracer || tracer === process.pid) return null;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${tracer}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ').slice(0, 200);
      if (!cmd) cmd = fs.readFileSync(`/proc/${tracer}/comm`, 'latin1').trim();
    } catch {
      // gone meanwhile, or not ours to read: the pid alone
    }
    return `it is traced by process ${tracer}${cmd ? ` (${cmd})` : ''}; a process has one tracer at a time: stop that one first`;
  } catch {
    return null;
  }
}

/** How long an attach waits for a guardian (ours or another session's) to put a process back and let go. */
const GUARDIAN_WAIT_MS = 5000;

/**
 * Whether the thread's tracer is a guardian, of this session or another's
 * (its native half is named rethook-guard; its Node half runs
 * guardian/main.js), or the thread was let go meanwhile.
 */
function tracedByGuardian(pid: number, tid: number): boolean {
  try {
    const tracer = /^TracerPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1];
    if (!tracer || tracer === '0') return true; // let go meanwhile: try again
    if (fs.readFileSync(`/proc/${tracer}/comm`, 'utf8').startsWith('rethook-guard')) return true;
    return /\/guardian\/main\.js\0/.test(fs.readFileSync(`/proc/${tracer}/cmdline`, 'latin1'));
  } catch {
    return true; // the tracer is gone: try again
  }
}
