import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RethookError, Tracer } from '../lib';
import { Captured, cli, expectOneLineError, fixture, MODES, scratchDir, waitForState } from './helpers';

describe('the CLI refuses bad input with a one-line error', () => {
  test('a program that is not executable', () => {
    const file = path.join(scratchDir(), 'prog');
    fs.copyFileSync(fixture('calls'), file);
    fs.chmodSync(file, 0o644);
    expectOneLineError(cli(['trace', '-f', 'x', '--', file]), /^rethook: \S+\/prog is not executable$/);
  });
  // A pattern may name a function of a library loaded later (dlopen): the program runs, the note comes at the end.
  test('a pattern that matches nothing is named at the end, with close names; the exit status is the program\'s', () => {
    const r = cli(['trace', '-f', 'ad', '--', fixture('calls')]);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/^rethook: -f 'ad' never matched: no function matched \(did you mean 'add'.*\?\)\n$/);
  });
  test('a glob that matches nothing is named at the end', () => {
    const r = cli(['trace', '-f', 'zz_*', '--', fixture('calls')]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 7, stderr: "rethook: -f 'zz_*' never matched: no function matched\n" });
  });
});

describe('the API refuses bad input', () => {
  test('options are validated with TypeErrors before anything starts', async () => {
    await expect(Tracer.spawn(fixture('calls'), 'x' as unknown as string[])).rejects.toThrow(new TypeError('Expected args to be an array of strings'));
    await expect(Tracer.spawn(fixture('calls'), [], { maxActive: 0 })).rejects.toThrow(new TypeError('Expected maxActive to be a positive integer'));
    await expect(Tracer.spawn(fixture('calls'), [], { stdio: ['x' as never] })).rejects.toThrow(TypeError);
    await expect(Tracer.spawn('')).rejects.toThrow(new TypeError('Expected the program to be a non-empty string'));
  });

  test('hook options are validated with TypeErrors', async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: [0, new Captured().fd, 2] });
    expect(() => t.hook('add', { onExit: 3 as never })).toThrow(new TypeError('Expected onExit to be a function'));
    expect(() => t.hook('add', { onEntry: () => undefined, bogus: 1 } as never)).toThrow(new TypeError("Unknown hook option 'bogus'"));
    expect(() => t.hook([] as string[])).toThrow(TypeError);
    expect(() => t.hook('nope_nothing')).toThrow(RethookError);
    t.kill();
    await expect(t.run().catch((e) => e)).resolves.toMatchObject({ signal: 'SIGKILL' });
  });

});

describe('a handler that throws', () => {
  test.each(['onEntry', 'onExit'])('in %s detaches cleanly: run() rejects and the program finishes untraced and unharmed', async (which) => {
    const out = new Captured();
    const t = await Tracer.spawn(fixture('recursion', 'O2'), [], { stdio: [0, out.fd, 2] });
    let calls = 0;
    const boom = () => {
      if (++calls === 3) throw new Error('boom\nsecond line');
    };
    t.hook('fact', which === 'onEntry' ? { onEntry: boom } : { onExit: boom });
    // (the handler's own error is its cause: jest's toThrow(error) would compare causes too)
    await expect(t.run()).rejects.toMatchObject({ name: 'RethookError', message: `${which} handler for fact threw: boom`, code: 'EHANDLER' });
    // Detached mid-recursion with calls in flight: the program still computes
    // the right result, so every hijacked return address was put back.
    const how = await waitForExit(t.pid);
    expect([how, out.text()]).toEqual(['exited', 'fact(5)=120\n']);
  });
});

describe('a handler whose promise rejects', () => {
  const cases = MODES.flatMap((mode) => [['onEntry', mode], ['onExit', mode]] as const);
  test.each(cases)('in %s, after the tracer has seen the program exit, fails run() as a throw does (%s mode)', async (which, mode) => {
    const out = new Captured();
    const t = await Tracer.spawn(fixture('recursion'), [], { stdio: [0, out.fd, 2] });
    let calls = 0;
    // The first call's handler settles only once the program has exited and
    // the tracer has reaped it: its rejection comes after the exit was seen.
    const late = async () => {
      if (++calls !== 1) return;
      await waitForState(t.pid, '');
      throw new Error('late boom\nsecond line');
    };
    const hook = t.hook('fact', which === 'onEntry' ? { mode, onEntry: late } : { mode, onExit: late });
    expect(hook.fellBack).toEqual([]);
    await expect(t.run()).rejects.toMatchObject({ name: 'RethookError', message: `${which} handler for fact threw: late boom`, code: 'EHANDLER' });
    expect([calls, out.text()]).toEqual([5, 'fact(5)=120\n']);
  });
});

/** The program was our child: wait until it has exited untraced (a zombie we never reap). */
async function waitForExit(pid: number): Promise<string> {
  const st = await waitForState(pid, 'Z', 2000);
  return st === 'Z' ? 'exited' : st === null ? 'gone' : st;
}

(process.arch === 'x64' ? describe : describe.skip)('an instruction the engine cannot step over', () => {
  test('is refused at hook time with the function name and bytes', () => {
    expectOneLineError(
      cli(['trace', '-f', 'jrcxzfirst', '--', fixture('vexfirst')]),
      /^rethook: cannot hook jrcxzfirst at 0x[0-9a-f]+: relative branch that is neither emulated nor relocatable \(bytes e3 00 b8 05 00 00 00 c3\)$/,
    );
  });

  test('in a glob is skipped with a note, and the rest is traced (VEX first instructions run out of line, RIP-relative ones re-based)', () => {
    // Trap mode: stepping a first instruction out of line is the trap engine's (fast mode patches these functions instead).
    const r = cli(['trace', '--mode', 'trap', '-f', '*first', '-f', 'vex*', '--', fixture('vexfirst')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('3 4 7 5\n');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^rethook: cannot hook jrcxzfirst at 0x[0-9a-f]+: relative branch/);
    expect(lines.slice(1).map((l) => l.replace(/^\s*\d+ /, '').replace(/\(.*\)/, '()').replace(/<.*>/, ''))).toEqual([
      'vexrip() = 0x7 ', 'vexsecond() = 0x4 ', 'vexfirst() = 0x3 ', // printf's arguments, last first
    ]);
  });
});
