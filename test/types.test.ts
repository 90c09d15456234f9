// Calls shown by name and type: DWARF (in the program, or in a separate file
// found by build-id), the built-in libc prototypes, and users' specs; in the
// text output, JSON and the API.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Tracer, TypedValue } from '../lib';
import { Captured, CLI, FIXTURES, scratchDir, trace } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { DEBUG_ROOT } = require('./build-fixtures');

const OWN = ['ints', 'flip', 'paint', 'scale', 'halve', 'sum_*', 'make_point', 'touch', 'measure', 'peek', 'two', 'lookup', 'u64max'];
const fns = (list: string[]) => list.flatMap((f) => ['-f', f]);

/** An address on the main thread's stack: 0x7ff… on x86-64, 0xfff… on arm64 (48-bit user space). */
const STACK_ADDRESS = /0x(?:7ff|fff)[0-9a-f]{9}\b/g;

/** The CLI with RETHOOK_DEBUG_DIRS set (an empty list: no debug directory, as without libc6-dbg). */
const IN_TRAP = /^rethook: \d+ functions? in trap mode \(/;

function traced(args: string[], debugDirs = '') {
  const r = spawnSync(process.execPath, [CLI, 'trace', ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, RETHOOK_DEBUG_DIRS: debugDirs } });
  // The header lines naming the functions left in trap mode (which ones depend on the build and the architecture) are checked where they matter.
  return { ...r, header: r.stderr.split('\n').filter((l) => IN_TRAP.test(l)), lines: r.stderr.split('\n').filter((l) => l && !IN_TRAP.test(l)).map((l) => l.replace(/^\s*\d+ /, '').replace(/ <[\d.]+ [num]?s>/, '').replace(STACK_ADDRESS, 'STACK')) };
}

const EXPECTED = [
  'ints(a=-1, b=-2, c=-3, d=-4, e=250, f=65000, g=4000000000, h=18446744073709551615) = 4000065239',
  'flip(b=true) = false',
  'paint(c=BLUE, mix=GREEN) = GREEN|BLUE',
  'paint(c=RED, mix=RED) = GREEN',
  'paint(c=GREEN, mix=BLUE) = GREEN|BLUE',
  'scale(v=1.5, f=2.0, n=3) = 9.0',
  'halve(f=5.0) = 2.5',
  'sum_point(p={x=3, y=4}) = 7',
  'sum_big(b={a=1, b=2, c=3}) = 6',
  'sum_mixed(m={d=0.5, l=2}) = 2.5',
  'make_point(x=7, y=-8) = {x=7, y=-8}',
  'touch(p=STACK)',
  'measure(s="hello \\"world\\"\\n", c=\'x\') = 15',
  'peek(s=0x10 <unreadable>) = -1',
  'peek(s=NULL) = -1',
  'two(a=9, b=4) = 5',
  'lookup(key="alpha", len=5) = 0',
  'u64max(v=18446744073709551615) = 18446744073709551615',
];

describe.each(['g-O0', 'g-O2'])('a program built with -g (%s)', (variant) => {
  test('shows every type family by its DWARF type, as many arguments as each function has', () => {
    const r = traced([...fns(OWN), '--', path.join(FIXTURES, `types.${variant}`)]);
    expect(r.status).toBe(0);
    expect(r.lines).toEqual(EXPECTED);
    // Arguments fast mode does not record (a second floating-point one; on x86-64 the stack) keep their functions in trap mode, so the values are the call's.
    const why = (fn: string) => r.header.find((l) => l.slice(l.lastIndexOf('): ') + 3).split(', ').includes(fn))?.replace(/^rethook: \d+ functions? in trap mode \((.*)\): .*$/, '$1');
    expect(why('scale')).toBe('it takes more floating-point arguments than fast mode records (one)');
    if (process.arch === 'x64') for (const fn of ['ints', 'sum_big']) expect(why(fn)).toBe('some of its arguments are on the stack, which fast mode does not record');
    if (process.arch === 'arm64') expect(why('sum_big')).toBe('a struct argument is passed by reference to a copy in the caller\'s memory, which fast mode does not record');
  });
});

