// Fast mode across the ptrace stops that still come: a thread's first stop
// registers its block; any stop of a thread first delivers what it recorded
// (so exits, execs and forks come after its calls); a thread's end delivers
// the rest and reports its calls still in flight as ended with it.
import type { Proc, ThreadState } from '../engine/traced';
import type { Session } from '../engine/session';
import type { ThreadBlock } from './arena';
import { drainFast, endInFlight, noteMissed } from './drain';
import type { FastProc } from './fast-proc';
import { fastOf, setFastOf } from './fast-proc';

/** Before a stop of `th` is handled: its records delivered, its block registered once it has a thread pointer. */
export function fastBeforeStop(s: Session, th: ThreadState): void {
  const fp = fastOf(th.proc);
  if (!fp) return;
  drainFast(s, { proc: th.proc, tid: th.tid });
  if (fp.unregistered.has(th.tid) && s.nat.isStopped(th.tid)) registerFresh(s, fp, th.tid);
}

/** A thread's first stop (clone): it runs no code before it has its block. */
export function fastThreadStart(s: Session, th: ThreadState): void {
  const fp = fastOf(th.proc);
  if (fp) registerFresh(s, fp, th.tid);
}

/**
 * Register `tid`. A block still registered under its thread pointer belongs
 * to a thread that died (its TLS reused by this one) whose exit we have not
 * seen yet: that one ends first.
 */
function registerFresh(s: Session, fp: FastProc, tid: number): void {
  const key = s.nat.threadPointer(tid);
  if (key) {
    const stale = fp.arena.blockByKey(key);
    if (stale && stale.tid !== tid) retireBlock(s, fp, stale, 'thread-exit');
  }
  fp.registerThread(s, tid);
}

/** The thread is gone: its records delivered, its calls in flight ended, its block freed. */
export function fastThreadGone(s: Session, th: ThreadState): void {
  const fp = fastOf(th.proc);
  if (!fp) return;
  fp.unregistered.delete(th.tid);
  const b = fp.arena.blocks.get(th.tid);
  if (b) retireBlock(s, fp, b, 'thread-exit');
  else endInFlight(s, fp, th.tid, 'thread-exit');
}

function retireBlock(s: Session, fp: FastProc, b: ThreadBlock, reason: 'thread-exit' | 'exec'): void {
  drainFast(s, { proc: fp.proc, tid: b.tid });
  endInFlight(s, fp, b.tid, reason);
  fp.arena.dropNodes(b);
  fp.arena.retire(b);
  noteMissed(fp); // what its block counted, before the block is gone
}

/** The process replaced its image: every thread's records delivered, their calls ended; a new arena comes with new hooks. */
export function fastExec(s: Session, proc: Proc): void {
  const fp = fastOf(proc);
  if (!fp) return;
  for (const b of [...fp.arena.blocks.values()]) retireBlock(s, fp, b, 'exec');
  for (const tid of [...fp.inFlight.keys()]) endInFlight(s, fp, tid, 'exec');
  setFastOf(proc, null);
}
