// `rethook report FILE` (the summary), `rethook replay FILE` (the call tree),
// `rethook dump FILE` (JSON lines, --chrome, --folded): views of a record
// (lib/record/read.ts), with the same filters as a live trace.
//
// The summary and histograms are made from the record's columns (no object
// per call: lib/record/aggregate.ts); the other views, and the summary with
// filters other than --tid, take events (lib/record/events.ts), merged from
// the threads by ts (lib/record/order.ts); but the tree alone to a file or a
// pipe, whose one thread's calls the addon writes as lines from the bytes
// (lib/record/tree-lines.ts) while nothing is to be merged or dropped.
import * as fs from 'fs';
import type { EntryEvent, ExitEvent, NoteEvent, LineEvent } from '../../events';
import type { RunInfo } from '../../views/view';
import { formatDuration, missedLine } from '../../views/view';
import { IN_FLIGHT_BYTES, IN_FLIGHT_MAX, InFlightBound } from '../../views/record';
import { NO_FILTERS } from '../../views/filters';
import type { SummaryView } from '../../views/report';
import { escapeText } from '../../symbols/text';
import { readRecord } from '../../record/read';
import { CallEvent, CallEvents, entryBytes, EventBound } from '../../record/events';
import { ColumnSummary } from '../../record/aggregate';
import { TsOrder, WINDOW } from '../../record/order';
import { SiteInfo, UNWIND_REASONS } from '../../record/batch';
import type { Parsed, ViewingArgs } from '../args';
import { buildViews, endOfRunLine, openOutput } from './views';

/**
 * Shows a record; returns the exit code. What the views still send after it
 * (--otlp's last spans) is in `after.settle`, for the caller to await.
 */
export function reportCommand(p: Parsed, after: { settle: () => Promise<void> } = { settle: () => Promise.resolve() }): number {
  const v = p.viewing as ViewingArgs;
  // Replay shows the tree unless another view is asked for; report the summary; dump JSON lines.
  // The views of a record go to stdout (`rethook dump --chrome run.rethook > trace.json`), or -o FILE.
  const fd = v.output === undefined ? 1 : openOutput(v.output);
  try {
    return show(p.file as string, v, fd, (s) => (after.settle = s));
  } finally {
    if (fd > 2) fs.closeSync(fd); // closed on a bad record too
  }
}


/** A note's line as the text views print it ('' for none). */
function noteText(e: NoteEvent): string {
  if (e.type === 'missed' && e.message === undefined) return missedLine(Number(e.nmissed), (e.reasons ?? {}) as Record<string, number>, Number(e.maxActive));
  if (e.type === 'missed' || e.type === 'refused' || e.type === 'warning') return String(e.message);
  // A fallback found as an object was loaded (those found at the start are in the first 'fallbacks' note, which the views show).
  if (e.type === 'fallback' && !e.start) return String(e.message);
  return '';
}

