// Calls whose entry went to the views and whose exit has not: when the
// tracer detaches, they end in the output as unwound with reason 'detach'
// (the program goes on with them; their returns are no longer ours to see).
import type { EntryContext, ExitContext } from '../context';
import type { View } from './events';

interface Call {
  pid: number;
  tid: number;
  function: string;
  depth: number;
  start: bigint;
}

export class InFlight {
  private readonly byThread = new Map<number, Call[]>();

  entered(ctx: EntryContext): void {
    let st = this.byThread.get(ctx.tid);
    if (!st) this.byThread.set(ctx.tid, (st = []));
    st.push({ pid: ctx.pid, tid: ctx.tid, function: ctx.function, depth: ctx.depth, start: ctx.timestampNs });
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
