// `rethook trace` (events shown as they happen, or summarized at the end) and
// `rethook record` (events written to a record file for report/replay/dump):
// options become a Tracer and its hook, and the hook's calls go to the views.
import * as fs from 'fs';
import type { Hook, HookHandlers } from '../../hook';
import type { EntryContext, ExitContext } from '../../context';
import { commandOf, exeOf } from '../../symbols/procfs';
import type { ExitStatus, Tracer } from '../../tracer';
import type { EntryEvent, NoteEvent } from '../../events';
import { EndInfo, missedLine, monotonicNs, RunInfo, View, wallNs } from '../../views/view';
import { entryEvent, EventFields, exitEvent, FLUSH_AFTER_MS, Sink } from '../../views/format';
import { JsonView } from '../../views/jsonl';
import { loadedModules } from '../../views/record';
import type { RecordHeaderV2, RecordOutput, RecordWriter } from '../../record/write';
import type { ColumnSummary } from '../../record/aggregate';
import type { LiveRecordReader } from '../../record/live';
import type { Summary } from '../../views/summary';
import type { SummaryView } from '../../views/report';
import type { TreeView } from '../../views/tree';
import { hasFilters, NO_FILTERS } from '../../views/filters';
import { IN_FLIGHT_MAX } from '../../views/record';
import { HookingArgs, hookMode, Parsed, ViewingArgs } from '../args';
import { attachResponsively, Interrupts } from '../interrupts';
import { buildViews, endOfRun, endOfRunLine, hookNotes, openOutput, sessionFallbacks } from './views';
import type { Fallback } from '../../views/fallbacks';
import { InFlight } from '../../views/in-flight';

/** Loaded only to trace: --help, --version and usage errors never load the native addon. */
const tracerClass = (): typeof Tracer => (require('../../tracer') as typeof import('../../tracer')).Tracer;

