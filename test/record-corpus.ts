// A crafted-record corpus, made here (no ptrace needed): a valid record with
// one event of each kind, and mutants of it, each with one field wrong in
// type or in range. Shared by the validator's unit tests and the CLI's.

type Obj = Record<string, unknown>;

export const HEADER: Obj = {
  type: 'rethook-record', version: 1, command: ['./app', '-v'], pid: 100, attached: false, arch: 'x64',
  startTs: 1e9, startWallNs: 1.7e18, overheadNs: 1000, patterns: ['f*'],
  modules: [{ pid: 100, path: '/app', start: '0x400000' }], cwd: '/', tool: 'rethook 0.1.0',
};

/** The events, in the order of the file (line 2 on); the end line last. */
export const EVENTS: Obj[] = [
  { type: 'entry', pid: 100, tid: 100, function: 'f', address: '0x401000', depth: 0, args: ['0x5', '0x0'], ts: 1.1e9 },
  {
    type: 'entry', pid: 100, tid: 100, function: 'g', address: '0x401100', depth: 1, args: ['0x7'],
    backtrace: ['f+0x10', 'main+0x20'], backtraceReliable: true, backtraceSources: ['app.c:3', null],
    argv: [{ name: 'key', type: 'const char *', value: 'alpha' }, { name: 'p', type: 'struct pair', value: { a: 1, b: [2, 'x'] }, truncated: true }],
    ts: 1.2e9,
  },
  { type: 'exit', pid: 100, tid: 100, function: 'g', depth: 1, retval: '0x1', unwound: false, durationNs: 5000, ret: { type: 'int', value: 1 }, ts: 1.3e9 },
  { type: 'fork', pid: 101, parent: 100, ts: 1.31e9 },
  { type: 'exec', pid: 101, file: '/bin/true', ts: 1.32e9 },
  { type: 'process-exit', pid: 101, code: 0, signal: null, ts: 1.33e9 },
  { type: 'warning', message: 'a warning' },
  { type: 'refused', message: 'h: refused' },
  { type: 'missed', nmissed: 2, maxActive: 4096 },
  { type: 'exit', pid: 100, tid: 100, function: 'f', depth: 0, retval: '0x0', unwound: true, reason: 'longjmp', durationNs: 9000, ts: 1.4e9 },
  { type: 'process-exit', pid: 100, code: null, signal: 'SIGSEGV' },
];

export const END: Obj = {
  type: 'end', ts: 1.5e9, pids: [100, 101], calls: 2, nmissed: { g: 2 },
  functions: [{ pid: 100, address: 4198400, function: 'f' }], status: { pid: 100, code: null, signal: 'SIGSEGV', detached: false },
};

/** The lines of the valid record (header, events, end), as objects. */
export function lines(): Obj[] {
  return JSON.parse(JSON.stringify([HEADER, ...EVENTS, END]));
}

