// C++ exceptions in fast mode, as trap mode handles them (engine/images.ts):
// before an unwinder walks the stack, the frames the recorder hijacked get
// their real return addresses back (else it finds no frame description for
// the recorder's address and the program terminates); when a catch begins,
// the calls whose frames the exception removed end as unwound, and the rest
// are hijacked again. The thread is stopped at a breakpoint of ours, so it is
// not inside the recorder: its node stack can be changed here.
import { returnAbi } from '../arch';
import type { RethookNode } from '../rethook';
import type { ThreadState } from '../engine/traced';
import type { Session } from '../engine/session';
import { drainFast, endCalls } from './drain';
import type { FastProc } from './fast-proc';
import { fastOf } from './fast-proc';

/** A node of the arena as return ABIs take it; its entry's clock tells a later call at the same frame from it. */
type FastNode = RethookNode & { tsc: bigint };

/** The thread's nodes as return ABIs take them (outermost first), kept across one exception (they carry its state). */
function nodesFor(fp: FastProc, tid: number): RethookNode[] {
  const b = fp.arena.blocks.get(tid);
  if (!b) return [];
  const raw = fp.arena.nodes(b);
  const kept = (fp.unwinding.get(tid) ?? []) as FastNode[];
  const out = raw.map((n, i) => {
    const old = kept[i];
    if (old && old.frame === n.sp && old.realRet === n.ret && old.tsc === n.tsc) return old;
    return { frame: n.sp, realRet: n.ret, chained: i > 0 && raw[i - 1].sp === n.sp, restored: false, mode: 'trampoline', tsc: n.tsc } as FastNode;
  });
  fp.unwinding.set(tid, out);
  return out;
}

/**
 * A trap-mode stop of `th` (a function fast mode could not patch) at stack
 * pointer `sp`: the recorder's calls at or below it whose return slot no
 * longer holds the recorder's address are gone (a longjmp went past them):
 * they end as unwound now, before this call's events, as trap mode's own
 * nodes do. The thread is stopped at our breakpoint, not in the recorder.
 * At an entry (its return address `ret`), a call entered at this very stack
 * pointer is gone too unless this one is its tail call (`ret` is then the
 * recorder's): two live calls are never entered at one stack pointer. That
 * is the evidence where the slot's is stale (arm64: a leaf called after a
 * longjmp saves no x30 over the copy its caller's callee left).
 */
export function fastReapDead(s: Session, th: ThreadState, sp: number, ret?: number): void {
  const fp = fastOf(th.proc);
  const b = fp?.arena.blocks.get(th.tid);
  if (!fp || !b) return;
  const raw = fp.arena.nodes(b);
  // The candidates: the top nodes at or below sp. The outermost of them
  // proven gone is dead, and so is every node above it (its callees).
  let first = raw.length;
  while (first > 0 && raw[first - 1].sp <= sp) first--;
  // A call entered by a tail jump shares its caller's slot: its evidence is its caller's.
  let keep = raw.length;
  let gone: boolean | null = null;
  for (let i = first; i < raw.length; i++) {
    const n = raw[i];
    const chained = i > 0 && raw[i - 1].sp === n.sp;
    if (!chained || i === first) {
      const probe = { frame: n.sp, realRet: n.ret, chained, mode: 'trampoline' } as RethookNode;
      gone = ret !== undefined && n.sp === sp && ret !== fp.recorderReturn ? true : returnAbi.frameGone(th.proc.mem, probe, fp.recorderReturn);
    }
    if (gone !== false) {
      keep = i;
      break;
    }
  }
  if (keep === raw.length) return;
  fp.arena.popNodes(b, keep);
  endCalls(s, fp, th.tid, raw.slice(keep).reverse(), 'longjmp');
}

export function fastBeforeUnwind(s: Session, th: ThreadState): void {
  const fp = fastOf(th.proc);
  if (!fp) return;
  returnAbi.unhijackForUnwind(s.regs, th.proc.mem, nodesFor(fp, th.tid), fp.recorderReturn);
}

/** _Unwind_Backtrace returned: the calls it saw with their real return addresses are hooked again. */
export function fastAfterBacktrace(th: ThreadState): void {
  const fp = fastOf(th.proc);
  if (!fp || !fp.unwinding.has(th.tid)) return;
  returnAbi.rehijackAfterCatch(th.proc.mem, nodesFor(fp, th.tid), fp.recorderReturn);
  fp.unwinding.delete(th.tid);
}

/**
 * A catch begins: the calls whose frames the exception removed end, the
 * others are hooked again. `firstDead` says which of the thread's nodes
 * (outermost first) is the outermost removed one (all above it were its
 * callees), or their count when none was.
 */
export function fastAtCatch(s: Session, th: ThreadState, firstDead: (nodes: readonly RethookNode[]) => number): void {
  const fp = fastOf(th.proc);
  const b = fp?.arena.blocks.get(th.tid);
  if (!fp || !b) return;
  drainFast(s, { proc: th.proc, tid: th.tid });
  if (s.status) return;
  const raw = fp.arena.nodes(b);
  const keep = firstDead(nodesFor(fp, th.tid));
  const dead = raw.slice(keep).reverse(); // innermost first
  if (dead.length) {
    fp.arena.popNodes(b, keep);
    endCalls(s, fp, th.tid, dead, 'exception');
  }
  const nodes = nodesFor(fp, th.tid);
  if (!s.status) returnAbi.rehijackAfterCatch(th.proc.mem, nodes, fp.recorderReturn);
  fp.unwinding.delete(th.tid);
}
