// Shared by the tests: fixture paths, untraced runs, and traced runs that
// collect events and the program's output.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ExitStatus, Hook, HookHandlers, Tracer } from '../lib';
import { readElf } from '../lib/symbols/elf';
import { waitUntil } from './time-bound';

export const FIXTURES = path.join(__dirname, 'fixtures', 'bin');
export const CLI = path.join(__dirname, '..', 'bin', 'rethook.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const VARIANTS: string[] = require('./build-fixtures').VARIANTS;

/** The two ways calls are caught: files that run in both say describe.each(MODES). */
export const MODES = ['trap', 'fast'] as const;
export type Mode = (typeof MODES)[number];

export function fixture(name: string, variant = 'O0'): string {
  return path.join(FIXTURES, `${name}.${variant}`);
}

export interface RunResult {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

export function untraced(file: string, args: string[] = []): RunResult {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal };
}

export function cli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: opts.input ?? '', timeout: 60000, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal };
}

/**
 * The whole outcome of a refused command line: exit status `code`, nothing on
 * stdout, on stderr exactly one line naming the problem (usage errors, exit
 * status 2, add the one fixed hint line), and no stack trace.
 */
export function expectOneLineError(r: RunResult, message: string | RegExp, code = 1) {
  expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: code, signal: null, stdout: '' });
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.endsWith('\n')).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines[0]).toMatch(message);
  expect(lines[0]).toMatch(/^rethook: /);
  expect(lines.slice(1)).toEqual(code === 2 ? ["Try 'rethook --help'."] : []);
}

export const expectUsageError = (r: RunResult, message: string | RegExp) => expectOneLineError(r, message, 2);

/** One temporary folder per test file, removed after its tests. */
let scratch: string | null = null;
export function scratchDir(): string {
  if (!scratch) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-test-'));
    scratch = dir;
  }
  return scratch;
}

// helpers is imported at the top of every test file: this runs after its tests.
afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

let captures = 0;

/** Capture the program's stdout in a temporary file. */
export class Captured {
  readonly file = path.join(scratchDir(), `out-${captures++}`);
  readonly fd = fs.openSync(this.file, 'w+');
  text(): string {
    fs.closeSync(this.fd);
    return fs.readFileSync(this.file, 'utf8');
  }
}

export interface Traced {
  events: string[];
  status: ExitStatus;
  stdout: string;
  tracer: Tracer;
  hook: Hook;
}

/**
 * Trace `file` with one hook on `patterns`; events are compact strings:
 * "> name a0 a1" at entry (args shown: `nargs`) and "< name = ret" at exit
 * ("< name unwound(reason)" when unwound).
 */
export async function trace(
  file: string,
  patterns: string | string[],
  opts: { args?: string[]; nargs?: number; handlers?: HookHandlers; setup?: (t: Tracer) => void; maxActive?: number; returnMode?: HookHandlers['returnMode']; followForks?: boolean; mode?: Mode } = {},
): Promise<Traced> {
  const out = new Captured();
  const tracer = await Tracer.spawn(file, opts.args ?? [], { stdio: ['inherit', out.fd, 'inherit'], followForks: opts.followForks });
  const events: string[] = [];
  const nargs = opts.nargs ?? 1;
  const h = opts.handlers ?? {};
  const hook = tracer.hook(patterns, {
    maxActive: opts.maxActive,
    returnMode: opts.returnMode,
    mode: opts.mode,
    // The handlers' own typing and capture options go through as they are.
    ...(h.args ? { args: h.args } : {}),
    ...(h.ret ? { ret: h.ret } : {}),
    ...(h.capture ? { capture: h.capture } : {}),
    onEntry(ctx) {
      events.push(`> ${ctx.function} ${ctx.args.slice(0, nargs).join(' ')}`.trimEnd());
      return h.onEntry?.(ctx);
    },
    onExit(ctx) {
      events.push(ctx.retval === null ? `< ${ctx.function} unwound(${ctx.reason})` : `< ${ctx.function} = ${BigInt.asIntN(32, ctx.retval)}`);
      h.onExit?.(ctx);
    },
  });
  // Fast mode is fast mode but where the planner refuses a function (too
  // short, a branch into its first bytes): that one is in trap mode, as the
  // hook's fellBack says, with the same events.
  const fellBack = hook.fellBack.filter((w) => !/: too short|: a branch|: ret|: an indirect|: undecodable|: no instruction/.test(w));
  if (opts.mode === 'fast' && fellBack.length) throw new Error(`not in fast mode: ${fellBack.join('; ')}`);
  opts.setup?.(tracer);
  const status = await tracer.run();
  return { events, status, stdout: out.text(), tracer, hook };
}

