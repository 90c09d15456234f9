// Functions of a library loaded later (dlopen), named without `lib:` (issue
// 24, item 8): the CLI keeps a bare pattern that matches nothing yet for
// objects loaded later, names it at the end if it never matched (the exit
// status stays the program's), and never blames the program's symbol table
// for a function that lives in a library.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RethookError, Tracer } from '../lib';
import { Captured, cli, fixture, FIXTURES, MODES, scratchDir } from './helpers';

const LIB = path.join(FIXTURES, 'libhd.so');
let runs = 0;

/** The JSON events and what the CLI said, of `rethook trace` over `program libhd.so`. */
function traced(mode: string, patterns: string[], program = fixture('dlopen_main', 'O2')) {
  const out = path.join(scratchDir(), `events-${runs++}.json`);
  const r = cli(['trace', '--mode', mode, '--format', 'json', '-o', out, ...patterns.flatMap((p) => ['-f', p]), '--', program, LIB]);
  const events = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const calls = events.filter((e) => e.type === 'entry' || e.type === 'exit').map((e) => (e.type === 'entry' ? `> ${e.function} ${Number(e.args[0])}` : `< ${e.function} = ${Number(e.retval)}`));
  return { ...r, calls };
}

/** dlopen_main with no symbol table at all (strip -s), as Debian ships its programs. */
function strippedMain(): string {
  const file = path.join(scratchDir(), 'dlopen_main.stripped');
  if (!fs.existsSync(file)) {
    fs.copyFileSync(fixture('dlopen_main', 'O2'), file);
    execFileSync('strip', ['-s', file]);
  }
  return file;
}

describe.each(MODES)('%s mode', (mode) => {
  test('-f hd_fn hooks hd_fn in the library the program dlopens later', () => {
    const r = traced(mode, ['hd_fn']);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: 'twice=42\n', stderr: '' });
    expect(r.calls).toEqual(['> hd_fn 21', '< hd_fn = 21']);
  });

  test('a name that is nowhere is named at the end with close names; the exit status is the program\'s', () => {
    const r = traced(mode, ['hd_fn', 'hd_fm_typo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('twice=42\n');
    expect(r.calls).toEqual(['> hd_fn 21', '< hd_fn = 21']);
    expect(r.stderr).toBe("rethook: -f 'hd_fm_typo' never matched: no function matched\n");
    // The calls fixture's greet, misspelt: the program runs, then the note suggests it (one swap away).
    const c = cli(['trace', '--mode', mode, '-f', 'grete', '--', fixture('calls')]);
    expect({ status: c.status, stdout: c.stdout }).toEqual({ status: 7, stdout: 'hello, world\nsum=33 scaled=10.00\n' });
    expect(c.stderr).toBe("rethook: -f 'grete' never matched: no function matched (did you mean 'greet', 'free', 'getc'?)\n");
  });

  test('a stripped program: a library function it dlopens is found, with no word of its symbol table', () => {
    const r = traced(mode, ['hd_fn'], strippedMain());
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.calls).toEqual(['> hd_fn 21', '< hd_fn = 21']);
  });

  test('a stripped program: a name found nowhere mentions the symbol table only as one possibility, at the end', () => {
    const file = strippedMain();
    const r = traced(mode, ['hd_fn', 'main_helper'], file);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`rethook: -f 'main_helper' never matched: no function matched in any object loaded; if it is a function of ${path.basename(file)} itself: ` +
      `${path.basename(file)} has no symbol table: only its exported functions can be hooked; install its debug symbols or hook by address (-f 0x1234, as objdump -d shows it)\n`);
  });
});

test('the API: unmatched "wait" keeps the pattern for dlopen; by default a name matching nothing throws', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('dlopen_main', 'O2'), [LIB], { stdio: [0, out.fd, 2] });
  expect(() => t.hook('hd_fn')).toThrow(expect.objectContaining({ name: 'RethookError', code: 'ENOSYMBOL' }) as unknown as RethookError);
  expect(() => t.hook('hd_fn', { unmatched: 'later' as never })).toThrow(new TypeError("Expected unmatched to be 'error' or 'wait'"));
  const rets: bigint[] = [];
  const hook = t.hook(['hd_fn', 'nowhere_fn'], { unmatched: 'wait', onExit: (c) => void rets.push(c.retval!) });
  expect(hook.functions).toEqual([]);
  const st = await t.run();
  expect(st.code).toBe(0);
  expect(rets).toEqual([21n]);
  expect(hook.functions.map((f) => f.function)).toEqual(['hd_fn']);
  expect(hook.unmatched).toEqual([{ pattern: 'nowhere_fn', reason: 'no function matched' }]);
  expect(out.text()).toBe('twice=42\n');
});
