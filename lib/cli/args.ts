// Command-line parsing: Node's util.parseArgs for each command (no
// dependency: it does strict options, repeatable ones and `--`; subcommands
// are the first word, `trace` when the first word is an option).
import { parseArgs } from 'util';
import * as fs from 'fs';
import { RethookError } from '../errors';
import { validatePattern } from '../symbols/patterns';
import { parsePrototypes, splitFunctionSpec } from '../types/spec';
import { STRING_MAX_LIMIT } from '../types/model';
import type { ColorMode } from '../views/colors';
import { parseDuration } from '../views/view';
import type { FilterOptions } from '../views/filters';
import { SORT_KEYS, SortKey } from '../views/summary';
import type { TimeColumn } from '../views/tree';

export class UsageError extends Error {}

export const COMMANDS = ['trace', 'record', 'report', 'replay', 'dump'] as const;
export type Command = (typeof COMMANDS)[number];

const HOOKING = {
  function: { type: 'string', short: 'f', multiple: true },
  pid: { type: 'string', short: 'p' },
  output: { type: 'string', short: 'o' },
  'max-active': { type: 'string' },
  'follow-fork': { type: 'boolean' },
  backtrace: { type: 'boolean' },
  'detach-on-exit': { type: 'boolean' },
  'return-mode': { type: 'string' },
  mode: { type: 'string' },
  prototypes: { type: 'string' },
  'string-max': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const VIEWING = {
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  args: { type: 'string' },
  summary: { type: 'boolean', short: 'c' },
  hist: { type: 'string', multiple: true },
  sort: { type: 'string' },
  'per-thread': { type: 'boolean' },
  'absolute-time': { type: 'boolean', short: 't' },
  'relative-time': { type: 'boolean', short: 'r' },
  'min-duration': { type: 'string' },
  'max-depth': { type: 'string' },
  tid: { type: 'string', multiple: true },
  caller: { type: 'string', multiple: true },
  limit: { type: 'string', short: 'n' },
  color: { type: 'string' },
  slow: { type: 'string' },
  'raw-durations': { type: 'boolean' },
  chrome: { type: 'boolean' },
  folded: { type: 'boolean' },
  otlp: { type: 'string' },
  html: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OPTIONS = {
  trace: { ...HOOKING, ...VIEWING },
  record: HOOKING,
  report: VIEWING,
  replay: VIEWING,
  dump: VIEWING,
} as const;

/** Options that take a value (the next word), per command: where the program's words begin. */
function takesValue(cmd: Command): Set<string> {
  const s = new Set<string>();
  for (const [name, o] of Object.entries(OPTIONS[cmd])) {
    if (o.type !== 'string') continue;
    s.add(`--${name}`);
    if ('short' in o) s.add(`-${o.short}`);
  }
  return s;
}

/**
 * `--hist` alone means every function, `--color` alone means always: they
 * take their value only as `--hist=FUNC` or as the next word when it is no
 * option (put `--` before the program).
 */
function optionalValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...out, ...argv.slice(i)];
    if ((a === '--hist' || a === '--color') && (i + 1 >= argv.length || argv[i + 1].startsWith('-'))) {
      out.push(a === '--hist' ? '--hist=*' : '--color=always');
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Options end at `--` or at the first word that is not an option: the program and its own arguments follow. */
function splitArgv(cmd: Command, argv: string[]): { ours: string[]; rest: string[] } {
  const values = takesValue(cmd);
  if (cmd !== 'trace' && cmd !== 'record') return fileAndOptions(values, argv);
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a === '--') return { ours: argv.slice(0, i), rest: argv.slice(i + 1) };
    if (!a.startsWith('-') || a === '-') break;
    i += values.has(a) ? 2 : 1;
  }
  return { ours: argv.slice(0, i), rest: argv.slice(i) };
}

