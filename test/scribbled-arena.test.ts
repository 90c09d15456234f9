// Fast mode's arena is memory the program can write: a program that writes
// over its own rings and tables is hostile input to the tracer. The tracer
// never loops on it, never throws, never hangs: the damaged part is dropped
// and named in one line, and the run ends as the program does.
import { spawnSync } from 'child_process';
import { CLI, fixture, timeBound, untraced } from './helpers';

const PROGRAM = fixture('scribbler', 'O2');
const CALLS = 2000;

function traceScribbler(what: string) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'trace', '--mode', 'fast', '-f', 'tick', '--', PROGRAM, what, String(CALLS)], {
    encoding: 'utf8', timeout: timeBound(30000), maxBuffer: 64 << 20,
  });
  const notes = r.stderr.split('\n').filter((l) => l.startsWith('rethook:'));
  return { ...r, ms: Date.now() - started, notes, exits: r.stderr.split('\n').filter((l) => /tick\(.*\) = 0x/.test(l)).length };
}

const expected = untraced(PROGRAM, ['none', String(CALLS)]);

test.each(['head', 'tail', 'random'])(
  "a program that writes over its ring's %s runs as untraced; the tracer drops that ring's records and says so in one line",
  (what) => {
    for (let run = 0; run < 3; run++) {
      const r = traceScribbler(what);
      expect({ stdout: r.stdout, status: r.status, signal: r.signal }).toEqual({ stdout: expected.stdout, status: 0, signal: null });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // Said once. (A tail written over may be written again by the tracer's
      // own store of it before it reads it: then nothing was damaged for long, and nothing is said.)
      const said = r.notes.filter((l) => l.includes('damaged its own arena')).length;
      if (what === 'tail') expect(said).toBeLessThanOrEqual(1);
      else expect(said).toBe(1);
      // Tracing goes on after the damage: the calls of the second half are there.
      expect(r.exits).toBeGreaterThanOrEqual(CALLS / 2 - 1);
    }
  },
  timeBound(120000),
);

test('a program that points its site at a pool nobody has runs as untraced, and its later calls are not shown', () => {
  const r = traceScribbler('sites');
  expect({ stdout: r.stdout, status: r.status }).toEqual({ stdout: expected.stdout, status: 0 });
  expect(r.stderr).not.toMatch(/\n\s+at /);
  // That pool's maxActive is 0: the recorder lets every later call run unhooked.
  expect(r.exits).toBe(CALLS / 2 + 1);
}, timeBound(60000));

test('a program that sets its node stack deeper than it is: the deeper calls count as missed, and the run ends as its own damage makes it', () => {
  const r = traceScribbler('depth');
  // Its own call's node is now past the stack: the recorder may return it
  // anywhere (arm64: it dies of it), as untraced damage to its own memory would.
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (r.status === 0) {
    expect(r.stdout).toBe(expected.stdout);
    expect(r.notes).toContainEqual(expect.stringMatching(/^rethook: \d+ calls ran without a return hook: /));
  } else {
    expect(r.notes.some((l) => /process \d+ was killed by SIG/.test(l))).toBe(true);
  }
}, timeBound(60000));

test("a program that writes over its own call's node ends as its own damage makes it, and the tracer with it at once, in one line", () => {
  const r = traceScribbler('nodes');
  // The recorder follows the node the program damaged: the program may die
  // of it, as of any damage it does to its own memory, or run on.
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.ms).toBeLessThan(timeBound(30000));
  if (r.status === 0) expect(r.stdout).toBe(expected.stdout);
  else expect(r.notes.some((l) => /process \d+ was killed by SIG/.test(l))).toBe(true);
  expect(r.notes.filter((l) => !/killed by|damaged its own arena|calls ran without a return hook/.test(l))).toEqual([]);
}, timeBound(60000));
