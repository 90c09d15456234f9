// Frames are ended only when proven gone; a trap of ours that no call
// explains is the program's own.
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, scratchDir, trace, untraced, VARIANTS } from './helpers';

describe.each(VARIANTS)('%s', (v) => {
  test('a coroutine on a stack inside a live frame does not end the call that switched to it', async () => {
    const r = await trace(fixture('coroutine', v), ['run', 'step']);
    expect(r.stdout).toBe(untraced(fixture('coroutine', v)).stdout);
    expect(r.events).toEqual([
      '> run 3', '> step 0', '< step = 1', '> step 1', '< step = 2', '> step 2', '< step = 3', '< run = 3',
    ]);
  });

  test("the program's own call into rethook's page gets the SIGTRAP it would get, not a tracer failure", () => {
    const plain = untraced(fixture('stray_call', v));
    expect(plain).toEqual({ stdout: 'tick=2\ngot SIGTRAP\n', stderr: '', status: 3, signal: null });
    expect(cli(['trace', '-o', '/dev/null', '-f', 'tick', '--', fixture('stray_call', v)])).toEqual(plain);
  });
});

describe('entry points', () => {
  test("a glob over a whole program skips its entry point and the program runs as untraced", () => {
    const file = fixture('calls', 'O2');
    const plain = untraced(file);
    const out = path.join(scratchDir(), 'whole-program.txt');
    const r = cli(['trace', '-o', out, '-f', 'calls.O2:*', '--', file]);
    expect(r).toEqual(plain);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toMatch(/^rethook: cannot hook _start at 0x[0-9a-f]+: it is the entry point of calls\.O2/m);
    expect(text).toMatch(/^\s*\d+ main\(/m);
  });

  test('an exact name that asks for the entry point is refused in one line', () => {
    const r = cli(['trace', '-f', '_start', '--', fixture('calls')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rethook: cannot hook _start at 0x[0-9a-f]+: it is the entry point of calls\.O0/);
  });
});