/** report, replay, dump: the record file may come before options too (`rethook report --html FILE -o report.html`). */
function fileAndOptions(values: Set<string>, argv: string[]): { ours: string[]; rest: string[] } {
  const ours: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { ours, rest: [...rest, ...argv.slice(i + 1)] };
    if (!a.startsWith('-') || a === '-') rest.push(a);
    else {
      ours.push(a);
      if (values.has(a) && i + 1 < argv.length) ours.push(argv[++i]);
    }
  }
  return { ours, rest };
}

export function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} expects a positive integer, got '${v}'`);
  return Number(v);
}

function stringMax(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = positiveInt('string-max', v, 0);
  if (n > STRING_MAX_LIMIT) throw new UsageError(`--string-max expects at most ${STRING_MAX_LIMIT} bytes, got ${n}`);
  return n;
}

function duration(name: string, v: string | undefined, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  // A bare number has no unit to read it in (10 what?): refused, not guessed.
  const ns = /^\s*\d+(?:\.\d+)?\s*$/.test(v) ? null : parseDuration(v);
  if (ns === null) throw new UsageError(`--${name} expects a duration such as 10us, 1.5ms or 2s, got '${v}'`);
  return ns;
}

function glob(name: string, v: string): string {
  try {
    validatePattern(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
  return v;
}

export interface HookingArgs {
  patterns: string[];
  attachPid: number | null;
  program: string[];
  output: string | undefined;
  maxActive: number;
  followForks: boolean;
  backtrace: boolean;
  detachOnExit: boolean;
  returnMode: 'auto' | 'trampoline' | 'site';
  /**
   * trap, fast, or auto (the default): fast for every function it can patch,
   * trap where an option needs the thread stopped at the call (trapOptions)
   * and for the functions fast mode cannot patch (listed as fallbacks).
   */
  mode: 'trap' | 'fast' | 'auto';
  /** C declarations of the hooked functions' types (from -f specs and --prototypes), or undefined. */
  prototypes: string | undefined;
  /** Bytes of a string shown at most (--string-max), or undefined: the default. */
  stringMax: number | undefined;
}

export interface ViewingArgs {
  format: 'text' | 'json' | 'chrome' | 'folded' | 'pprof' | 'perfetto';
  output: string | undefined;
  nargs: number;
  summary: boolean;
  hist: string[];
  sort: SortKey;
  perThread: boolean;
  time: TimeColumn;
  filters: FilterOptions;
  color: ColorMode;
  slowNs: number;
  rawDurations: boolean;
  backtrace: boolean;
  /** --otlp URL (trace, dump): the calls also go to this OpenTelemetry collector, as spans. */
  otlp: string | undefined;
  /** --html (report): the report as one self-contained HTML page. */
  html: boolean;
  /** Whether a view was asked for (--format, --chrome, --folded, -c, --hist): with --otlp alone, the spans are the only output. */
  viewAsked: boolean;
}

export interface Parsed {
  cmd: Command;
  help: boolean;
  hooking: HookingArgs | null;
  viewing: ViewingArgs | null;
  /** report, replay, dump: the record file. */
  file: string | null;
}

type Values = Record<string, string | boolean | string[] | undefined>;

function hookingArgs(v: Values, rest: string[]): HookingArgs {
  const specs = (v.function as string[] | undefined) ?? [];
  if (specs.length === 0) throw new UsageError('nothing to trace: give at least one -f PATTERN');
  // Every pattern (and its types, `-f 'lookup(str, int) -> int'`) is checked before anything starts.
  const patterns: string[] = [];
  const declared: string[] = [];
  for (const p of specs) {
    try {
      const { pattern, decl } = splitFunctionSpec(p);
      validatePattern(pattern);
      patterns.push(pattern);
      if (decl) declared.push(p.trim());
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (v.prototypes !== undefined) {
    const file = v.prototypes as string;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new RethookError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    try {
      parsePrototypes(text, 'spec', file);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    declared.push(text);
  }
  const attachPid = v.pid === undefined ? null : positiveInt('pid', v.pid as string, 0);
  if (attachPid !== null && rest.length) throw new UsageError('give either -p PID or a program, not both');
  if (attachPid === null && rest.length === 0) throw new UsageError('no program given: rethook trace -f PATTERN -- PROGRAM [ARGS...]');
  const returnMode = (v['return-mode'] as string | undefined) ?? 'auto';
  if (returnMode !== 'auto' && returnMode !== 'trampoline' && returnMode !== 'site')
    throw new UsageError(`--return-mode expects auto, trampoline or site, got '${returnMode}'`);
  const mode = (v.mode as string | undefined) ?? 'auto';
  if (mode !== 'trap' && mode !== 'fast' && mode !== 'auto') throw new UsageError(`--mode expects trap, fast or auto, got '${mode}'`);
  if (mode === 'fast' && v.backtrace === true) throw new UsageError('--backtrace needs --mode trap (a backtrace is taken with the thread stopped at the call)');
  return {
    mode,
    patterns,
    attachPid,
    program: rest,
    output: v.output as string | undefined,
    maxActive: positiveInt('max-active', v['max-active'] as string | undefined, 4096),
    followForks: v['follow-fork'] === true,
    backtrace: v.backtrace === true,
    detachOnExit: v['detach-on-exit'] === true,
    returnMode,
    prototypes: declared.length ? declared.join('\n') : undefined,
    stringMax: stringMax(v['string-max'] as string | undefined),
  };
}

/**
 * The options that need every call caught in trap mode: they read the
 * program at the call, its thread stopped (a backtrace), or catch returns in
 * a way fast mode does not (at their return site). Empty: fast mode can do
 * what was asked. Other options (typed values, --follow-fork, -p) work in
 * both: fast mode copies C strings at the call.
 */
export function trapOptions(h: Pick<HookingArgs, 'backtrace' | 'returnMode'>): string[] {
  const why: string[] = [];
  if (h.backtrace) why.push('--backtrace');
  if (h.returnMode === 'site') why.push('--return-mode site');
  return why;
}

/** How the hook catches calls: --mode, or for auto fast unless an option needs trap mode. */
export function hookMode(h: Pick<HookingArgs, 'mode' | 'backtrace' | 'returnMode'>): 'trap' | 'fast' {
  if (h.mode !== 'auto') return h.mode;
  return trapOptions(h).length ? 'trap' : 'fast';
}

function viewingArgs(cmd: Command, v: Values): ViewingArgs {
  let format = (v.format as string | undefined) ?? (cmd === 'dump' ? 'json' : 'text');
  if (v.chrome) format = 'chrome';
  if (v.folded) format = 'folded';
  if (!['text', 'json', 'chrome', 'folded', 'pprof', 'perfetto'].includes(format))
    throw new UsageError(`--format expects text, json, chrome, folded, pprof or perfetto, got '${format}'`);
  // Binary formats go to a file (trace's views go to stderr without -o).
  if ((format === 'pprof' || format === 'perfetto') && v.output === undefined && cmd === 'trace')
    throw new UsageError(`--format ${format} writes a binary file: give -o FILE`);
  const sort = (v.sort as string | undefined) ?? 'total';
  if (!(SORT_KEYS as readonly string[]).includes(sort)) throw new UsageError(`--sort expects ${SORT_KEYS.join(', ')}, got '${sort}'`);
  const color = (v.color as string | undefined) ?? 'auto';
  if (color !== 'auto' && color !== 'always' && color !== 'never') throw new UsageError(`--color expects auto, always or never, got '${color}'`);
  if (v['absolute-time'] && v['relative-time']) throw new UsageError('give either -t (time of day) or -r (time since the start), not both');
  const tids = (v.tid as string[] | undefined)?.map((t) => positiveInt('tid', t, 0)) ?? null;
  const summary = v.summary === true || cmd === 'report';
  const hist = ((v.hist as string[] | undefined) ?? []).map((h) => glob('hist', h));
  return {
    format: format as ViewingArgs['format'],
    output: v.output as string | undefined,
    nargs: positiveInt('args', v.args as string | undefined, 3),
    summary,
    hist,
    sort: sort as SortKey,
    perThread: v['per-thread'] === true,
    time: v['absolute-time'] ? 'absolute' : v['relative-time'] ? 'relative' : 'none',
    filters: {
      minDurationNs: duration('min-duration', v['min-duration'] as string | undefined, null),
      maxDepth: v['max-depth'] === undefined ? null : positiveInt('max-depth', v['max-depth'] as string, 0),
      tids,
      callers: (v.caller as string[] | undefined)?.map((c) => glob('caller', c)) ?? null,
      limit: v.limit === undefined ? null : positiveInt('limit', v.limit as string, 0),
    },
    color: color as ColorMode,
    slowNs: duration('slow', v.slow as string | undefined, 1e6)!,
    rawDurations: v['raw-durations'] === true,
    backtrace: v.backtrace === true,
    ...otlpAndHtml(cmd, v),
  };
}

function otlpAndHtml(cmd: Command, v: Values): Pick<ViewingArgs, 'otlp' | 'html' | 'viewAsked'> {
  const otlp = v.otlp as string | undefined;
  if (otlp !== undefined) {
    if (cmd !== 'trace' && cmd !== 'dump') throw new UsageError(`--otlp is an option of trace and dump, not of ${cmd}`);
    let u: URL | null = null;
    try {
      u = new URL(otlp);
    } catch {
      /* said below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new UsageError(`--otlp expects the collector's http:// or https:// URL (OTLP/HTTP, port 4318), got '${otlp}'`);
  }
  if (v.html && cmd !== 'report') throw new UsageError(`--html is an option of report (rethook report --html FILE -o report.html), not of ${cmd}`);
  const viewAsked = ['format', 'chrome', 'folded', 'summary', 'hist'].some((k) => v[k] !== undefined);
  return { otlp, html: v.html === true, viewAsked };
}