export async function traceCommand(p: Parsed): Promise<number> {
  const h = p.hooking as HookingArgs;
  const recording = p.cmd === 'record';
  const v = p.viewing as ViewingArgs | null;
  const outName = recording ? (h.output ?? 'run.rethook') : v!.output;
  const fd = openOutput(outName);
  // The tracer's round trip, for the views that add durations up (and for records); fast mode's durations are the calls' own.
  const mode = hookMode(h);
  const fastMode = mode === 'fast';
  const wantsOverhead = !fastMode && (recording || (!v!.rawDurations && (v!.summary || v!.hist.length > 0 || v!.format === 'folded' || v!.format === 'pprof')));
  const calibration = wantsOverhead ? await (require('../../views/calibrate') as typeof import('../../views/calibrate')).calibrate() : null;
  const run: RunInfo = { command: h.program, pid: 0, startTs: monotonicNs(), startWallNs: wallNs(), overheadNs: calibration?.overheadNs ?? null, nestedNs: calibration?.nestedNs ?? null, mode: fastMode ? 'fast' : 'trap' };
  let calls = 0;
  let status: ExitStatus | null = null;
  let hook: Hook | null = null;
  const endLine = () => endOfRunLine(calls, hook?.nmissed ?? 0, monotonicNs() - run.startTs, status);
  // The summary and histograms alone, with no filter but --tid: made from a record written in memory
  // (lib/record/live.ts), as `report` makes them, with no object per call. Followed forks' inherited calls
  // are counted only by the event path (views/in-flight.ts), so those runs take it.
  const f = v?.filters;
  const columns = !recording && !v!.html && v!.otlp === undefined && (v!.summary || v!.hist.length > 0) && !h.followForks
    && f!.minDurationNs === null && f!.maxDepth === null && f!.callers === null && f!.limit === null;
  const built = recording ? null : buildViews(fd, columns ? { ...v!, filters: NO_FILTERS } : v!, run, { live: true, headline: endLine });
  const fromColumns = columns ? liveSummary((built!.view as SummaryView).summary, v!.rawDurations ? null : run, f!.tids) : null;
  const sink = built?.sink ?? new Sink(fd);
  // JSON lines, or the tree to a file or a pipe (no colors or time column), in fast mode, with no filter, backtrace
  // or followed fork: written from a record written in memory too (lib/record/json-lines.ts, tree-lines.ts), as
  // `record` + `dump --format json` or `replay` write them, with no object per call.
  const linesFromRecord = !recording && fastMode && !v!.summary && !v!.hist.length && !v!.html && v!.otlp === undefined
    && !h.followForks && !h.backtrace && !hasFilters(f!);
  const lineColumns = linesFromRecord && v!.format === 'json' ? liveLines(sink, null, v!.nargs)
    : linesFromRecord && built?.tree && built.view === built.tree && built.tree.plainLines ? liveLines(sink, built.tree, v!.nargs) : null;
  // A record (format version 3, lib/record/write.ts): its writer, made once the program's pid is known; notes go into it.
  let writer: RecordWriter | null = null;
  const view: View = built?.view ?? (recording ? recordNotes(() => writer) : new JsonView(sink));
  const fields: EventFields = built?.fields ?? 'all';
  // (The calls written before a note go out before it.)
  const note = (e: NoteEvent, text: string) => {
    if (lineColumns) toLines();
    view.note(e, text);
  };
  /** The calls written so far into the record in memory, out to the view. */
  const toLines = () => {
    writer?.flush();
    lineColumns!.lines.drain();
  };
  const tool = `rethook ${require('../../../package.json').version}`;

  const interrupts = new Interrupts(h.attachPid);
  let tracer: Tracer;
  try {
    tracer = h.attachPid !== null ? await attachResponsively(tracerClass(), h.attachPid, { maxActive: h.maxActive, followForks: h.followForks }, interrupts)
      : await tracerClass().spawn(h.program[0], h.program.slice(1), { maxActive: h.maxActive, followForks: h.followForks, detachOnInterrupt: h.detachOnExit });
  } catch (e) {
    // The program ended during its startup (killed, say): that is its exit status, not an error of ours.
    const st = (e as { status?: ExitStatus }).status;
    if (!st) throw e;
    run.pid = st.pid;
    if (recording) writer = startRecord(fd, run, false, h.patterns, [], tool);
    return settled(ended(st));
  }
  run.pid = tracer.pid;
  if (h.attachPid !== null) run.command = commandOf(h.attachPid);
  // Even a record cut right away says what it was: its header is written at once (the functions in trap mode follow as a note, once hooked).
  const modules = recording || v!.format === 'pprof' ? loadedModules(tracer.pid) : [];
  if (recording) writer = startRecord(fd, run, h.attachPid !== null, h.patterns, modules, tool);
  else if (fromColumns) writer = startRecord(fromColumns.reader.take, run, h.attachPid !== null, h.patterns, [], tool, true);
  else if (lineColumns) {
    writer = startRecord(lineColumns.take, run, h.attachPid !== null, h.patterns, [], tool);
    writer.liveValues = true;
    writer.liveText = v!.format !== 'json'; // the tree's
  }
  // A followed fork child's record stream opens with the calls it inherited (trap mode's: those the writer encodes).
  if (recording && h.followForks) writer!.followForks();
  if (!recording && v!.format === 'pprof') run.modules = modules;
  const pids = new Set<number>([tracer.pid]);
  const inflight = new InFlight();
  /** The traced processes not seen to exit: a pid seen to exit may be another process's now, and is never signalled. */
  const live = new Set<number>([tracer.pid]);
  /** Followed fork children whose first event has not come yet: what they inherited in flight, and when. */
  const inheriting = new Map<number, { calls: EntryEvent[]; ts: number }>();
  /** Before a child's first call event: the calls it inherited open its stream. */
  const opening = (pid: number) => {
    const from = inheriting.get(pid);
    if (!from) return;
    inheriting.delete(pid);
    inflight.openInherited(pid, from.calls, from.ts, view);
  };
  tracer.onProcess((e) => {
    const ts = Number(e.timestampNs);
    if (e.type === 'fork') {
      const calls = inflight.stackOf(e.parentTid);
      if (calls.length) inheriting.set(e.pid, { calls, ts });
      if (recording) writer?.forked(e.parentTid, e.pid, ts);
    }
    if (e.type === 'exit') live.delete(e.pid);
    if (e.type === 'fork') [pids, live].forEach((set) => set.add(e.pid));
    if (e.type === 'fork') note({ type: 'fork', pid: e.pid, parent: e.parent, ts }, '');
    else if (e.type === 'exec') note({ type: 'exec', pid: e.pid, file: exeOf(e.pid), ts }, '');
    else if (e.pid !== tracer.pid) note({ type: 'process-exit', pid: e.pid, code: e.code, signal: e.signal, ts }, '');
  });

  /** The per-call path: each call's contexts made into events for the views. */
  const perCall = {
    onEntry: (ctx: EntryContext) => {
      calls++;
      if (inheriting.size) opening(ctx.pid);
      const ev = entryEvent(ctx, h.backtrace, fields);
      view.entry(ev);
      inflight.entered(ctx, ev);
    },
    onExit: (ctx: ExitContext) => {
      if (inheriting.size) opening(ctx.pid);
      view.exit(exitEvent(ctx, fields));
      inflight.exited(ctx);
    },
  };
  try {
    hook = tracer.hook(h.patterns, {
      returnMode: h.returnMode,
      mode,
      // A name found in no object yet may be in one loaded later (dlopen): kept, and named at the end if it never matched.
      unmatched: 'wait',
      // Fast mode copies C string arguments at the call: the output shows what the call saw.
      ...(fastMode ? { capture: { strings: 'auto' as const } } : {}),
      ...(h.prototypes ? { prototypes: h.prototypes } : {}),
      ...(h.stringMax !== undefined ? { stringMax: h.stringMax } : {}),
      // A record's hook only records: fast mode then writes its rings into the record with no object per call.
      ...(writer ? recorder(writer, recording || lineColumns !== null, h.backtrace && recording, recording ? modules : [], lineColumns ? perCall : null) : perCall),
    });
  } catch (e) {
    const st = (e as { status?: ExitStatus }).status;
    if (st) return settled(ended(st)); // it ended before it could be hooked
    if ((e as { dying?: boolean }).dying) return settled(ended(await tracer.run())); // it is ending now
    if (h.attachPid !== null) await tracer.detach();
    else tracer.kill();
    throw e;
  }
  const hk = hook;
  // Every output starts by saying how calls are caught and which functions are in trap mode, and why
  // (asked for trap mode, nothing is in it instead of fast: the stream starts with the calls, as it always has).
  const fallbacks = sessionFallbacks(h, hk);
  if (h.mode !== 'trap') note({ type: 'fallbacks', mode, fallbacks }, '');
  // Refusals and damaged objects: those known now, then (at exit) those found as objects were loaded.
  const showNotes = hookNotes(hk, note);
  showNotes(true);
  // The output closed (`| head`): stop writing, let the program go untraced and run to its end; we exit with its status.
  let released: Promise<ExitStatus> | null = null;
  sink.onClosed = () => {
    if (released) return;
    released = tracer.waitReleased();
    // Live JSON's lines are written while the writer hands a buffer out: the detach (which drains the rings into it) waits until that is done.
    if (lineColumns) queueMicrotask(() => void tracer.detach());
    else void tracer.detach();
  };
  interrupts.hooked(tracer, h.attachPid !== null ? 'attached' : h.detachOnExit ? 'detach-on-exit' : 'started', live);

  // A slow run's record is written out every second too: a killed recorder loses at most that (or its last buffer).
  // Live JSON's, every FLUSH_AFTER_MS as the sink's (what a drain wrote: all threads' calls up to then).
  const flusher = writer && recording ? setInterval(() => writer!.flush(), 1000)
    : writer && lineColumns ? setInterval(() => (writer!.flush(), lineColumns.lines.buffered()), FLUSH_AFTER_MS) : null;
  flusher?.unref();
  let st: ExitStatus;
  try {
    st = await tracer.run();
  } finally {
    if (flusher) clearInterval(flusher);
    sink.flush();
  }
  tracer.onProcess(null);
  showNotes();
  if (st.detached) inflight.endAll(view);
  // The calls still open end here, as `dump` ends them at the record's end.
  if (lineColumns) {
    writer?.flush();
    lineColumns.lines.closeAll(monotonicNs(), st.detached ? 'detach' : 'exit');
  }
  if (released) st = await released;
  if (hk.nmissed > 0) {
    const reasons = Object.fromEntries(hk.nmissedByReason);
    note({ type: 'missed', nmissed: hk.nmissed, maxActive: h.maxActive, reasons }, missedLine(hk.nmissed, reasons, h.maxActive));
  }
  return settled(ended(st, hk));

  /** The exit code, once what the views send after the end (--otlp's last spans) went out: the program has ended, nothing waits for it but us. */
  async function settled(code: number): Promise<number> {
    await built?.settle();
    return code;
  }

  /** The program's end, written and turned into our exit code. */
  function ended(s: ExitStatus, hk?: Hook): number {
    status = s;
    if (lineColumns) {
      toLines();
      if (writer) calls += writer.calls; // (a goroutine's calls took the per-call path)
    }
    if (!s.detached) view.note({ type: 'process-exit', pid: s.pid, code: s.code, signal: s.signal }, '');
    const info: EndInfo = { endTs: monotonicNs(), nmissed: new Map(hk?.nmissedByFunction ?? []), cut: false, status: s };
    if (fromColumns && writer) {
      // The calls written since the last full buffer, then those still open, ended at the end (as report does).
      writer.flush();
      fromColumns.columns.endOpen(info.endTs);
      calls = writer.calls;
    }
    if (process.env.RETHOOK_TEST_CONTEXTS) process.stderr.write(`rethook-test: ${(require('../../context') as typeof import('../../context')).contextsMade.entries} entry contexts\n`);
    view.end(info);
    if (recording) {
      calls = writer!.calls;
      writer!.end({ ts: info.endTs, pids: [...pids], calls, nmissed: Object.fromEntries(info.nmissed), functions: hk?.functions ?? [], status: s });
      if (process.stderr.isTTY) process.stderr.write(`${endLine()}; recorded in ${outName}\n`);
    } else if (built?.tree && !v!.summary && !v!.hist.length && v!.format === 'text' && require('tty').isatty(fd)) {
      built.tree.flushAll();
      sink.write(endLine() + '\n');
    }
    sink.flush(); // what the end wrote (detach lines among them) goes out before the file closes
    if (fd !== 2) fs.closeSync(fd);
    return endOfRun(s, hk?.unmatched ?? []);
  }
}