test('JSON events carry typed argv and ret next to the raw args and retval', () => {
  const r = traced(['--format', 'json', ...fns(OWN), '--', path.join(FIXTURES, 'types.g-O2')]);
  const ev = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const entry = (f: string) => ev.find((e) => e.type === 'entry' && e.function === f);
  const exit = (f: string) => ev.find((e) => e.type === 'exit' && e.function === f);
  expect(entry('lookup').argv).toEqual([{ name: 'key', type: 'const char *', value: 'alpha' }, { name: 'len', type: 'int', value: 5 }]);
  expect(entry('lookup').args[1]).toBe('0x5'); // the raw fields stay as they were
  expect(exit('lookup').ret).toEqual({ type: 'int', value: 0 });
  expect(exit('lookup').retval).toBe('0x0');
  expect(entry('two').argv).toHaveLength(2);
  expect(exit('ints').ret).toEqual({ type: 'long int', value: 4000065239 });
  expect(exit('u64max').ret).toEqual({ type: 'long unsigned int', value: '18446744073709551615' }); // does not fit a double exactly
  expect(entry('scale').argv).toEqual([{ name: 'v', type: 'double', value: 1.5 }, { name: 'f', type: 'float', value: 2 }, { name: 'n', type: 'int', value: 3 }]);
  expect(exit('scale').ret).toEqual({ type: 'double', value: 9 });
  expect(entry('flip').argv[0]).toEqual({ name: 'b', type: '_Bool', value: true });
  expect(entry('paint').argv[0]).toEqual({ name: 'c', type: 'enum color', value: 'BLUE' });
  expect(entry('measure').argv[1]).toEqual({ name: 'c', type: 'char', value: 120 });
  expect(entry('peek').argv[0]).toEqual({ name: 's', type: 'const char *', value: '0x10', error: 'unreadable' });
  expect(entry('touch').argv[0]).toMatchObject({ name: 'p', type: 'struct point *', value: expect.stringMatching(/^0x[0-9a-f]+$/) });
  expect(exit('touch').ret).toEqual({ type: 'void' });
  expect(entry('sum_point').argv[0]).toEqual({ name: 'p', type: 'struct point', value: { x: 3, y: 4 } });
  expect(exit('make_point').ret).toEqual({ type: 'struct point', value: { x: 7, y: -8 } });
});

test('the API gives the same values: ctx.values, ctx.arg(name), ctx.returnValue, with the bigint args untouched', async () => {
  const seen: Record<string, unknown> = {};
  await trace(path.join(FIXTURES, 'types.g-O0'), ['lookup', 'scale', 'touch', 'peek'], {
    handlers: {
      onEntry(c) {
        if (c.function === 'lookup') {
          seen.key = c.arg('key');
          seen.len = c.arg('len');
          seen.names = c.values!.map((v: TypedValue) => v.name);
          seen.args = c.args.length;
          seen.source = c.signature?.source;
        }
        if (c.function === 'scale') seen.v = c.arg(0);
        if (c.function === 'peek' && !seen.bad) seen.bad = c.values![0];
      },
      onExit(c) {
        if (c.function === 'lookup') seen.ret = c.returnValue;
        if (c.function === 'scale') seen.fp = [c.returnValue!.value, c.fpRetval];
        if (c.function === 'touch') seen.void = c.returnValue!.kind;
        if (c.function === 'lookup') seen.exitKey = c.arg('key'); // read at entry, kept
      },
    },
  });
  expect(seen).toEqual({
    key: 'alpha', len: 5, names: ['key', 'len'], args: process.arch === 'x64' ? 6 : 8, source: 'dwarf', v: 1.5,
    bad: { name: 's', type: 'const char *', kind: 'str', value: 16, text: '0x10 <unreadable>', error: 'unreadable' },
    ret: { name: null, type: 'int', kind: 'int', value: 0, text: '0' }, fp: [9, 9], void: 'void', exitKey: 'alpha',
  });
});

test('a C library function without debug information is shown from the built-in prototypes', () => {
  const r = traced(['-f', 'strlen', '-f', 'usleep', '-f', 'open', '-f', 'close', '--', path.join(FIXTURES, 'types.g-O0')]);
  expect(r.status).toBe(0);
  expect(r.lines).toContain('strlen(s="alpha") = 5');
  expect(r.lines).toContain('usleep(usec=2000) = 0');
  expect(r.lines).toContain('open(pathname="/dev/null", flags=0x80000, ...) = 3');
  expect(r.lines).toContain('close(fd=3) = 0');
});