export function text(objs: Obj[]): string {
  return objs.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

/** A value nested `n` levels deep (arrays), as text: JSON.stringify of it would overflow the stack. */
export function deepJson(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

export interface Mutant {
  /** Which line (1: the header) and which field of it is wrong. */
  line: number;
  field: string;
  /** The field's new value (undefined: removed). */
  value: unknown;
  /** The field the error names (field paths such as argv[0].name). */
  named: string;
}

const lineOf = (type: string, nth = 0): number => {
  const all = lines();
  let seen = 0;
  for (let i = 0; i < all.length; i++) if (all[i].type === type && seen++ === nth) return i + 1;
  throw new Error(`no ${type} line`);
};

const m = (line: number, field: string, values: unknown[], named = field): Mutant[] => values.map((value) => ({ line, field, value, named }));

const PID_BAD = ['100', 0, -1, 4194305, 1.5, null];
const NS_BAD = ['1', -1, 2 ** 65, null, true];
const HEADER_LINE = 1;
const ENTRY = lineOf('entry');
const ENTRY2 = lineOf('entry', 1);
const EXIT = lineOf('exit');
const END_LINE = lines().length;

/** Every field of every kind of line, wrong in type and (for numbers) in range. */
export const MUTANTS: Mutant[] = [
  ...m(HEADER_LINE, 'version', ['1', 0, 1.5, null, undefined]),
  ...m(HEADER_LINE, 'command', ['./app', null, {}, undefined]),
  ...m(HEADER_LINE, 'command', [[1], [null]], 'command[0]'),
  ...m(HEADER_LINE, 'pid', PID_BAD),
  ...m(HEADER_LINE, 'attached', ['false', 0, null]),
  ...m(HEADER_LINE, 'arch', [64, null]),
  ...m(HEADER_LINE, 'startTs', NS_BAD),
  ...m(HEADER_LINE, 'startWallNs', NS_BAD),
  ...m(HEADER_LINE, 'overheadNs', ['1000', -1, 2 ** 65]),
  ...m(HEADER_LINE, 'patterns', ['f*', null]),
  ...m(HEADER_LINE, 'patterns', [[1]], 'patterns[0]'),
  ...m(HEADER_LINE, 'modules', ['x', null]),
  ...m(HEADER_LINE, 'modules', [[{ pid: 100, path: 5, start: '0x1' }]], 'modules[0].path'),
  ...m(HEADER_LINE, 'modules', [[{ pid: 100, path: '/a', start: '4194304' }]], 'modules[0].start'),
  ...m(HEADER_LINE, 'modules', [[{ pid: 0, path: '/a', start: '0x1' }]], 'modules[0].pid'),
  ...m(HEADER_LINE, 'modules', [['/a']], 'modules[0]'),
  ...m(HEADER_LINE, 'cwd', [5]),
  ...m(HEADER_LINE, 'tool', [[]]),
  ...m(ENTRY, 'pid', PID_BAD),
  ...m(ENTRY, 'tid', PID_BAD),
  ...m(ENTRY, 'function', [5, null, ['f'], {}, undefined]),
  ...m(ENTRY, 'address', [4198400, '401000', '0x' + 'f'.repeat(17), '0xZZ']),
  ...m(ENTRY, 'depth', ['0', -1, 2 ** 31, 1e300, 0.5, null]),
  ...m(ENTRY, 'args', ['0x5', null, Array(17).fill('0x0')]),
  ...m(ENTRY, 'args', [[5], ['x'], ['\x1b[2J']], 'args[0]'),
  ...m(ENTRY, 'ts', NS_BAD),
  ...m(ENTRY, 'inherited', ['yes']),
  ...m(ENTRY2, 'backtrace', ['f+0x10']),
  ...m(ENTRY2, 'backtrace', [[1]], 'backtrace[0]'),
  ...m(ENTRY2, 'backtraceReliable', ['true']),
  ...m(ENTRY2, 'backtraceSources', [[1]], 'backtraceSources[0]'),
  ...m(ENTRY2, 'argv', ['key=alpha', {}]),
  ...m(ENTRY2, 'argv', [['x'], [null]], 'argv[0]'),
  ...m(ENTRY2, 'argv', [[{ name: 1 }]], 'argv[0].name'),
  ...m(ENTRY2, 'argv', [[{ type: {} }]], 'argv[0].type'),
  ...m(ENTRY2, 'argv', [[{ error: 3 }]], 'argv[0].error'),
  ...m(ENTRY2, 'argv', [[{ truncated: 'yes' }]], 'argv[0].truncated'),
  ...m(EXIT, 'function', [7]),
  ...m(EXIT, 'depth', [-1, 2 ** 40]),
  ...m(EXIT, 'retval', [1, 'one', null]),
  ...m(EXIT, 'unwound', ['false', null]),
  ...m(EXIT, 'durationNs', NS_BAD),
  ...m(EXIT, 'ret', ['1', [1]]),
  ...m(EXIT, 'ret', [{ name: 5 }], 'ret.name'),
  ...m(EXIT, 'reason', [5]),
  ...m(lineOf('fork'), 'parent', PID_BAD),
  ...m(lineOf('fork'), 'ts', NS_BAD),
  ...m(lineOf('exec'), 'file', [5, null]),
  ...m(lineOf('process-exit'), 'code', ['0', 1.5, 2 ** 40]),
  ...m(lineOf('process-exit'), 'signal', [9]),
  ...m(lineOf('process-exit'), 'pid', PID_BAD),
  ...m(lineOf('warning'), 'message', [5, null]),
  ...m(lineOf('refused'), 'message', [undefined]),
  ...m(lineOf('missed'), 'nmissed', [-1, '2', null, 1.5]),
  ...m(lineOf('missed'), 'maxActive', [0, '4096']),
  ...m(END_LINE, 'ts', NS_BAD),
  ...m(END_LINE, 'pids', ['100', null]),
  ...m(END_LINE, 'pids', [[0]], 'pids[0]'),
  ...m(END_LINE, 'calls', [-1, null, '2', 2 ** 60]),
  ...m(END_LINE, 'nmissed', [null, [], 5]),
  ...m(END_LINE, 'nmissed', [{ g: null }, { g: -1 }], 'nmissed["g"]'),
  ...m(END_LINE, 'functions', ['f', null]),
  ...m(END_LINE, 'functions', [[{ pid: 100, address: -1, function: 'f' }]], 'functions[0].address'),
  ...m(END_LINE, 'functions', [[{ pid: 100, address: 1, function: 5 }]], 'functions[0].function'),
  ...m(END_LINE, 'status', ['exited', 0]),
  ...m(END_LINE, 'status', [{ pid: 100, code: 0, signal: null, detached: 'no' }], 'status.detached'),
  ...m(END_LINE, 'status', [{ pid: 100, code: '0', signal: null, detached: false }], 'status.code'),
];

/** The valid record with one mutant applied, as text. */
export function mutated(mu: Mutant): string {
  const all = lines();
  const o = all[mu.line - 1];
  if (mu.value === undefined) delete o[mu.field];
  else o[mu.field] = mu.value;
  return text(all);
}