/** A live summary's own record reader, feeding the summary from the columns (lib/record/aggregate.ts); --tid keeps its threads' calls. */
function liveSummary(summary: Summary, overhead: Pick<RunInfo, 'overheadNs' | 'nestedNs'> | null, tids: readonly number[] | null): { reader: LiveRecordReader; columns: ColumnSummary } {
  const { ColumnSummary } = require('../../record/aggregate') as typeof import('../../record/aggregate');
  const { LiveRecordReader } = require('../../record/live') as typeof import('../../record/live');
  const columns = new ColumnSummary(summary, overhead?.overheadNs ?? null, IN_FLIGHT_MAX, overhead?.nestedNs ?? null);
  const only = tids ? new Set(tids) : null;
  const reader = new LiveRecordReader({
    sites: (added) => columns.sites(added),
    callsChunk: (_pid, tid, baseTs, buf, start, end, at) => columns.chunk(buf, start, end, at, tid, baseTs, !only || only.has(tid)),
    calls: (b) => {
      if (!only || only.has(b.tid)) columns.batch(b);
    },
  });
  return { reader, columns };
}

/** Live JSON lines' (tree: the tree's) own record reader, writing each decoded buffer's calls (lib/record/json-lines.ts, tree-lines.ts). */
function liveLines(sink: Sink, tree: TreeView | null, nargs: number): { take: (b: Buffer) => void; lines: LiveLines } {
  const { LiveRecordReader } = require('../../record/live') as typeof import('../../record/live');
  const lines: LiveLines = tree ? new (require('../../record/tree-lines') as typeof import('../../record/tree-lines')).ColumnTree(sink, tree, nargs)
    : new (require('../../record/json-lines') as typeof import('../../record/json-lines')).ColumnJson(sink);
  const reader = new LiveRecordReader(lines.handlers);
  return {
    take: (b) => {
      reader.take(b);
      lines.buffered();
    },
    lines,
  };
}

