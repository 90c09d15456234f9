// After exec a thread runs on a new stack: calls of the new image that a
// followed fork child inherits are kept (not taken for dead frames).
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, scratchDir, untraced, VARIANTS } from './helpers';

test.each(VARIANTS)('a child forked inside a hooked call after exec returns from it, its exit marked inherited (%s)', (v) => {
  const file = fixture('exec_then_fork', v);
  const out = path.join(scratchDir(), `etf-${v}.jsonl`);
  const r = cli(['trace', '--follow-fork', '--format', 'json', '-o', out, '-f', 'split', '-f', 'warm', '--', file]);
  expect(r).toEqual(untraced(file));
  // (the stream's first event says how calls are caught: no pid, not a call)
  const evs = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type !== 'fallbacks' && e.type !== 'fallback');
  const parent = evs[0].pid;
  const calls = evs.filter((e) => e.type !== 'process-exit').map((e) => [e.pid === parent ? 'parent' : 'child', e.type, e.function, e.retval ?? null, e.inherited ?? false]);
  // The call it inherited in flight opens its stream, as an entry marked inherited.
  expect(calls.filter((c) => c[0] === 'child')).toEqual([['child', 'entry', 'split', null, true], ['child', 'exit', 'split', '0xb', true]]);
  expect(calls.filter((c) => c[0] === 'parent')).toEqual([
    ['parent', 'entry', 'warm', null, false], ['parent', 'exit', 'warm', '0x2', false],
    ['parent', 'entry', 'split', null, false], ['parent', 'exit', 'split', '0xa', false],
  ]);
});
