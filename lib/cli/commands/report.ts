// `rethook report FILE` (the summary), `rethook replay FILE` (the call tree),
// `rethook dump FILE` (JSON lines, --chrome, --folded): views of a record,
// with the same filters as a live trace.
import * as fs from 'fs';
import type { EntryEvent, ExitEvent, NoteEvent, RunInfo } from '../../views/events';
import { formatDuration, missedLine } from '../../views/events';
import { readRecord } from '../../views/record';
import type { Parsed, ViewingArgs } from '../args';
import { buildViews, endOfRunLine, openOutput } from './views';

export function reportCommand(p: Parsed): number {
  const v = p.viewing as ViewingArgs;
  const file = p.file as string;
  // Replay shows the tree unless another view is asked for; report the summary; dump JSON lines.
  // The views of a record go to stdout (`rethook dump --chrome run.rethook > trace.json`), or -o FILE.
  const fd = v.output === undefined ? 1 : openOutput(v.output);
  const run: RunInfo = { command: [], pid: 0, startTs: 0, startWallNs: 0, overheadNs: null };
  let built: ReturnType<typeof buildViews> | null = null;
  let calls = 0, lastTs = 0;
  let exitStatus: { pid: number; code: number | null; signal: string | null; detached: boolean } | null = null;
  const inFlight = new Map<number, number>();
  const headline = () => endOfRunLine(calls, [...(rec?.end ? Object.values(rec.end.nmissed) : [])].reduce((a, b) => a + b, 0), lastTs - run.startTs, exitStatus);
  let rec: ReturnType<typeof readRecord> | null = null;
  rec = readRecord(file, (h) => {
    Object.assign(run, { command: h.command, pid: h.pid, startTs: h.startTs, startWallNs: h.startWallNs, overheadNs: h.overheadNs });
    built = buildViews(fd, v, run, { live: false, headline });
  }, (e) => {
    const view = built!.view;
    if (typeof e.ts === 'number') lastTs = Math.max(lastTs, e.ts);
    if (e.type === 'entry') {
      calls++;
      inFlight.set((e as EntryEvent).tid, (inFlight.get((e as EntryEvent).tid) ?? 0) + 1);
      view.entry(e as EntryEvent);
    } else if (e.type === 'exit') {
      const t = (e as ExitEvent).tid;
      if (inFlight.get(t)) inFlight.set(t, inFlight.get(t)! - 1);
      view.exit(e as ExitEvent);
    } else {
      if (e.type === 'process-exit' && !('ts' in e)) exitStatus = { pid: e.pid as number, code: e.code as number | null, signal: e.signal as string | null, detached: false };
      const text = e.type === 'missed' || e.type === 'refused' || e.type === 'warning' ? String(e.message ?? missedLine(Number(e.nmissed), (e.reasons ?? {}) as Record<string, number>, Number(e.maxActive))) : '';
      view.note(e as NoteEvent, text);
    }
  });
  const end = rec.end;
  if (end) {
    lastTs = end.ts;
    if (end.status) exitStatus = end.status;
  }
  const open = [...inFlight.values()].reduce((a, b) => a + b, 0);
  if (rec.cut && built) {
    (built as ReturnType<typeof buildViews>).tree?.flushAll();
    (built as ReturnType<typeof buildViews>).sink.flush();
  }
  built!.view.end({ endTs: lastTs, nmissed: new Map(Object.entries(end?.nmissed ?? {})), cut: rec.cut, status: exitStatus });
  if (fd > 2) fs.closeSync(fd);
  if (rec.cut) {
    process.stderr.write(`rethook: ${file} was cut short (the tracer did not finish recording): shown up to its last complete event, ` +
      `${rec.events} events, ${formatDuration(Math.max(0, lastTs - run.startTs))} into the run; ${open} calls were in flight there\n`);
  }
  return 0;
}
