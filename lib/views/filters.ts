// Filters, as uftrace's: they choose what is shown, never what the program
// does (it runs the same). A filter sits in front of the views and passes
// on the events they should see.
//
//   --tid N            only threads N (repeatable)
//   --caller FUNC      only calls made, directly or not, from inside FUNC (a glob;
//                      FUNC itself shown as the root: the tree starts at depth 0 there)
//   --max-depth N      only calls fewer than N deep in the tree shown
//   -n N               only the first N calls that pass the filters above
//   --min-duration D   only calls at least D long, with their callers kept for
//                      context (decided at each call's exit: entries wait until then)
import { globToRegExp, Glob } from '../symbols/patterns';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import type { EndInfo, View } from './view';
import type { Shown } from './tree';

export interface FilterOptions {
  minDurationNs: number | null;
  maxDepth: number | null;
  tids: number[] | null;
  callers: string[] | null;
  limit: number | null;
}

export const NO_FILTERS: FilterOptions = { minDurationNs: null, maxDepth: null, tids: null, callers: null, limit: null };

export function hasFilters(o: FilterOptions): boolean {
  return o.minDurationNs !== null || o.maxDepth !== null || o.tids !== null || o.callers !== null || o.limit !== null;
}

interface Frame {
  e: Shown<EntryEvent>;
  /** Passes the filters decided at entry (tid, caller, depth, -n). */
  shown: boolean;
  /** Its entry was passed on. */
  emitted: boolean;
  /** Inside a --caller function (or no --caller given); base: depth of the outermost such function. */
  inside: boolean;
  base: number;
}

export class Filter implements View {
  private readonly stacks = new Map<number, Frame[]>();
  private readonly tids: Set<number> | null;
  private readonly callers: Glob[] | null;
  private passed = 0;

  constructor(private readonly o: FilterOptions, private readonly next: View) {
    this.tids = o.tids ? new Set(o.tids) : null;
    this.callers = o.callers ? o.callers.map((c) => globToRegExp(c, false)) : null;
  }

  private stack(tid: number): Frame[] {
    let st = this.stacks.get(tid);
    if (!st) this.stacks.set(tid, (st = []));
    return st;
  }

  entry(e: EntryEvent): void {
    if (this.tids && !this.tids.has(e.tid)) return;
    const st = this.stack(e.tid);
    while (st.length && st[st.length - 1].e.depth >= e.depth) st.pop(); // calls whose exits never came
    const parent = st[st.length - 1];
    let inside = true, base = 0;
    if (this.callers) {
      if (parent?.inside) base = parent.base;
      else if (this.callers.some((g) => g.test(e.function))) base = e.depth;
      else inside = false;
    }
    const shownDepth = e.depth - base;
    const shown = inside && (this.o.maxDepth === null || shownDepth < this.o.maxDepth) && (this.o.limit === null || this.passed < this.o.limit);
    if (shown) this.passed++;
    const ev: Shown<EntryEvent> = shownDepth === e.depth ? e : { ...e, shownDepth };
    const f: Frame = { e: ev, shown, emitted: false, inside, base };
    st.push(f);
    if (shown && this.o.minDurationNs === null) {
      f.emitted = true;
      this.next.entry(ev);
    }
  }

  exit(e: ExitEvent): void {
    if (this.tids && !this.tids.has(e.tid)) return;
    const st = this.stack(e.tid);
    while (st.length && st[st.length - 1].e.depth > e.depth) st.pop();
    const top = st[st.length - 1];
    const min = this.o.minDurationNs;
    if (!top || top.e.depth !== e.depth || top.e.function !== e.function) {
      // An exit without its entry (a call a followed fork child inherited in flight): no caller is known.
      if (this.callers || (this.o.maxDepth !== null && e.depth >= this.o.maxDepth)) return;
      if (min !== null && e.durationNs < min) return;
      this.next.exit(e);
      return;
    }
    st.pop();
    if (!top.shown) return;
    if (min !== null) {
      if (!top.emitted && e.durationNs < min) return;
      // Kept: its callers are kept for context, their entries passed on first (outermost first).
      for (const f of st) {
        if (f.shown && !f.emitted) {
          f.emitted = true;
          this.next.entry(f.e);
        }
      }
      if (!top.emitted) this.next.entry(top.e);
    }
    const shownDepth = top.e.shownDepth;
    this.next.exit(shownDepth === undefined ? e : { ...e, shownDepth } as Shown<ExitEvent>);
  }

  note(e: NoteEvent, text: string): void {
    if (this.tids && typeof e.tid === 'number' && !this.tids.has(e.tid)) return;
    this.next.note(e, text);
  }

  end(info: EndInfo): void {
    this.next.end(info);
  }
}