/** argv after `rethook`: the command (trace when the first word is an option) and its options. */
export function parseCommand(argv: string[]): Parsed {
  let cmd: Command = 'trace';
  let words = argv;
  if (argv.length && !argv[0].startsWith('-')) {
    if (!(COMMANDS as readonly string[]).includes(argv[0])) throw new UsageError(`unknown command '${argv[0]}'`);
    cmd = argv[0] as Command;
    words = argv.slice(1);
  }
  const given = optionalValues(words);
  const { ours, rest } = splitArgv(cmd, given);
  // `rethook --mode fast record ...`: options before the command make `record` read as the program (put `--` before a program so named).
  const misplaced = words === argv ? given[ours.length] : undefined;
  if (misplaced !== undefined && (COMMANDS as readonly string[]).includes(misplaced))
    throw new UsageError(`'${misplaced}' is a command: it comes first (rethook ${misplaced} [options] ...), before any option`);
  let values: Values;
  try {
    values = parseArgs({ args: ours, options: OPTIONS[cmd], allowPositionals: false, strict: true }).values as Values;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  if (values.help) return { cmd, help: true, hooking: null, viewing: null, file: null };
  if (cmd === 'trace' || cmd === 'record') {
    const hooking = hookingArgs(values, rest);
    const viewing = cmd === 'trace' ? viewingArgs(cmd, values) : null;
    return { cmd, help: false, hooking, viewing, file: null };
  }
  if (rest.length !== 1) throw new UsageError(`rethook ${cmd} takes one record file (rethook record -o FILE makes one), got ${rest.length}`);
  return { cmd, help: false, hooking: null, viewing: viewingArgs(cmd, values), file: rest[0] };
}
