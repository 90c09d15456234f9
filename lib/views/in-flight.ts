// Calls whose entry went to the views and whose exit has not: when the
// tracer detaches, they end in the output as unwound with reason 'detach'
// (the program goes on with them; their returns are no longer ours to see).
import type { EntryContext, ExitContext } from '../context';
import type { EntryEvent } from '../events';
import type { View } from './view';

interface Call {
  pid: number;
  tid: number;
  function: string;
  depth: number;
  start: bigint;
  /** The entry event as the views got it. */
  event: EntryEvent;
}

export class InFlight {
  private readonly byThread = new Map<number, Call[]>();

  entered(ctx: EntryContext, event: EntryEvent): void {
    let st = this.byThread.get(ctx.tid);
    if (!st) this.byThread.set(ctx.tid, (st = []));
    st.push({ pid: ctx.pid, tid: ctx.tid, function: ctx.function, depth: ctx.depth, start: ctx.timestampNs, event });
  }

  /** The entry events of the calls in flight on thread `tid`, outermost first (what a fork child of it inherits). */
  stackOf(tid: number): EntryEvent[] {
    return (this.byThread.get(tid) ?? []).map((c) => c.event);
  }

  /**
   * A followed fork child's first event is coming: the calls it inherited
   * in flight (those of the thread that forked) open its stream, as entries
   * marked `inherited` at the time of the fork, so that the child's stream
   * stands alone (its inherited returns, and its own calls' depths, follow
   * from them). They are in flight on the child's thread from then on.
   */
  openInherited(pid: number, from: readonly EntryEvent[], forkTs: number, view: View): void {
    let st = this.byThread.get(pid);
    if (!st) this.byThread.set(pid, (st = []));
    for (const e of from) {
      // A copy (the parent's typed text included), as the child's; without what a filter added for the tree.
      const { shownDepth: _, ...rest } = e as EntryEvent & { shownDepth?: number };
      const ev: EntryEvent = { ...rest, pid, tid: pid, inherited: true, ts: forkTs };
      const depth = ev.depth, fn = ev.function;
      view.entry(ev);
      st.push({ pid, tid: pid, function: fn, depth, start: BigInt(forkTs), event: ev });
    }
  }

  exited(ctx: ExitContext): void {
    const st = this.byThread.get(ctx.tid);
    while (st?.length && st[st.length - 1].depth >= ctx.depth) st.pop();
    if (st && !st.length) this.byThread.delete(ctx.tid);
  }

  /** Every call still in flight ends now, innermost first per thread, unwound by the detach. */
  endAll(view: View): void {
    const now = process.hrtime.bigint();
    for (const list of this.byThread.values()) {
      for (const c of list.reverse()) {
        view.exit({
          type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: null, unwound: true,
          durationNs: Number(now - c.start), reason: 'detach', ts: Number(now),
        });
      }
    }
    this.byThread.clear();
  }
}
