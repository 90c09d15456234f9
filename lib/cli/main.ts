// `rethook trace [options] -- PROGRAM [ARGS...]`
import * as fs from 'fs';
import { parseArgs } from 'util';
import { RethookError } from '../errors';
import { validatePattern } from '../symbols/patterns';
import { escapeText } from '../symbols/text';
import { JsonFormat, Sink, TextFormat, TraceEvents } from './format';
import { parsePrototypes, splitFunctionSpec } from '../types/spec';
import type { Tracer, ExitStatus } from '../tracer';
import type { Hook } from '../hook';
import type { ExitContext } from '../context';

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
  process.on('SIGINT', () => onAttachedInterrupt());
  process.on('SIGTERM', () => onAttachedInterrupt());
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

const USAGE = `Usage: rethook trace [options] -- PROGRAM [ARGS...]
       rethook trace [options] -p PID

Trace the calls and returns of functions in PROGRAM.

Options:
  -f, --function PATTERN  function to hook (repeatable): a name, a glob ('sqlite3_*'),
                          scoped to one object ('libz.so.1:crc32'), or a C++ name;
                          with its types: 'lookup(str key, int len) -> int'; or an
                          address as objdump shows it: 0x1139, 'libfoo.so+0x1139'
      --prototypes FILE   C declarations of the functions' types, one per line
                          ('int lookup(const char *key, int len);'); over debug info
      --format text|json  an indented call tree (default) or one JSON object per line
  -p, --pid PID           attach to a running process (all its threads); Ctrl-C or
                          SIGTERM detaches, leaving it as if never traced, and exits 0
  -o, --output FILE       where events go (default: stderr)
      --args N            integer arguments shown per call in text (default 3)
      --max-active N      calls of one hook in flight at once (default 4096);
                          more are counted as missed
      --detach-on-exit    Ctrl-C detaches from a program rethook started (it goes on
                          untraced, never sees the SIGINT) instead of ending it
      --backtrace         show each call's backtrace (trampolines replaced by the real
                          return addresses; marked when it cannot be vouched for)
      --follow-fork       trace children made by fork/vfork too (events carry their pid);
                          without it they are released, cleaned of our breakpoints
      --return-mode M     how returns are caught: auto (default: at the return site for
                          setjmp, vfork, dlsym... and Go programs, else the trampoline),
                          trampoline, or site (never touches return addresses)
  -h, --help              this help
  -V, --version           the version
`;

