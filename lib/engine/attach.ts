// Attaching to a running process: seize every thread (again, until no new
// one appears), hold each at its interrupt stop, then take the image as it is.
import * as fs from 'fs';
import { RethookError } from '../errors';
import { Info, StopKind } from '../native';
import type { Proc } from '../tracee/process';
import { adoptRunningImage } from './images';
import { learnStack } from './lifecycle';
import type { Session } from './session';

const SIGTRAP = 5;
const PTRACE_EVENT_CLONE = 3;
/** Rounds of reading /proc/PID/task for threads born while we seize. */
const MAX_SEIZE_ROUNDS = 100;

export function seizeAll(s: Session, pid: number): void {
  const proc = s.table.addProcess(pid);
  const seized = new Set<number>();
  for (let round = 0; round < MAX_SEIZE_ROUNDS; round++) {
    let tids: number[];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
    } catch {
      throw new RethookError(`no process ${pid}`);
    }
    const fresh = tids.filter((t) => !seized.has(t));
    if (!fresh.length) break;
    for (const tid of fresh) {
      try {
        s.nat.seize(tid, false);
      } catch (e) {
        if (seized.size === 0) throw new RethookError(`cannot attach to process ${pid}: ${(e as Error).message}`);
        continue; // the thread just exited
      }
      seized.add(tid);
      s.table.addThread(proc, tid);
    }
    for (const tid of fresh) if (seized.has(tid)) holdAfterInterrupt(s, proc, tid);
  }
  const first = s.held[0];
  if (!first) throw new RethookError(`cannot attach to process ${pid}: no thread stopped`);
  adoptRunningImage(s, proc, first.tid);
}

/** Wait for a seized thread's interrupt stop and hold it there, keeping any signal that came first for later. */
function holdAfterInterrupt(s: Session, proc: Proc, tid: number): void {
  let sig = 0;
  const kind = s.table.waitForStop(tid, [StopKind.Interrupt, StopKind.GroupStop], (k, info) => {
    if (k === StopKind.Signal || k === StopKind.Trap) sig = info[Info.A] || SIGTRAP;
    else if (k === StopKind.Event && info[Info.A] === PTRACE_EVENT_CLONE) s.table.addThread(proc, info[Info.Msg]);
  });
  if (kind === null) return void s.table.removeThread(tid);
  const th = s.table.thread(tid);
  if (th) learnStack(s, th);
  s.held.push({ tid, addr: 0, sig });
}