function show(file: string, v: ViewingArgs, fd: number, settleWith: (s: () => Promise<void>) => void): number {
  const run: RunInfo = { command: [], pid: 0, startTs: 0, startWallNs: 0, overheadNs: null };
  let built: ReturnType<typeof buildViews> | null = null;
  let lastTs = 0;
  // The threads that made calls: a --tid that names none of them is said, not shown as an empty view.
  const threads = new Set<number>();
  let exitStatus: { pid: number; code: number | null; signal: string | null; detached: boolean } | null = null;
  let rec: ReturnType<typeof readRecord> | null = null;
  const headline = () => endOfRunLine(rec?.entries ?? 0, Object.values(rec?.end?.nmissed ?? {}).reduce((a, b) => a + b, 0), lastTs - run.startTs, exitStatus);
  // The summary from the columns: without filters, or with --tid only (a batch is one thread's).
  const f = v.filters;
  // (Views that take every call, --html's flame graph and timeline and --otlp's spans, take events.)
  const columns = (v.summary || v.hist.length > 0) && !v.html && v.otlp === undefined && f.minDurationNs === null && f.maxDepth === null && f.callers === null && f.limit === null;
  const tids = f.tids ? new Set(f.tids) : null;
  let summary: ColumnSummary | null = null;
  let events: CallEvents | null = null;
  // What the views hold of calls that have not returned is bounded (a record of calls that never return).
  const inFlight = new InFlightBound();
  const view = () => built!.view;

  // The tree alone, to a file or a pipe, unfiltered: a thread's plain CALLS chunks written by the addon
  // (lib/record/tree-lines.ts) while it is the one thread making calls and its events go out unheld (see calls()).
  let treeLines: import('../../record/tree-lines').ColumnTree | null = null;
  let sites: readonly SiteInfo[] = [];
  let maxEntryBytes = 1;
  // Events to the views, in ts order (what the addon wrote goes out first).
  const emit = (e: LineEvent) => {
    if (treeLines) treeLines.drain();
    if (e.type === 'entry') view().entry(e as EntryEvent);
    else if (e.type === 'exit') view().exit(e as ExitEvent);
    else view().note(e as NoteEvent, noteText(e as NoteEvent));
  };
  const order = new TsOrder<LineEvent>(emit);
  const toOrder = (e: CallEvent) => order.push(e.ts, e);
  let firstTid = 0, rows = 0;
  // The bound on calls in flight applies as the events are made (a thread's own order): what it drops is never made.
  const bound: EventBound = {
    entry(tid, depth, fn, bytes, ts) {
      if (inFlight.entry(tid, depth, fn, bytes)) return true;
      if (inFlight.dropped === 1) {
        const m = `more than ${IN_FLIGHT_MAX} calls (or ${IN_FLIGHT_BYTES >> 20} MiB of their entries) in flight at once: calls that begin now are not shown until some return`;
        order.push(ts, { type: 'warning', message: m, ts });
      }
      return false;
    },
    exit: (tid, depth, fn) => inFlight.exit(tid, depth, fn),
  };

  const startFallbacks = new Set<string>();
  try {
    rec = readRecord(file, {
      // The summary counts whole CALLS chunks in the addon: calls() below sees none.
      callsChunk: columns ? (_pid, tid, baseTs, buf, start, stop, at) => {
        const r = summary!.chunk(buf, start, stop, at, tid, baseTs, !tids || tids.has(tid));
        if (r && r.rows) {
          threads.add(tid);
          if (r.lastTs > lastTs) lastTs = r.lastTs;
        }
        return r;
      } : (pid, tid, baseTs, buf, start, stop) => {
        // Only while one thread makes calls and its events go out as they are made (order not windowed): nothing to
        // merge; and while the in-flight bound would drop none of its calls: below its limits, nothing dropped in flight.
        if (!treeLines || tid !== firstTid || order.windowed || inFlight.dropping(tid)) return undefined;
        order.drain();
        const r = treeLines.chunk(pid, tid, baseTs, buf, start, stop, Math.min(IN_FLIGHT_MAX, Math.floor(IN_FLIGHT_BYTES / maxEntryBytes)));
        if (r && r.rows) {
          threads.add(tid);
          if (r.lastTs > lastTs) lastTs = r.lastTs;
          // The bound takes over the thread's calls left open (they count for the calls after them).
          const open = events!.openCalls(pid, tid), depths: number[] = [], fns: string[] = [], bytes: number[] = [];
          for (let i = 0; i < open.n; i++) {
            const s = sites[open.site[i]];
            depths.push(open.depth[i]), fns.push(s.function), bytes.push(entryBytes(s));
          }
          inFlight.setThread(tid, depths, fns, bytes);
        }
        return r;
      },
      header(h) {
        Object.assign(run, { command: h.command, pid: h.pid, startTs: h.startTs, startWallNs: h.startWallNs, overheadNs: h.overheadNs, nestedNs: h.nestedNs ?? null, modules: h.modules, mode: h.mode === 'fast' ? 'fast' : h.mode === 'trap' ? 'trap' : undefined });
        lastTs = h.startTs;
        built = buildViews(fd, columns ? { ...v, filters: NO_FILTERS } : v, run, { live: false, headline });
        settleWith(built.settle);
        if (columns) summary = new ColumnSummary((built.view as SummaryView).summary, v.rawDurations ? null : run.overheadNs, IN_FLIGHT_MAX, run.nestedNs);
        else if (built.tree && built.view === built.tree && built.tree.plainLines) {
          treeLines = new (require('../../record/tree-lines') as typeof import('../../record/tree-lines')).ColumnTree(built.sink, built.tree, v.nargs);
        }
        for (const fb of h.fallbacks) {
          const m = `in trap mode, not fast: ${fb.function}: ${fb.reason}`;
          view().note({ type: 'fallback', message: m, ts: h.startTs }, m);
        }
      },
      sites(added, all) {
        sites = all;
        for (const s of added) maxEntryBytes = Math.max(maxEntryBytes, entryBytes(s));
        if (summary) summary.sites(added);
        else if (!events) events = new CallEvents(all, bound);
        if (treeLines) {
          treeLines.events = events;
          treeLines.sites(added, all);
        }
      },
      calls(b) {
        threads.add(b.tid);
        const last = b.ts[b.length - 1];
        if (last > lastTs) lastTs = last;
        if (tids && !tids.has(b.tid)) return;
        // One thread for the first 2 windows of events: let through unheld, until a second thread comes.
        if (!firstTid) firstTid = b.tid;
        else if (b.tid !== firstTid) (order.windowed = true), (firstTid = -1);
        if (firstTid > 0 && order.windowed && (rows += b.length) > 2 * WINDOW) {
          order.drain();
          order.windowed = false;
        }
        events!.events(b, toOrder);
      },
      note(e) {
        const ts = typeof e.ts === 'number' ? e.ts : lastTs;
        if (ts > lastTs) lastTs = ts;
        // The live run's first note: the functions in trap mode (what the record's own `fallback` notes then repeat, one by one).
        if (e.type === 'fallbacks') for (const fb of (e.fallbacks ?? []) as { function: string; reason: string }[]) startFallbacks.add(`${fb.function}\0${fb.reason}`);
        if (e.type === 'fallback' && startFallbacks.has(`${e.function}\0${e.reason}`)) e = { ...e, start: true };
        if (summary) view().note(e, noteText(e));
        else order.push(ts, e);
      },
    });
  } catch (e) {
    // What the views have shown up to the damage goes out before the file closes (a flush timer finds nothing left).
    order.drain();
    (treeLines as import('../../record/tree-lines').ColumnTree | null)?.drain();
    (built as ReturnType<typeof buildViews> | null)?.sink.flush();
    throw e;
  }
  const end = rec.end;
  if (end) {
    lastTs = end.ts;
    if (end.status) exitStatus = end.status;
    // Calls still open at the end ended there: unwound by the detach, or by the process's end.
    const why = UNWIND_REASONS.indexOf(end.status?.detached ? 'detach' : 'exit');
    if (summary) (summary as ColumnSummary).endOpen(end.ts);
    else if (events) {
      (events as CallEvents).closeAll(end.ts, why, toOrder);
    }
  }
  order.drain();
  (treeLines as import('../../record/tree-lines').ColumnTree | null)?.drain();
  if (process.env.RETHOOK_TEST_CONTEXTS && treeLines) process.stderr.write(`rethook-test: ${(treeLines as import('../../record/tree-lines').ColumnTree).nativeChunks} chunks written by the addon\n`);
  const cs = summary as ColumnSummary | null;
  const open = cs ? cs.open : inFlight.open;
  const b = built as ReturnType<typeof buildViews> | null;
  if (rec.cut && b) {
    b.tree?.flushAll();
    b.sink.flush();
  }
  view().end({ endTs: lastTs, nmissed: new Map(Object.entries(end?.nmissed ?? {})), cut: rec.cut, status: exitStatus });
  if (rec.cut) {
    process.stderr.write(`rethook: ${escapeText(file)} was cut short (the tracer did not finish recording): shown up to its last complete event, ` +
      `${rec.events} events, ${formatDuration(Math.max(0, lastTs - run.startTs))} into the run; ${open} calls were in flight there\n`);
  }
  const dropped = cs ? cs.dropped : inFlight.dropped;
  if (dropped) {
    process.stderr.write(`rethook: ${escapeText(file)}: ${dropped} calls not shown: they began while ${IN_FLIGHT_MAX} calls ` +
      `(or ${IN_FLIGHT_BYTES >> 20} MiB of their entries) were in flight at once\n`);
  }
  if (rec.orphans) {
    process.stderr.write(`rethook: ${escapeText(file)}: ${rec.orphans} strings or extra fields with no call before them in their CALLS chunk not shown\n`);
  }
  const absent = (v.filters.tids ?? []).filter((t) => !threads.has(t));
  if (absent.length) {
    const known = [...threads].sort((a, b) => a - b);
    process.stderr.write(`rethook: ${escapeText(file)} has no calls of thread ${absent.join(', ')} ` +
      `(its threads: ${known.length ? known.slice(0, 20).join(', ') + (known.length > 20 ? ', ...' : '') : 'none, no calls recorded'})\n`);
    return 1;
  }
  return 0;
}
