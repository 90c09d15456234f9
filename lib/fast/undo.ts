// Fast mode's entries in the undo list (engine/undo.ts): the patches, and the
// return addresses the recorder hijacked, found from the threads' node stacks
// in the arena. The recorder, its arena and the stubs stay mapped: a thread
// may be inside them, and finishes correctly (its node is still there).
import { returnAbi } from '../arch';
import type { RethookNode } from '../rethook';
import type { Proc } from '../engine/traced';
import { stoppedThread } from '../tracee/registers';
import type { Session } from '../engine/session';
import { unpatchAll } from './patch';
import { fastOf } from './fast-proc';

/** A thread's calls in flight in fast mode, outermost first, as return ABIs take them. */
export type FastNodes = readonly RethookNode[];

/** The nodes of thread `tid` of `proc` (fast mode), outermost first. */
export function fastNodesOf(proc: Proc, tid: number): FastNodes {
  const fp = fastOf(proc);
  const b = fp?.arena.blocks.get(tid);
  if (!fp || !b) return [];
  const raw = fp.arena.nodes(b);
  return raw.map((n, i) => ({ frame: n.sp, realRet: n.ret, chained: i > 0 && raw[i - 1].sp === n.sp, restored: false, mode: 'trampoline' }) as RethookNode);
}

/**
 * Undo fast mode's changes of `from` in `into` (the same process on detach,
 * a fork child's copy otherwise): the patches, then each listed thread's
 * hijacked returns (`stopped`: its registers may be read and written). When
 * leaving for good, the recorder stops hooking and a full ring drops.
 */
export function undoFast(s: Session, from: Proc, into: Proc, threads: readonly { tid: number; nodes: FastNodes; stopped: boolean }[], leaving: boolean): void {
  const fp = fastOf(from);
  if (!fp) return;
  if (into === from) fp.arena.enabled = false;
  unpatchAll(from, into);
  for (const t of threads) {
    if (!t.nodes.length) continue;
    const thread = t.stopped ? stoppedThread(s.nat, s.regs, t.tid) : { tid: t.tid, regs: s.regs, load: () => false, store: () => false };
    returnAbi.restore(thread, into.mem, t.nodes, fp.recorderReturn);
  }
  if (leaving && into === from) fp.arena.consumer = false;
}
