// A thread's calls nest whichever way each is caught: a call's depth counts
// every call in flight under it, patched (fast mode), trapped, or caught at
// its return site. mixed_depth: outer (setjmp inside) > middle > leaf.
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, cli, fixture, scratchDir, untraced } from './helpers';

const PROGRAM = fixture('mixed_depth');
type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('the CLI with no --mode: setjmp, caught at its return site in trap mode, sits one deeper than the patched call it is made in', () => {
  const out = path.join(scratchDir(), 'mixed-depth.jsonl');
  const r = cli(['trace', '--format', 'json', '-o', out, '-f', 'outer', '-f', 'middle', '-f', 'leaf', '-f', 'libc.so.6:_setjmp', '--', PROGRAM]);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(untraced(PROGRAM).stdout);
  const events: Ev[] = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Only _setjmp is in trap mode: the others are patched.
  expect(events[0].fallbacks.map((f: Ev) => f.function)).toEqual(['_setjmp']);
  const calls = events.filter((e) => e.type === 'entry' || e.type === 'exit').map((e) => `${e.type === 'entry' ? '>' : '<'} ${e.function} ${e.depth}`);
  // The C library's start code calls _setjmp once before main, at depth 0.
  expect(calls.slice(0, 2)).toEqual(['> _setjmp 0', '< _setjmp 0']);
  expect(calls.slice(2)).toEqual(['> outer 0', '> _setjmp 1', '< _setjmp 1', '> middle 1', '> leaf 2', '< leaf 2', '< middle 1', '< outer 0']);
});

test('hooks of the two modes in one process: a patched call inside a trapped one inside a patched one, and the reverse, each one deeper', async () => {
  for (const [outerMode, middleMode] of [['fast', 'trap'], ['trap', 'fast']] as const) {
    const out = new Captured();
    const t = await Tracer.spawn(PROGRAM, [], { stdio: ['inherit', out.fd, 'inherit'] });
    const seen: string[] = [];
    const handlers = (mode: 'trap' | 'fast') => ({
      mode,
      onEntry: (c: { function: string; depth: number }) => void seen.push(`> ${c.function} ${c.depth}`),
      onExit: (c: { function: string; depth: number }) => void seen.push(`< ${c.function} ${c.depth}`),
    });
    const hooks = [t.hook('outer', handlers(outerMode)), t.hook('middle', handlers(middleMode)), t.hook('leaf', handlers(outerMode))];
    expect(hooks.flatMap((h) => h.fellBack)).toEqual([]);
    const status = await t.run();
    expect(status.code).toBe(0);
    expect(out.text()).toBe('42\n');
    expect(seen).toEqual(['> outer 0', '> middle 1', '> leaf 2', '< leaf 2', '< middle 1', '< outer 0']);
  }
});

test('a record of the same run holds the same nesting: its patched calls, transcoded from the rings, and its trapped ones in one stream', () => {
  const rec = path.join(scratchDir(), 'mixed-depth.rethook');
  const r = cli(['record', '-o', rec, '-f', 'outer', '-f', 'middle', '-f', 'leaf', '-f', 'libc.so.6:_setjmp', '--', PROGRAM]);
  expect(r.status).toBe(0);
  const d = cli(['dump', rec]);
  expect(d.status).toBe(0);
  const calls = d.stdout.trim().split('\n').map((l) => JSON.parse(l) as Ev).filter((e) => e.type === 'entry' || e.type === 'exit')
    .map((e) => `${e.type === 'entry' ? '>' : '<'} ${e.function} ${e.depth}`);
  expect(calls).toEqual(['> _setjmp 0', '< _setjmp 0', '> outer 0', '> _setjmp 1', '< _setjmp 1', '> middle 1', '> leaf 2', '< leaf 2', '< middle 1', '< outer 0']);
});