test("a user's spec overrides DWARF: -f with types, --prototypes FILE, and the API's args/ret", async () => {
  const bin = path.join(FIXTURES, 'types.g-O0');
  const r = traced(['-f', 'lookup(str name, hex n) -> u8', '-f', 'two', '--', bin]);
  expect(r.lines).toEqual(['two(a=9, b=4) = 5', 'lookup(name="alpha", n=0x5) = 0']);
  const file = path.join(scratchDir(), 'protos.h');
  fs.writeFileSync(file, '// mine\nint two(unsigned char x, ...);\nlookup(str) -> bool\n');
  expect(traced(['--prototypes', file, '-f', 'two', '-f', 'lookup', '--', bin]).lines).toEqual(['two(x=9, ...) = 5', 'lookup("alpha") = false']);
  expect(traced(['--prototypes', '/nonexistent/p.h', '-f', 'two', '--', bin]).stderr).toBe('rethook: cannot read /nonexistent/p.h: ENOENT\n');
  expect(traced(['-f', 'two(wat x) -> int', '--', bin]).stderr).toMatch(/^rethook: prototype 'two\(wat x\) -> int': cannot read the type 'wat x'\n/);
  // The API: args/ret over DWARF for every function of the hook.
  const out = new Captured();
  const t = await Tracer.spawn(bin, [], { stdio: ['inherit', out.fd, 'inherit'] });
  const seen: string[] = [];
  t.hook('lookup', { args: ['const char *name', { name: 'n', type: 'hex' }], ret: 'bool', onExit: (c) => void seen.push(`${c.values!.map((x) => x.text)} ${c.returnValue!.text} ${c.signature!.source}`) });
  expect(() => t.hook('two', { args: ['wat'] })).toThrow(TypeError);
  await t.run();
  out.text();
  expect(seen).toEqual(['"alpha",0x5 false spec']);
});

test('debug information split into a separate file is found by build-id', () => {
  const bin = path.join(FIXTURES, 'types.split');
  expect(traced(['-f', 'lookup', '--', bin], DEBUG_ROOT).lines).toEqual(['lookup(key="alpha", len=5) = 0']);
  // Without the debug directory, the same program shows raw registers.
  expect(traced(['-f', 'lookup', '--', bin], '').lines[0]).toMatch(/^lookup\(0x[0-9a-f]+, 0x5, 0x[0-9a-f]+\) = 0x0$/);
});

test('a stripped program gets a hint, and -f ADDRESS hooks a function by its address (typed from a spec)', () => {
  const bin = path.join(FIXTURES, 'types.stripped');
  const r = traced(['-f', 'lookup', '--', bin]);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe("rethook: -f 'lookup' never matched: no function matched in any object loaded; if it is a function of types.stripped itself: types.stripped has no symbol table: only its exported functions can be hooked; install its debug symbols or hook by address (-f 0x1234, as objdump -d shows it)\n");
  // The address objdump shows for lookup in the same program with its symbols (built alike).
  const withSyms = path.join(scratchDir(), 'types.syms');
  spawnSync('gcc', ['-O0', '-o', withSyms, path.join(__dirname, 'fixtures', 'types.c')]);
  const nm = spawnSync('nm', [withSyms], { encoding: 'utf8' }).stdout;
  const addr = /^([0-9a-f]+) T lookup$/m.exec(nm)![1].replace(/^0+/, '');
  spawnSync('strip', ['-s', withSyms]);
  const byAddr = traced(['-f', `0x${addr}(str key, int len) -> int`, '--', withSyms]);
  expect(byAddr.lines).toEqual([`types.syms+0x${addr}(key="alpha", len=5) = 0`]);
  // Its size unknown, fast mode cannot decode it: it is in trap mode, and said so.
  expect(byAddr.header).toEqual([`rethook: 1 function in trap mode (its size is unknown (fast mode decodes the whole function)): types.syms+0x${addr}`]);
  const scoped = traced(['-f', `types.syms+0x${addr}`, '--', withSyms]);
  expect(scoped.lines[0]).toMatch(new RegExp(`^types\\.syms\\+0x${addr}\\(0x[0-9a-f]+, 0x5, 0x[0-9a-f]+\\) = 0x0$`));
});

test('among aliases at one address, the public name is shown', async () => {
  const names: string[] = [];
  await trace(path.join(FIXTURES, 'types.g-O0'), 'close', { handlers: { onEntry: (c) => void names.push(c.backtrace().frames[0].symbol) } });
  expect(names[0]).toMatch(/^libc\.so\.6!close\+0x0$/);
});
