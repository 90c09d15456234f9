// `rethook trace` (events shown as they happen, or summarized at the end) and
// `rethook record` (events written to a record file for report/replay/dump).
import * as fs from 'fs';
import * as path from 'path';
import { RethookError } from '../../errors';
import type { EntryContext, ExitContext } from '../../context';
import type { Hook } from '../../hook';
import { memoize } from '../../memo';
import { escapeText } from '../../symbols/text';
import type { ExitStatus, Tracer } from '../../tracer';
import { EndInfo, EntryEvent, ExitEvent, formatDuration, missedLine, monotonicNs, NoteEvent, RunInfo, View, wallNs } from '../../views/events';
import { IN_ORDER } from '../../views/event-json';
import { loadedModules, RECORD_VERSION } from '../../views/record';
import type { HookingArgs, Parsed, ViewingArgs } from '../args';
import { EventFields, NO_ARGS, renderArgs, renderRet, Sink, typeEntry, typeExit } from '../format';
import { entryParts } from '../../types/render';
import { ignoreAsCallerDid, onSignal } from '../../tracee/caller-signals';
import { buildViews, endOfRunLine, openOutput } from './views';

/** A call whose entry was written and whose exit was not yet. */
interface InFlight {
  pid: number;
  tid: number;
  function: string;
  depth: number;
  start: bigint;
}

/**
 * Attach, staying responsive: a thread blocked in vfork stops only when its
 * child execs or exits, so say so after a moment; Ctrl-C or SIGTERM while
 * waiting gives up (nothing was changed in the process yet).
 */
async function attachResponsively(pid: number, followForks: boolean, maxActive: number): Promise<Tracer> {
  // One listener from now to the end, so that no Ctrl-C ever falls between
  // two of them: it gives up while attaching, is noted until the hooks are
  // planted, then detaches (see `interruptAttached`).
  onSignal('SIGINT', () => onAttachedInterrupt());
  onSignal('SIGTERM', () => onAttachedInterrupt());
  onAttachedInterrupt = () => {
    process.stderr.write(`rethook: gave up attaching to process ${pid}\n`);
    process.exit(1); // the exit guard lets go of every thread seized so far
  };
  const note = setTimeout(() => process.stderr.write(`rethook: waiting for process ${pid} to stop: ${whyNotStopped(pid)}\n`), 500);
  try {
    return await tracerClass().attach(pid, { maxActive, followForks });
  } finally {
    clearTimeout(note);
    onAttachedInterrupt = () => void (interruptedEarly = true);
  }
}

let onAttachedInterrupt: () => void = () => undefined;
let interruptedEarly = false;

/** Attached and hooked: from now on Ctrl-C and SIGTERM detach (at once, if one came meanwhile). */
function interruptAttached(leave: () => void): void {
  onAttachedInterrupt = leave;
  if (interruptedEarly) leave();
}

/** Loaded only to trace: --help, --version and usage errors never load the native addon. */
/** Send `sig` to `pid`, which may have ended meanwhile (ESRCH: there is no one to tell). */
function signalIfThere(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function tracerClass(): typeof Tracer {
  return (require('../../tracer') as typeof import('../../tracer')).Tracer;
}

/** Why threads of `pid` take long to stop (read from /proc). */
function whyNotStopped(pid: number): string {
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const wchan = fs.readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8');
      if (/vfork|kernel_clone/.test(wchan)) return `thread ${t} is blocked in vfork until its child execs or exits (Ctrl-C gives up)`;
    }
  } catch {
    /* gone meanwhile, or not readable */
  }
  return 'a thread is blocked in the kernel (Ctrl-C gives up)';
}

/** A function's address in hex, made once per address: a double's toString(16) is slow, and runs at every entry. */
const addressHex = memoize((a: number) => '0x' + a.toString(16));

/**
 * A call's entry as the views take it. `fields` says what the listening views
 * read: 'all' (JSON lines, records, chrome: every field) or 'text' (the tree,
 * summaries: no typed JSON `argv`, and the raw `args` only when the function
 * has no known signature; the tree shows the typed values from what the event
 * keeps for its text). Leaving them out is a tenth of the text's formatting.
 */
