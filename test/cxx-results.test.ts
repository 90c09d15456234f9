// C++ functions that return a class by value take a hidden pointer to the
// result (x86-64: in rdi, the arguments one register later; arm64: in x8).
// Debug information says which results go through memory (a class not
// trivially copyable, a large aggregate): the arguments are read where they
// are, and the result where the hidden pointer points (trap mode: the
// thread is stopped at the return). Checked against what the program prints.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Tracer, TypedValue } from '../lib';
import { Captured, CLI, FIXTURES, MODES, scratchDir } from './helpers';

const ARGS = ['lid', '7'];

/** What the program printed: `label lid 7 -> lid#7`, `tag lid 7 -> lid! 14`, `box 7 -7 5 -> 7 -7 5 5`. */
function printed(stdout: string): Record<string, { args: string[]; result: string[] }> {
  const out: Record<string, { args: string[]; result: string[] }> = {};
  for (const l of stdout.trim().split('\n')) {
    const [fn, ...rest] = l.split(' ');
    const arrow = rest.indexOf('->');
    out[fn] = { args: rest.slice(0, arrow), result: rest.slice(arrow + 1) };
  }
  return out;
}

describe.each(['g-O0', 'g-O2'])('a C++ program built with %s', (variant) => {
  const file = path.join(FIXTURES, `cxxvalues.${variant}`);

  test.each(MODES)('JSON shows the arguments of functions returning classes by value as the program passed them (%s mode)', (mode) => {
    const events = path.join(scratchDir(), `events-${variant}-${mode}`);
    const r = spawnSync(process.execPath, [CLI, 'trace', '--mode', mode, '--format', 'json', '-o', events, '-f', 'geo::*', '--', file, ...ARGS], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(0);
    const p = printed(r.stdout);
    const ev = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const entry = (f: string) => ev.find((e) => e.type === 'entry' && e.function.startsWith(`geo::${f}`));
    const exit = (f: string) => ev.find((e) => e.type === 'exit' && e.function.startsWith(`geo::${f}`));
    const argv = (f: string) => entry(f).argv.map((a: { name: string; value: unknown }) => [a.name, String(a.value)]);

    expect(argv('label')).toEqual([['name', p.label.args[0]], ['n', p.label.args[1]]]);
    expect(argv('tag')).toEqual([['name', p.tag.args[0]], ['n', p.tag.args[1]]]);
    expect(argv('box')).toEqual([['x', p.box.args[0]], ['y', p.box.args[1]], ['side', p.box.args[2]]]);

    if (mode === 'trap') {
      // The result, read where the hidden pointer points once the call returned.
      expect(exit('label').ret.value).toBe(p.label.result[0]);
      expect(exit('tag').ret.value).toEqual({ text: p.tag.result[0], n: Number(p.tag.result[1]) });
      const [x, y, w, h] = p.box.result.map(Number);
      expect(exit('box').ret.value).toEqual({ x, y, w, h });
    } else {
      // Recorded in process and read later, when the result's memory may be reused: not read, not garbage.
      for (const f of ['label', 'tag', 'box']) expect(exit(f).ret.value).toBeNull();
    }
  });
});

test('the API gives the arguments and the result of a function returning std::string by value (trap mode)', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(path.join(FIXTURES, 'cxxvalues.g-O2'), ARGS, { stdio: ['inherit', out.fd, 'inherit'] });
  const seen: { args: TypedValue[] | null; ret: TypedValue | null }[] = [];
  t.hook('geo::label*', { mode: 'trap', onExit: (c) => void seen.push({ args: c.values, ret: c.returnValue }) });
  expect(await t.run()).toMatchObject({ code: 0 });
  const p = printed(out.text());
  expect(seen).toHaveLength(1);
  expect(seen[0].args?.map((v) => v.text)).toEqual([`"${p.label.args[0]}"`, p.label.args[1]]);
  expect(seen[0].ret).toMatchObject({ kind: 'str', value: p.label.result[0], text: `"${p.label.result[0]}"` });
});
