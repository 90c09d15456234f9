// A return into the recorder that it could not match (its top node was not
// the returning frame's: a coroutine switched stacks, or a longjmp left an
// alternate stack's calls on top) traps instead of guessing. Here the
// thread is stopped: its node is looked for anywhere on its stack, as trap
// mode's popReturn does; the calls above it end as unwound, it (and any
// chained to it) returns, and the thread resumes at the real return address.
// With no node at all for the frame, the program gets the SIGTRAP the trap
// raised, as a stray jump into trap mode's trampoline does.
import { returnAbi } from '../arch';
import type { ThreadState } from '../engine/traced';
import type { Session } from '../engine/session';
import { drainFast, endCalls, returnCalls } from './drain';
import { fastOf } from './fast-proc';

const SIGTRAP = 5;

export function onRecorderTrap(s: Session, th: ThreadState): void {
  const fp = fastOf(th.proc)!;
  const b = fp.arena.blocks.get(th.tid);
  const regs = s.regs;
  const frame = regs.sp - returnAbi.returnPops;
  const raw = b ? fp.arena.nodes(b) : [];
  let i = raw.length - 1;
  while (i >= 0 && raw[i].sp !== frame) i--;
  if (!b || i < 0) return void s.resume(th.tid, SIGTRAP);
  drainFast(s, { proc: th.proc, tid: th.tid });
  if (s.status) return;
  let bottom = i;
  while (bottom > 0 && raw[bottom - 1].sp === frame) bottom--;
  // Above the frame's nodes: calls whose frames are gone (below it) or live on another stack (kept).
  const above = raw.slice(i + 1);
  const dead = above.filter((n) => n.sp < frame);
  const kept = above.filter((n) => n.sp >= frame);
  const returning = raw.slice(bottom, i + 1).reverse();
  fp.arena.popNodes(b, bottom);
  fp.arena.pushNodesOnTop(b, kept);
  if (dead.length) endCalls(s, fp, th.tid, dead.reverse(), 'longjmp');
  returnCalls(s, fp, th.tid, returning, regs.retval);
  if (s.status) return;
  returnAbi.resumeAt(regs, returning[returning.length - 1].ret);
  s.resume(th.tid, 0, true);
}