export function entryEvent(c: EntryContext, backtraces: boolean, fields: EventFields = 'all'): EntryEvent {
  const parts = entryParts(c);
  const o: EntryEvent = {
    type: 'entry', pid: c.pid, tid: c.tid, function: c.function, address: addressHex(c.address), depth: c.depth,
    args: fields === 'all' || !parts.values ? renderArgs(c) : NO_ARGS,
  } as EntryEvent;
  if (backtraces) {
    const bt = c.backtrace();
    o.backtrace = bt.frames.slice(1).map((f) => f.symbol);
    o.backtraceReliable = bt.reliable;
    if (bt.frames.some((f) => f.source)) (o as unknown as Record<string, unknown>).backtraceSources = bt.frames.slice(1).map((f) => f.source ?? null);
  }
  typeEntry(parts, o, fields === 'all');
  o.ts = Number(c.timestampNs);
  (o as { [IN_ORDER]?: true })[IN_ORDER] = true;
  return o;
}

/** A call's exit as the views take it (`fields` as for entryEvent: with 'text', no typed JSON `ret`). */
export function exitEvent(c: ExitContext, fields: EventFields = 'all'): ExitEvent {
  const o = {
    type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: renderRet(c), unwound: c.unwound, durationNs: Number(c.durationNs),
  } as ExitEvent;
  typeExit(c, o, fields === 'all');
  if (c.reason) o.reason = c.reason;
  if (c.inherited) o.inherited = true;
  o.ts = Number(c.timestampNs);
  (o as { [IN_ORDER]?: true })[IN_ORDER] = true;
  return o;
}

/** The command line of an attached process. */
function commandOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