/**
 * The state letter of /proc/PID/stat (R, S, D, T, t, Z, ...), or null once
 * the process is gone. The command name may contain spaces and parentheses:
 * the state follows the last ") ".
 */
export function procState(pid: number): string | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(') ') + 2)[0] ?? null;
}

/**
 * Poll until the process is in one of `states` (letters, e.g. 'tT'), or is
 * gone, or `timeoutMs` passed. Resolves with the last state seen (null: gone).
 */
export async function waitForState(pid: number, states: string, timeoutMs = 10000): Promise<string | null> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = procState(pid);
    if (st === null || states.includes(st) || Date.now() >= end) return st;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** How many threads have a return in the JSON events written to `file` so far (whole lines only: it may be mid-write). */
export function threadsReturned(file: string): number {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return new Set(lines.filter((e) => e.type === 'exit').map((e) => e.tid)).size;
}

/** Voluntary context switches of each thread of `pid` (a thread that sleeps, in usleep say, adds one each time), by thread id. */
function switches(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const m = /^voluntary_ctxt_switches:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
      if (m) out.set(t, Number(m[1]));
    } catch {
      /* the thread is gone */
    }
  }
  return out;
}

/**
 * Until the threads of `pid` have gone to sleep `times` more times between
 * them (seen in /proc: it runs on, through whatever it was in), or the
 * process is gone or a zombie. For a program left untraced that sleeps in
 * its loop (a thread blocked for good, in pthread_join say, adds nothing).
 */
export async function waitForProgress(pid: number, times = 4): Promise<void> {
  const total = () => [...switches(pid).values()].reduce((a, b) => a + b, 0);
  const before = total();
  await waitUntil(`the threads of process ${pid} to run on`, () => {
    const st = procState(pid);
    return st === null || st === 'Z' || total() >= before + times;
  });
}

/** Runtime minus link-time addresses of `file` in process `pid`: from /proc/PID/maps and the program headers (readelf). */
export function loadBias(pid: number, file: string): number {
  const real = fs.realpathSync(file);
  const first = fs
    .readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .map((l) => l.split(/\s+/))
    .find((f) => f[5] === real && parseInt(f[2], 16) === 0);
  if (!first) throw new Error(`${real} is not mapped in process ${pid}`);
  const loads = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => parseInt(l.trim().split(/\s+/)[2], 16));
  return parseInt(first[0].split('-')[0], 16) - Math.floor(Math.min(...loads) / 4096) * 4096;
}

/**
 * The first `n` bytes of function `name` of `file` as they are now in process
 * `pid` (read from /proc/PID/mem): they change when the function is hooked.
 */
export function codeOf(pid: number, file: string, name: string, n = 4): Buffer {
  const fn = readElf(file).functions.find((f) => f.name === name);
  if (!fn) throw new Error(`no function ${name} in ${file}`);
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, loadBias(pid, file) + fn.value);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** The link-time address of the first copy of `text` (NUL-terminated) in an allocated section of `file` (readelf -S). */
export function linkedAddressOfString(file: string, text: string): number {
  const bytes = fs.readFileSync(file);
  const off = bytes.indexOf(Buffer.from(text + '\0', 'latin1'));
  if (off < 0) throw new Error(`no "${text}" in ${file}`);
  for (const line of execFileSync('readelf', ['-SW', file], { encoding: 'utf8' }).split('\n')) {
    // [Nr] Name Type Address Off Size ...
    const m = /\]\s+\S+\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const [addr, secOff, size] = [m[1], m[2], m[3]].map((x) => parseInt(x, 16));
    if (addr && off >= secOff && off < secOff + size) return addr + off - secOff;
  }
  throw new Error(`"${text}" is in no allocated section of ${file}`);
}

export { pause, scaled, timeBound, waitUntil } from './time-bound';
