// The views a command writes, chosen from its options, behind the filters.
import * as fs from 'fs';
import * as os from 'os';
import * as tty from 'tty';
import type { Hook } from '../../hook';
import { escapeText } from '../../symbols/text';
import type { ExitStatus } from '../../tracer';
import { RethookError } from '../../errors';
import { colorEnabled, palette } from '../../views/colors';
import type { NoteEvent } from '../../events';
import { formatDuration, RunInfo, Tee, View } from '../../views/view';
import { Filter, hasFilters } from '../../views/filters';
import { JsonView } from '../../views/jsonl';
import { TreeView } from '../../views/tree';
import { HookingArgs, trapOptions, ViewingArgs } from '../args';
import type { Fallback } from '../../views/fallbacks';
import { EventFields, sharesTerminal, Sink } from '../../views/format';

// The views other than the default tree and JSON lines are loaded when asked
// for: their modules (OTLP's protobuf above all) would delay every start-up.
const views = {
  chrome: () => require('../../views/chrome') as typeof import('../../views/chrome'),
  html: () => require('../../views/html') as typeof import('../../views/html'),
  otlp: () => require('../../views/otlp') as typeof import('../../views/otlp'),
  perfetto: () => require('../../views/perfetto') as typeof import('../../views/perfetto'),
  pprof: () => require('../../views/pprof') as typeof import('../../views/pprof'),
  summary: () => require('../../views/report') as typeof import('../../views/report'),
};

/** The output file (created), or stderr. */
export function openOutput(name: string | undefined): number {
  if (name === undefined) return 2;
  try {
    return fs.openSync(name, 'w');
  } catch (e) {
    throw new RethookError(`cannot open ${name}: ${(e as NodeJS.ErrnoException).code}`, 'EOUTPUT');
  }
}

/** The short line at the end of a run: calls traced, missed, how long, how it ended. */
export function endOfRunLine(calls: number, missed: number, ns: number,
  status: { pid: number; code: number | null; signal: string | null; detached: boolean } | null): string {
  const how = !status ? '' : status.detached ? `; detached from process ${status.pid}`
    : status.signal ? `; process ${status.pid} killed by ${escapeText(status.signal)}` : `; process ${status.pid} exited with ${status.code}`;
  return `rethook: ${calls} calls traced, ${missed} missed, in ${formatDuration(Math.round(ns))}${how}`;
}

export interface Built {
  sink: Sink;
  /** Where events go: the filters, then the views. */
  view: View;
  /** The text tree, when it is one of the views. */
  tree: TreeView | null;
  /** What the views read of live events (entryEvent). */
  fields: EventFields;
  /** Resolves when what the views send on their own after the end (--otlp's last spans) is done. */
  settle: () => Promise<void>;
}

export function buildViews(fd: number, v: ViewingArgs, run: RunInfo, o: { live: boolean; headline: () => string }): Built {
  const aggregate = v.summary || v.hist.length > 0;
  // On a terminal the program writes to too, the tree is written event by event (see tree.ts).
  const sink = new Sink(fd, o.live && !aggregate && v.format === 'text' && sharesTerminal(fd));
  const colors = palette(colorEnabled(v.color, fd));
  let view: View;
  let tree: TreeView | null = null;
  if (v.html) {
    view = new (views.html().HtmlView)(sink, run, { overheadNs: v.rawDurations ? null : run.overheadNs, nestedNs: v.rawDurations ? null : run.nestedNs, headline: o.headline });
  } else if (aggregate) {
    view = new (views.summary().SummaryView)(sink, {
      summary: v.summary, hist: v.hist, sort: v.sort, perThread: v.perThread, json: v.format === 'json', colors,
      overheadNs: v.rawDurations ? null : run.overheadNs, nestedNs: v.rawDurations ? null : run.nestedNs, mode: run.mode, headline: o.headline,
    });
  } else if (v.format === 'json') {
    view = new JsonView(sink, !o.live);
  } else if (v.format === 'chrome') {
    view = new (views.chrome().ChromeView)(sink, run);
  } else if (v.format === 'folded') {
    view = new (views.chrome().FoldedView)(sink, v.rawDurations ? null : run.overheadNs, v.rawDurations ? null : run.nestedNs);
  } else if (v.format === 'pprof') {
    view = new (views.pprof().PprofView)(sink, run, { overheadNs: v.rawDurations ? null : run.overheadNs, nestedNs: v.rawDurations ? null : run.nestedNs, live: o.live });
  } else if (v.format === 'perfetto') {
    view = new (views.perfetto().PerfettoView)(sink, run);
  } else {
    view = tree = new TreeView(sink, { nargs: v.nargs, backtraces: true, colors, time: v.time, run, slowNs: v.slowNs });
  }
  // --otlp: the spans besides the views asked for, or alone.
  const otlp = v.otlp === undefined ? null : new (views.otlp().OtlpView)(v.otlp, run, require('../../../package.json').version, o.live);
  if (otlp) {
    view = v.viewAsked ? new Tee([view, otlp]) : otlp;
    if (!v.viewAsked) tree = null;
  }
  if (hasFilters(v.filters)) view = new Filter(v.filters, view);
  if (!aggregate && (v.format === 'pprof' || v.format === 'perfetto') && tty.isatty(fd))
    throw new RethookError(`--format ${v.format} writes binary data, not for a terminal: give -o FILE`, 'EOUTPUT');
  const fields: EventFields = otlp || (!aggregate && (v.format === 'json' || v.format === 'chrome' || v.format === 'perfetto')) ? 'all' : 'text';
  return { sink, view, tree, fields, settle: () => otlp?.settled() ?? Promise.resolve() };
}