const OPTIONS = {
  function: { type: 'string', short: 'f', multiple: true },
  prototypes: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  pid: { type: 'string', short: 'p' },
  args: { type: 'string' },
  'max-active': { type: 'string' },
  'follow-fork': { type: 'boolean' },
  backtrace: { type: 'boolean' },
  'detach-on-exit': { type: 'boolean' },
  'return-mode': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

class UsageError extends Error {}

/** Loaded only to trace: --help, --version and usage errors never load the native addon. */
function tracerClass(): typeof Tracer {
  return (require('../tracer') as typeof import('../tracer')).Tracer;
}

/** Options end at `--` or at the first word that is not an option: the program and its own arguments follow. */
function splitArgv(argv: string[]): { ours: string[]; program: string[] } {
  const takesValue = new Set(['-f', '--function', '--format', '-o', '--output', '--args', '--max-active', '-p', '--pid', '--return-mode', '--prototypes']);
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a === '--') return { ours: argv.slice(0, i), program: argv.slice(i + 1) };
    if (!a.startsWith('-') || a === '-') break;
    i += takesValue.has(a) ? 2 : 1;
  }
  return { ours: argv.slice(0, i), program: argv.slice(i) };
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} expects a positive integer, got '${v}'`);
  return Number(v);
}

export async function main(argv: string[]): Promise<void> {
  // A closed stdout or stderr (`| head`) is no reason to crash: what cannot be said is dropped.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  let code: number;
  try {
    code = await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`rethook: ${escapeText(e.message)}\nTry 'rethook --help'.\n`);
      code = 2;
    } else if (e instanceof RethookError) {
      process.stderr.write(`rethook: ${escapeText(e.message)}\n`);
      code = 1;
    } else {
      process.stderr.write(`rethook: internal error: ${(e as Error)?.stack ?? e}\n`);
      code = 70;
    }
  }
  process.exitCode = code;
  // Nothing of ours may keep the process alive now.
  setImmediate(() => process.exit(code));
}

async function run(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === '-h' || cmd === '--help' || cmd === undefined) {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '-V' || cmd === '--version') {
    process.stdout.write(require('../../package.json').version + '\n');
    return 0;
  }
  if (cmd !== 'trace') throw new UsageError(`unknown command '${cmd}'`);
  const { ours, program } = splitArgv(argv.slice(1));
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    values = parseArgs({ args: ours, options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const specs = values.function ?? [];
  if (specs.length === 0) throw new UsageError('nothing to trace: give at least one -f PATTERN');
  // Every pattern (and its types) is checked before anything starts.
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
  if (values.prototypes !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(values.prototypes, 'utf8');
    } catch (e) {
      throw new RethookError(`cannot read ${values.prototypes}: ${(e as NodeJS.ErrnoException).code}`);
    }
    try {
      parsePrototypes(text, 'spec', values.prototypes);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    declared.push(text);
  }
  const attachPid = values.pid === undefined ? null : positiveInt('pid', values.pid, 0);
  if (attachPid !== null && program.length) throw new UsageError('give either -p PID or a program, not both');
  if (attachPid === null && program.length === 0) throw new UsageError('no program given: rethook trace -f PATTERN -- PROGRAM [ARGS...]');
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format expects text or json, got '${format}'`);
  const nargs = positiveInt('args', values.args, 3);
  const maxActive = positiveInt('max-active', values['max-active'], 4096);
  const returnMode = values['return-mode'] ?? 'auto';
  if (returnMode !== 'auto' && returnMode !== 'trampoline' && returnMode !== 'site')
    throw new UsageError(`--return-mode expects auto, trampoline or site, got '${returnMode}'`);

  let fd = 2;
  if (values.output !== undefined) {
    try {
      fd = fs.openSync(values.output, 'w');
    } catch (e) {
      throw new RethookError(`cannot open ${values.output}: ${(e as NodeJS.ErrnoException).code}`, 'EOUTPUT');
    }
  }
  const sink = new Sink(fd);
  const bt = values.backtrace === true;
  const events: TraceEvents = format === 'json' ? new JsonFormat(sink, bt) : new TextFormat(sink, nargs, bt);

  let tracer: Tracer;
  try {
    tracer = attachPid !== null ? await attachResponsively(attachPid, values['follow-fork'] === true, maxActive)
      : await tracerClass().spawn(program[0], program.slice(1), {
          maxActive,
          followForks: values['follow-fork'] === true,
          detachOnInterrupt: values['detach-on-exit'] === true,
        });
  } catch (e) {
    // The program ended during its startup (killed, say): that is its exit status, not an error of ours.
    const status = (e as { status?: ExitStatus }).status;
    if (!status) throw e;
    return ended(status, events, fd);
  }
  // Calls in flight per thread (entries whose exit is not written yet): on
  // detach they end in the output as unwound with reason 'detach'.
  const inflight = new Map<number, InFlight[]>();
  let hook: Hook;
  try {
    hook = tracer.hook(patterns, {
      returnMode,
      ...(declared.length ? { prototypes: declared.join('\n') } : {}),
      onEntry: (ctx) => {
        events.entry(ctx);
        let st = inflight.get(ctx.tid);
        if (!st) inflight.set(ctx.tid, (st = []));
        st.push({ pid: ctx.pid, tid: ctx.tid, function: ctx.function, depth: ctx.depth, start: process.hrtime.bigint() });
      },
      onExit: (ctx) => {
        events.exit(ctx);
        const st = inflight.get(ctx.tid);
        while (st?.length && st[st.length - 1].depth >= ctx.depth) st.pop();
        if (st && !st.length) inflight.delete(ctx.tid);
      },
    });
  } catch (e) {
    const status = (e as { status?: ExitStatus }).status;
    if (status) return ended(status, events, fd); // it ended before it could be hooked
    if ((e as { dying?: boolean }).dying) return ended(await tracer.run(), events, fd); // it is ending now
    if (attachPid !== null) await tracer.detach();
    else tracer.kill();
    throw e;
  }
  // Refusals and damaged objects: those known now, then (at exit) those found as objects were loaded.
  let refusedShown = 0, warningsShown = 0;
  const showNotes = () => {
    for (; refusedShown < hook.refused.length; refusedShown++) events.note({ type: 'refused', message: hook.refused[refusedShown] }, hook.refused[refusedShown]);
    for (; warningsShown < hook.warnings.length; warningsShown++) events.note({ type: 'warning', message: hook.warnings[warningsShown] }, hook.warnings[warningsShown]);
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
  if (attachPid !== null) {
    // Attached: Ctrl-C and SIGTERM end tracing, never the process.
    interruptAttached(() => void tracer.detach());
  } else if (values['detach-on-exit']) {
    // Ctrl-C reaches the program too, where the tracer swallows it and
    // detaches; a SIGINT sent to us alone detaches a moment later.
    process.on('SIGINT', () => setTimeout(() => void tracer.detach(), 200));
    process.on('SIGTERM', () => void tracer.detach());
  } else {
    // Ctrl-C reaches the program too (same process group): let it decide,
    // and end it on a second one. SIGTERM to us is passed on.
    let interrupts = 0;
    process.on('SIGINT', () => {
      if (++interrupts > 1) tracer.kill();
    });
    process.on('SIGTERM', () => process.kill(tracer.pid, 'SIGTERM'));
  }

  let status: ExitStatus;
  try {
    status = await tracer.run();
  } finally {
    events.flush();
  }
  showNotes();
  if (status.detached) {
    const now = process.hrtime.bigint();
    for (const st of inflight.values()) {
      for (const c of st.reverse()) {
        events.exit({ ...c, retval: 0n, fpRetval: 0, unwound: true, reason: 'detach', durationNs: now - c.start } as unknown as ExitContext);
      }
    }
    inflight.clear();
  }
  if (released) status = await released;
  if (hook.nmissed > 0) {
    events.note({ type: 'missed', nmissed: hook.nmissed, maxActive },
      `${hook.nmissed} calls ran without a return hook: --max-active ${maxActive} calls were already in flight`);
  }
  return ended(status, events, fd, hook);
}

/** The program's end, written and turned into our exit code. */
function ended(status: ExitStatus, events: TraceEvents, fd: number, hook?: Hook): number {
  if (!status.detached) {
    events.note({ type: 'process-exit', pid: status.pid, code: status.code, signal: status.signal }, '');
  }
  events.flush();
  if (fd !== 2) fs.closeSync(fd);
  // Patterns that never matched anything, and why: one line each.
  for (const u of hook?.unmatched ?? []) process.stderr.write(`rethook: -f '${escapeText(u.pattern)}' never matched: ${escapeText(u.reason)}\n`);
  // A program killed by a signal: say so, as a shell would (SIGINT and SIGPIPE are not news).
  if (status.signal && status.signal !== 'SIGINT' && status.signal !== 'SIGPIPE') {
    process.stderr.write(`rethook: process ${status.pid} was killed by ${status.signal}\n`);
  }
  if (status.detached) return 0;
  if (status.signal) {
    const n = require('os').constants.signals[status.signal] as number;
    return 128 + n;
  }
  return status.code ?? 0;
}