/** What writes lines from a record written in memory (ColumnJson, ColumnTree). */
interface LiveLines {
  readonly handlers: import('../../record/read').RecordHandlers;
  buffered(): void;
  drain(): void;
  closeAll(ts: number, reason: 'detach' | 'exit'): void;
}

/** A record's header written at once (lib/record/write.ts): its writer, on `fd` (or to a consumer). */
function startRecord(fd: RecordOutput, run: RunInfo, attached: boolean, patterns: readonly string[], modules: RecordHeaderV2['modules'], tool: string, timesOnly = false): RecordWriter {
  const { RecordWriter } = require('../../record/write') as typeof import('../../record/write');
  const fastMode = run.mode === 'fast';
  const nsPerTick = fastMode ? (require('../../fast/clock') as typeof import('../../fast/clock')).Clock.shared().factors[3] : 1;
  return new RecordWriter(fd, {
    command: run.command, pid: run.pid, attached, arch: process.arch, startTs: run.startTs, startWallNs: run.startWallNs,
    overheadNs: run.overheadNs, nestedNs: run.nestedNs ?? null, mode: run.mode ?? 'trap', patterns, modules, cwd: process.cwd(), tool,
    fallbacks: [], // known once hooked: `fallback` notes follow
    clock: { source: fastMode ? (process.arch === 'arm64' ? 'cntvct' : 'tsc') : 'monotonic', nsPerTick },
  }, { timesOnly });
}

