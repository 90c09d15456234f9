// `rethook report FILE` (the summary), `rethook replay FILE` (the call tree),
// `rethook dump FILE` (JSON lines, --chrome, --folded): views of a record,
// with the same filters as a live trace.
import * as fs from 'fs';
import type { EntryEvent, ExitEvent, NoteEvent, RunInfo } from '../../views/events';
import { formatDuration, missedLine } from '../../views/events';
import { IN_FLIGHT_BYTES, IN_FLIGHT_MAX, InFlightBound, LINE_MAX, readRecord } from '../../views/record';
import { escapeText } from '../../symbols/text';
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
    return showViews(p.file as string, v, fd, (s) => (after.settle = s));
  } finally {
    if (fd > 2) fs.closeSync(fd); // closed on a bad record too
  }
}

function showViews(file: string, v: ViewingArgs, fd: number, settleWith: (s: () => Promise<void>) => void): number {
  const run: RunInfo = { command: [], pid: 0, startTs: 0, startWallNs: 0, overheadNs: null };
  let built: ReturnType<typeof buildViews> | null = null;
  let calls = 0, lastTs = 0;
  // The threads that made calls: a --tid that names none of them is said, not shown as an empty view.
  const threads = new Set<number>();
  let exitStatus: { pid: number; code: number | null; signal: string | null; detached: boolean } | null = null;
  // What the views hold of calls that have not returned is bounded (a record of calls that never return).
  const inFlight = new InFlightBound();
  const headline = () => endOfRunLine(calls, [...(rec?.end ? Object.values(rec.end.nmissed) : [])].reduce((a, b) => a + b, 0), lastTs - run.startTs, exitStatus);
  let rec: ReturnType<typeof readRecord> | null = null;
  const inHeader = new Set<string>();
  try {
    rec = readRecord(file, (h) => {
      Object.assign(run, { command: h.command, pid: h.pid, startTs: h.startTs, startWallNs: h.startWallNs, overheadNs: h.overheadNs, modules: h.modules, mode: h.mode === 'fast' ? 'fast' : h.mode === 'trap' ? 'trap' : undefined });
      built = buildViews(fd, v, run, { live: false, headline });
      settleWith(built.settle);
      // The functions in trap mode, as the live run said them first (records before this field: none said).
      if (h.fallbacks && run.mode) built.view.note({ type: 'fallbacks', mode: run.mode, fallbacks: h.fallbacks }, '');
      for (const f of h.fallbacks ?? []) inHeader.add(`${f.function}\0${f.reason}`);
    }, (e, bytes) => {
      const view = built!.view;
      if (typeof e.ts === 'number') lastTs = Math.max(lastTs, e.ts);
      if (e.type === 'entry') {
        const en = e as EntryEvent;
        if (!en.inherited) calls++; // a fork child's inherited call was counted in its parent
        threads.add(en.tid);
        if (inFlight.entry(en.tid, en.depth, en.function, bytes)) view.entry(en);
        else if (inFlight.dropped === 1) {
          const m = `more than ${IN_FLIGHT_MAX} calls (or ${IN_FLIGHT_BYTES >> 20} MiB of their entries) in flight at once: calls that begin now are not shown until some return`;
          view.note({ type: 'warning', message: m }, m);
        }
      } else if (e.type === 'exit') {
        const ex = e as ExitEvent;
        if (inFlight.exit(ex.tid, ex.depth, ex.function)) view.exit(ex);
      } else {
        if (e.type === 'process-exit' && !('ts' in e)) exitStatus = { pid: e.pid as number, code: e.code as number | null, signal: e.signal as string | null, detached: false };
        const text = e.type === 'missed' || e.type === 'refused' || e.type === 'warning' ? String(e.message ?? missedLine(Number(e.nmissed), (e.reasons ?? {}) as Record<string, number>, Number(e.maxActive)))
          // A fallback found as an object was loaded (those found at the start are in the header's list).
          : e.type === 'fallback' && !inHeader.has(`${e.function}\0${e.reason}`) ? String(e.message) : '';
        view.note(e as NoteEvent, text);
      }
    });
  } catch (e) {
    // What the views have shown up to the bad line goes out before the file closes (a flush timer finds nothing left).
    (built as ReturnType<typeof buildViews> | null)?.sink.flush();
    throw e;
  }
  const end = rec.end;
  if (end) {
    lastTs = end.ts;
    if (end.status) exitStatus = end.status;
  }
  const open = inFlight.open;
  if (rec.cut && built) {
    (built as ReturnType<typeof buildViews>).tree?.flushAll();
    (built as ReturnType<typeof buildViews>).sink.flush();
  }
  built!.view.end({ endTs: lastTs, nmissed: new Map(Object.entries(end?.nmissed ?? {})), cut: rec.cut, status: exitStatus });
  if (rec.cut) {
    process.stderr.write(`rethook: ${escapeText(file)} was cut short (the tracer did not finish recording): shown up to its last complete event, ` +
      `${rec.events} events, ${formatDuration(Math.max(0, lastTs - run.startTs))} into the run; ${open} calls were in flight there\n`);
  }
  if (inFlight.dropped) {
    process.stderr.write(`rethook: ${escapeText(file)}: ${inFlight.dropped} calls not shown: they began while ${IN_FLIGHT_MAX} calls ` +
      `(or ${IN_FLIGHT_BYTES >> 20} MiB of their entries) were in flight at once\n`);
  }
  const absent = (v.filters.tids ?? []).filter((t) => !threads.has(t));
  if (absent.length) {
    const known = [...threads].sort((a, b) => a - b);
    process.stderr.write(`rethook: ${escapeText(file)} has no calls of thread ${absent.join(', ')} ` +
      `(its threads: ${known.length ? known.slice(0, 20).join(', ') + (known.length > 20 ? ', ...' : '') : 'none, no calls recorded'})\n`);
  }
  // Lines too long to be rethook's are a damaged file: shown without them, said, and not a success.
  if (rec.skipped.lines) {
    process.stderr.write(`rethook: ${escapeText(file)}: ${rec.skipped.lines} line${rec.skipped.lines > 1 ? 's' : ''} too long skipped ` +
      `(the first: line ${rec.skipped.first}; an event line may take ${LINE_MAX >> 20} MiB)\n`);
    return 1;
  }
  return absent.length ? 1 : 0;
}
