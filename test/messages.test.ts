// Messages that name the real problem (issue 24, item 10): options before the
// command, a misspelt name, a process another tracer holds, a duration with
// no unit, a --tid no thread of the record had, and report's own --help.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cli, expectOneLineError, expectUsageError, fixture, MODES, scratchDir } from './helpers';
import { waitUntil } from './time-bound';

test('options before the command: the message says the command comes first', () => {
  expectUsageError(cli(['--mode', 'fast', 'record', '-f', 'add', '--', fixture('calls')]), /^rethook: 'record' is a command: it comes first \(rethook record \[options\] \.\.\.\), before any option$/);
  expectUsageError(cli(['--mode', 'trap', 'report', 'run.rethook']), /^rethook: 'report' is a command: it comes first/);
});

test('a program named like a command still runs after --', () => {
  // `--` says the program begins: `record` there is the program's name, not a misplaced command.
  expectOneLineError(cli(['--mode', 'trap', '-f', 'add', '--', 'record']), /^rethook: record: no such program$/);
});

test.each(MODES)('a misspelt name suggests the name with two letters swapped first (%s mode)', (mode) => {
  // grete -> greet is one transposition; free, getc and gets are two edits away.
  const r = cli(['trace', '--mode', mode, '-f', 'grete', '--', fixture('calls')]);
  expect(r.stderr).toMatch(/'grete'.* \(did you mean 'greet'[,?]/);
});

test.each(MODES)('attaching to a process another tracer holds names that tracer, by pid and command (%s mode)', async (mode) => {
  const holder = spawn(fixture('held'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    holder.stdout!.on('data', (d) => (out += d));
    await waitUntil('the held child to be named', () => out.endsWith('\n'));
    const child = Number(out.trim());
    await waitUntil('the child to be traced', () => new RegExp(`^TracerPid:\\s+${holder.pid}$`, 'm').test(fs.readFileSync(`/proc/${child}/status`, 'utf8')));
    const r = cli(['trace', '--mode', mode, '-f', 'pause', '-p', String(child)]);
    expectOneLineError(r, new RegExp(`^rethook: cannot attach to process ${child}: it is traced by process ${holder.pid} \\(${fixture('held').replace(/[.]/g, '\\.')}\\); a process has one tracer at a time: stop that one first$`));
    process.kill(child, 'SIGKILL');
  } finally {
    await new Promise((r) => (holder.exitCode !== null ? r(null) : holder.on('exit', r)));
  }
});

test('--min-duration without a unit is refused with one line', () => {
  expectUsageError(cli(['trace', '--mode', 'trap', '--min-duration', '10', '-f', 'add', '--', fixture('calls')]), /^rethook: --min-duration expects a duration such as 10us, 1\.5ms or 2s, got '10'$/);
  expectUsageError(cli(['report', '--slow', '2.5', 'x.rethook']), /^rethook: --slow expects a duration .* got '2\.5'$/);
});

describe.each(MODES)('a record made in %s mode', (mode) => {
  const file = path.join(scratchDir(), `calls-${mode}.rethook`);
  beforeAll(() => {
    const r = cli(['record', '--mode', mode, '-o', file, '-f', 'add', '--', fixture('calls')]);
    expect(r.status).toBe(7);
  });

  test('report --tid naming no thread of the record says so, exits 1', () => {
    const tid = /"tid":(\d+)/.exec(fs.readFileSync(file, 'utf8'))![1];
    const r = cli(['report', '--tid', '999999', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`rethook: ${file} has no calls of thread 999999 (its threads: ${tid})\n`);
    // The thread that did call: a success, its three calls.
    const ok = cli(['report', '--tid', tid, '--format', 'json', file]);
    expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
    expect(ok.stdout).toMatch(/"calls":3\b/);
  });
});

test('report --help says its text format is the summary, replay --help that it is the call tree', () => {
  const report = cli(['report', '--help']);
  expect(report.status).toBe(0);
  expect(report.stdout).toMatch(/--format F {10}text: the summary table \(default\)/);
  expect(report.stdout).not.toMatch(/call tree/);
  expect(cli(['replay', '--help']).stdout).toMatch(/--format F {10}text: an indented call tree \(default\)/);
});