/** The hook's handlers of a record: every call into the writer, nothing else (lib/record/write.ts). */
function recorder(w: RecordWriter, values: boolean, backtrace: boolean, modules: RecordHeaderV2['modules'],
  goroutines: Pick<HookHandlers, 'onEntry' | 'onExit'> | null): Pick<HookHandlers, 'onEntry' | 'onExit'> {
  const { recordingHandlers } = require('../../record/write') as typeof import('../../record/write');
  const { arch } = require('../../native') as typeof import('../../native');
  // The object an address is in, by the modules the header lists (their first mapping; the last one below the address).
  const sorted = [...modules].sort((a, b) => Number(BigInt(a.start) - BigInt(b.start)));
  const moduleOf = (pid: number, address: number): string => {
    let best = '';
    for (const m of sorted) if (m.pid === pid && Number(BigInt(m.start)) <= address) best = m.path;
    return best;
  };
  return recordingHandlers(w, { backtrace, argRegs: arch.args.length, moduleOf, noReads: !values, goroutines });
}

/** A record's view: only its notes, each a NOTE chunk (calls go into the record by the hook itself). */
function recordNotes(writer: () => RecordWriter | null): View {
  return {
    entry: () => undefined,
    exit: () => undefined,
    note: (e: NoteEvent) => {
      const ts = (e as { ts?: number }).ts ?? monotonicNs();
      writer()?.note({ ...e, ts });
    },
    end: () => undefined,
  };
}