/**
 * The functions of this run in trap mode and why: none when trap mode was
 * asked for (--mode trap); every hooked function when an option needs it
 * (--backtrace: the reason names the option); else those fast mode could not
 * patch. What the output's first note and the record's header carry.
 */
export function sessionFallbacks(h: Pick<HookingArgs, 'mode' | 'backtrace' | 'returnMode'>, hook: Hook): Fallback[] {
  if (h.mode === 'trap') return [];
  const options = h.mode === 'auto' ? trapOptions(h) : [];
  if (options.length) {
    const names = [...new Set(hook.functions.map((f) => f.function))];
    return names.map((fn) => ({ function: fn, reason: options.join(', ') }));
  }
  return hook.fallbacks.map((f) => ({ ...f }));
}

/**
 * What a hook has to say (functions in trap mode instead of fast, refusals,
 * damaged objects): each told once, as it comes. `quiet`: the fallbacks
 * found so far are in the run's first note already (text views say nothing
 * more of them; JSON still writes each, as it always has).
 */
export function hookNotes(hook: Hook, note: (e: NoteEvent, text: string) => void): (quiet?: boolean) => void {
  const shown = { fellBack: 0, refused: 0, warnings: 0 };
  return (quiet = false) => {
    for (; shown.fellBack < hook.fellBack.length; shown.fellBack++) {
      const m = `in trap mode, not fast: ${hook.fellBack[shown.fellBack]}`;
      const f = hook.fallbacks[shown.fellBack];
      note({ type: 'fallback', message: m, ...(f ? { function: f.function, reason: f.reason } : {}) }, quiet ? '' : m);
    }
    for (; shown.refused < hook.refused.length; shown.refused++) note({ type: 'refused', message: hook.refused[shown.refused] }, hook.refused[shown.refused]);
    for (; shown.warnings < hook.warnings.length; shown.warnings++) note({ type: 'warning', message: hook.warnings[shown.warnings] }, hook.warnings[shown.warnings]);
  };
}

/** The last lines of a run (patterns that never matched, a killing signal) and the exit code it gives. */
export function endOfRun(s: ExitStatus, unmatched: readonly { pattern: string; reason: string }[]): number {
  for (const u of unmatched) process.stderr.write(`rethook: -f '${escapeText(u.pattern)}' never matched: ${escapeText(u.reason)}\n`);
  // A program killed by a signal: say so, as a shell would (SIGINT and SIGPIPE are not news).
  if (s.signal && s.signal !== 'SIGINT' && s.signal !== 'SIGPIPE') process.stderr.write(`rethook: process ${s.pid} was killed by ${s.signal}\n`);
  if (s.detached) return 0;
  return s.signal ? 128 + (os.constants.signals[s.signal] as number) : (s.code ?? 0);
}