export async function traceCommand(p: Parsed): Promise<number> {
  const h = p.hooking as HookingArgs;
  const recording = p.cmd === 'record';
  const v = p.viewing as ViewingArgs | null;
  const outName = recording ? (h.output ?? 'run.rethook') : v!.output;
  const fd = openOutput(outName);
  // The tracer's round trip, for the views that add durations up (and for records).
  // Fast mode's durations are the calls' own: nothing to subtract.
  const fastMode = h.mode === 'fast' || (h.mode === 'auto' && !h.backtrace);
  const wantsOverhead = !fastMode && (recording || (!v!.rawDurations && (v!.summary || v!.hist.length > 0 || v!.format === 'folded')));
  const calibration = wantsOverhead ? await (require('../../views/calibrate') as typeof import('../../views/calibrate')).calibrate() : null;
  const run: RunInfo = { command: h.program, pid: 0, startTs: monotonicNs(), startWallNs: wallNs(), overheadNs: calibration?.overheadNs ?? null };

  let sink: Sink;
  let view: View;
  let fields: EventFields = 'all';
  let tree: { flushAll(): void } | null = null;
  let calls = 0;
  let status: ExitStatus | null = null;
  const endLine = () => endOfRunLine(calls, hookRef?.nmissed ?? 0, monotonicNs() - run.startTs, status);
  let hookRef: Hook | null = null;
  if (recording) {
    sink = new Sink(fd);
    const { JsonView } = await import('../../views/jsonl');
    view = new JsonView(sink);
  } else {
    const built = buildViews(fd, v!, run, { live: true, headline: () => endLine() });
    sink = built.sink;
    view = built.view;
    fields = built.fields;
    tree = built.tree;
  }

  // Spawned: from the fork on, a Ctrl-C (which reaches the program too) must
  // not end us by its default action before our listener below is in place
  // (a slow machine took more than half a second to get there): one listener
  // from now on; what came meanwhile is handled once the tracer exists.
  let onSpawnedInterrupt: () => void = () => void (spawnInterrupted = true);
  let spawnInterrupted = false;
  if (h.attachPid === null) onSignal('SIGINT', () => onSpawnedInterrupt());

  let tracer: Tracer;
  try {
    tracer = h.attachPid !== null ? await attachResponsively(h.attachPid, h.followForks, h.maxActive)
      : await tracerClass().spawn(h.program[0], h.program.slice(1), {
          maxActive: h.maxActive,
          followForks: h.followForks,
          detachOnInterrupt: h.detachOnExit,
        });
  } catch (e) {
    // The program ended during its startup (killed, say): that is its exit status, not an error of ours.
    const st = (e as { status?: ExitStatus }).status;
    if (!st) throw e;
    run.pid = st.pid;
    if (recording) writeHeader(sink, run, h, []);
    return ended(st);
  }
  run.pid = tracer.pid;
  if (h.attachPid !== null) run.command = commandOf(h.attachPid);
  if (recording) writeHeader(sink, run, h, loadedModules(tracer.pid));

  const pids = new Set<number>([tracer.pid]);
  /** The traced processes not seen to exit: a pid seen to exit may be another process's now, and is never signalled. */
  const live = new Set<number>([tracer.pid]);
  const note = (e: NoteEvent, text: string) => view.note(e, text);
  tracer.onProcess((e) => {
    const ts = Number(e.timestampNs);
    if (e.type === 'exit') live.delete(e.pid);
    if (e.type === 'fork') {
      pids.add(e.pid);
      live.add(e.pid);
      note({ type: 'fork', pid: e.pid, parent: e.parent, ts }, '');
    } else if (e.type === 'exec') {
      let file = '';
      try {
        file = fs.readlinkSync(`/proc/${e.pid}/exe`);
      } catch {
        /* gone */
      }
      note({ type: 'exec', pid: e.pid, file, ts }, '');
    } else if (e.pid !== tracer.pid) {
      note({ type: 'process-exit', pid: e.pid, code: e.code, signal: e.signal, ts }, '');
    }
  });

  // Calls in flight per thread (entries whose exit is not written yet): on
  // detach they end in the output as unwound with reason 'detach'.
  const inflight = new Map<number, InFlight[]>();
  let hook: Hook;
  try {
    hook = hookRef = tracer.hook(h.patterns, {
      returnMode: h.returnMode,
      mode: fastMode ? 'fast' : 'trap',
      // Fast mode copies C string arguments at the call: the output shows what the call saw.
      ...(fastMode ? { capture: { strings: 'auto' as const } } : {}),
      ...(h.prototypes ? { prototypes: h.prototypes } : {}),
      onEntry: (ctx) => {
        calls++;
        view.entry(entryEvent(ctx, h.backtrace, fields));
        let st = inflight.get(ctx.tid);
        if (!st) inflight.set(ctx.tid, (st = []));
        st.push({ pid: ctx.pid, tid: ctx.tid, function: ctx.function, depth: ctx.depth, start: ctx.timestampNs });
      },
      onExit: (ctx) => {
        view.exit(exitEvent(ctx, fields));
        const st = inflight.get(ctx.tid);
        while (st?.length && st[st.length - 1].depth >= ctx.depth) st.pop();
        if (st && !st.length) inflight.delete(ctx.tid);
      },
    });
  } catch (e) {
    const st = (e as { status?: ExitStatus }).status;
    if (st) return ended(st); // it ended before it could be hooked
    if ((e as { dying?: boolean }).dying) return ended(await tracer.run()); // it is ending now
    if (h.attachPid !== null) await tracer.detach();
    else tracer.kill();
    throw e;
  }
  // Refusals and damaged objects: those known now, then (at exit) those found as objects were loaded.
  let refusedShown = 0, warningsShown = 0, fellBackShown = 0;
  const showNotes = () => {
    for (; fellBackShown < hook.fellBack.length; fellBackShown++) {
      const m = `in trap mode, not fast: ${hook.fellBack[fellBackShown]}`;
      note({ type: 'fallback', message: m }, m);
    }
    for (; refusedShown < hook.refused.length; refusedShown++) note({ type: 'refused', message: hook.refused[refusedShown] }, hook.refused[refusedShown]);
    for (; warningsShown < hook.warnings.length; warningsShown++) note({ type: 'warning', message: hook.warnings[warningsShown] }, hook.warnings[warningsShown]);
  };
  showNotes();
  // The output closed (`| head`): stop writing, let the program go untraced
  // and run to its end; we exit with its status, saying nothing.
  let released: Promise<ExitStatus> | null = null;
  sink.onClosed = () => {
    if (released) return;
    released = tracer.waitReleased();
    void tracer.detach();
  };
  if (h.attachPid !== null) {
    // Attached: Ctrl-C and SIGTERM end tracing, never the process.
    interruptAttached(() => void tracer.detach());
  } else if (h.detachOnExit) {
    // Ctrl-C reaches the program too, where the tracer swallows it and
    // detaches; a SIGINT sent to us alone detaches a moment later.
    onSpawnedInterrupt = () => void setTimeout(() => void tracer.detach(), 200);
    onSignal('SIGTERM', () => void tracer.detach());
    if (spawnInterrupted) onSpawnedInterrupt();
  } else {
    // Ctrl-C reaches the program too (same process group): let it decide,
    // and end it on a second one. SIGTERM to us is passed on.
    let interrupts = 0;
    onSpawnedInterrupt = () => {
      if (++interrupts > 1) tracer.kill();
    };
    // Once the program has exited, to the children of it still traced (--follow-fork).
    onSignal('SIGTERM', () => {
      const to = live.has(tracer.pid) ? [tracer.pid] : [...live];
      for (const pid of to) signalIfThere(pid, 'SIGTERM');
    });
    // One that came while it started may have come before its fork: it gets
    // one now (still stopped, it has not run: a second SIGINT merges with a pending one).
    if (spawnInterrupted) {
      interrupts++;
      signalIfThere(tracer.pid, 'SIGINT');
    }
  }

  let st: ExitStatus;
  try {
    st = await tracer.run();
  } finally {
    sink.flush();
  }
  tracer.onProcess(null);
  showNotes();
  if (st.detached) {
    const now = process.hrtime.bigint();
    for (const list of inflight.values()) {
      for (const c of list.reverse()) {
        view.exit({
          type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: null, unwound: true,
          durationNs: Number(now - c.start), reason: 'detach', ts: Number(now),
        });
      }
    }
    inflight.clear();
  }
  if (released) st = await released;
  if (hook.nmissed > 0) {
    const reasons = Object.fromEntries(hook.nmissedByReason);
    note({ type: 'missed', nmissed: hook.nmissed, maxActive: h.maxActive, reasons }, missedLine(hook.nmissed, reasons, h.maxActive));
  }
  return ended(st, hook);

  /** The program's end, written and turned into our exit code. */
  function ended(s: ExitStatus, hk?: Hook): number {
    status = s;
    if (!s.detached) view.note({ type: 'process-exit', pid: s.pid, code: s.code, signal: s.signal }, '');
    const info: EndInfo = { endTs: monotonicNs(), nmissed: new Map(hk?.nmissedByFunction ?? []), cut: false, status: s };
    view.end(info);
    if (recording) {
      sink.write(JSON.stringify({
        type: 'end', ts: info.endTs, pids: [...pids], calls, nmissed: Object.fromEntries(info.nmissed),
        functions: hk?.functions ?? [], status: s,
      }) + '\n');
      sink.flush();
      if (process.stderr.isTTY) process.stderr.write(`${endLine()}; recorded in ${outName}\n`);
    } else if (tree && !v!.summary && !v!.hist.length && v!.format === 'text' && require('tty').isatty(fd)) {
      tree.flushAll();
      sink.write(endLine() + '\n');
      sink.flush();
    }
    sink.flush(); // what the end wrote (detach lines among them) goes out before the file closes
    if (fd !== 2) fs.closeSync(fd);
    // Patterns that never matched anything, and why: one line each.
    for (const u of hk?.unmatched ?? []) process.stderr.write(`rethook: -f '${escapeText(u.pattern)}' never matched: ${escapeText(u.reason)}\n`);
    // A program killed by a signal: say so, as a shell would (SIGINT and SIGPIPE are not news).
    if (s.signal && s.signal !== 'SIGINT' && s.signal !== 'SIGPIPE') {
      process.stderr.write(`rethook: process ${s.pid} was killed by ${s.signal}\n`);
    }
    if (s.detached) return 0;
    if (s.signal) {
      const n = require('os').constants.signals[s.signal] as number;
      return 128 + n;
    }
    return s.code ?? 0;
  }
}

function writeHeader(sink: Sink, run: RunInfo, h: HookingArgs, modules: { pid: number; path: string; start: string }[]): void {
  sink.write(JSON.stringify({
    type: 'rethook-record', version: RECORD_VERSION, command: run.command, pid: run.pid, attached: h.attachPid !== null, arch: process.arch,
    startTs: run.startTs, startWallNs: run.startWallNs, overheadNs: run.overheadNs, patterns: h.patterns, modules,
    cwd: process.cwd(), tool: `rethook ${require('../../../package.json').version}`,
  }) + '\n');
  // The header reaches the file at once: even a record cut right away says what it was.
  sink.flush();
}


