import { execFileSync } from 'child_process';
import { Tracer } from '../lib';
import { fixture, loadBias, MODES, trace, VARIANTS } from './helpers';

const CASES = MODES.flatMap((mode) => VARIANTS.map((v) => [mode, v] as const));

describe.each(CASES)('return hooking (%s mode, %s)', (mode, v) => {
  test('reports each call with its arguments and return value', async () => {
    const r = await trace(fixture('calls', v), 'add', { nargs: 2, mode });
    expect(r.events).toEqual(['> add 0 10', '< add = 10', '> add 1 10', '< add = 11', '> add 2 10', '< add = 12']);
    expect(r.status).toEqual({ pid: r.tracer.pid, code: 7, signal: null, detached: false });
    expect(r.stdout).toBe('hello, world\nsum=33 scaled=10.00\n');
    // Built without optimization, add is long enough to be patched: fast mode is really used.
    if (mode === 'fast' && v.startsWith('O0')) expect(r.hook.fellBack).toEqual([]);
  });

  test('gives every level of a recursion its own return value, innermost first', async () => {
    const r = await trace(fixture('recursion', v), 'fact', { mode });
    expect(r.events).toEqual([
      '> fact 5', '> fact 4', '> fact 3', '> fact 2', '> fact 1',
      '< fact = 1', '< fact = 2', '< fact = 6', '< fact = 24', '< fact = 120',
    ]);
    expect(r.stdout).toBe('fact(5)=120\n');
  });

  test('runs both exit handlers, innermost first, on the one return of a tail call', async () => {
    const r = await trace(fixture('tailcall', v), ['outer', 'inner'], { mode });
    expect(r.events).toEqual(['> outer 2', '> inner 3', '< inner = 9', '< outer = 9']);
    expect(r.stdout).toBe('outer=9\n');
  });

  test('reports frames skipped by longjmp as unwound, innermost first', async () => {
    const r = await trace(fixture('longjmp', v), ['deep', 'deeper', 'after'], { mode });
    expect(r.events).toEqual([
      '> deep 41', '> deeper 42', '< deeper unwound(longjmp)', '< deep unwound(longjmp)', '> after 42', '< after = 84',
    ]);
    expect(r.stdout).toBe('jumped=42 after=84\n');
  });

  test('hands ctx.data from onEntry to onExit of the same call', async () => {
    const seen: string[] = [];
    await trace(fixture('recursion', v), 'fact', {
      mode,
      handlers: {
        onEntry: (c) => void (c.data = `n=${c.args[0]}`),
        onExit: (c) => void seen.push(`${c.data}:${c.retval}`),
      },
    });
    expect(seen).toEqual(['n=1:1', 'n=2:2', 'n=3:6', 'n=4:24', 'n=5:120']);
  });

  test('reports the real return address and a positive duration', async () => {
    const file = fixture('calls', v);
    const rets: number[] = [];
    const exitRets: number[] = [];
    const durations: bigint[] = [];
    let bias: number | null = null;
    await trace(file, 'add', {
      mode,
      setup: (t) => void (bias = loadBias(t.pid, file)), // stopped before its first instruction: the program is mapped
      handlers: {
        onEntry: (c) => void rets.push(c.returnAddress),
        onExit: (c) => {
          exitRets.push(c.returnAddress);
          durations.push(c.durationNs);
        },
      },
    });
    // The instruction after main's call of add, from the binary, moved by the load bias.
    const sites = returnSitesOf(file, 'main', 'add').map((a) => a + bias!);
    expect(sites).toHaveLength(1); // the same call site in main's loop
    expect(rets).toEqual([sites[0], sites[0], sites[0]]);
    expect(exitRets).toEqual(rets);
    expect(new Set(rets).size).toBe(1);
    expect(durations).toHaveLength(3);
    expect(durations.every((d) => d > 0n)).toBe(true);
  });
});

/** Addresses (as linked) of the instructions right after each call of `callee` in `caller`, from objdump. */
function returnSitesOf(file: string, caller: string, callee: string): number[] {
  const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', file], { encoding: 'utf8' });
  const start = asm.indexOf(`<${caller}>:`);
  expect(start).toBeGreaterThanOrEqual(0);
  const insns = asm
    .slice(start, asm.indexOf('\n\n', start))
    .split('\n')
    .map((l) => /^\s*([0-9a-f]+):\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ address: parseInt(m[1], 16), text: m[2] }));
  const call = process.arch === 'arm64' ? new RegExp(`^bl\\s+[0-9a-f]+ <${callee}>`) : new RegExp(`^call[q]?\\s+[0-9a-f]+ <${callee}>`);
  const sites: number[] = [];
  insns.forEach((insn, i) => {
    if (call.test(insn.text)) sites.push(insns[i + 1].address);
  });
  return sites;
}

test('the -O2 tailcall fixture really tail-calls (outer jumps to inner)', () => {
  const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', fixture('tailcall', 'O2')], { encoding: 'utf8' });
  const outer = asm.slice(asm.indexOf('<outer>:'), asm.indexOf('\n\n', asm.indexOf('<outer>:')));
  expect(outer).toMatch(process.arch === 'arm64' ? /\bb\s+\S+ <inner>/ : /jmp\s+\S+ <inner>/);
});

test('onEntry returning false leaves that call without a return hook', async () => {
  const r = await trace(fixture('calls'), 'add', { nargs: 2, handlers: { onEntry: (c) => (c.args[0] === 1n ? false : undefined) } });
  expect(r.events).toEqual(['> add 0 10', '< add = 10', '> add 1 10', '> add 2 10', '< add = 12']);
});

test('reads a string argument from the tracee', async () => {
  let who = '';
  await trace(fixture('calls'), 'greet', { handlers: { onEntry: (c) => void (who = c.readCString(c.args[0])) } });
  expect(who).toBe('world');
});

test('reads a floating-point return value', async () => {
  let v = 0;
  await trace(fixture('calls', 'O2'), 'scale', { handlers: { onExit: (c) => void (v = c.fpRetval) } });
  expect(v).toBe(10);
});

test('counts calls beyond maxActive as missed and lets them run unhooked', async () => {
  const r = await trace(fixture('nested'), 'depth', { maxActive: 3 });
  expect(r.events).toEqual(['> depth 9', '> depth 8', '> depth 7', '< depth = 7', '< depth = 8', '< depth = 9']);
  expect(r.stdout).toBe('depth=9\n');
  expect(r.hook.nmissed).toBe(7);
});

test('a call in flight when its hook is removed resumes correctly, without its onExit', async () => {
  let slowHook: ReturnType<Tracer['hook']> | null = null;
  const events: string[] = [];
  const r = await trace(fixture('inflight'), 'inner', {
    handlers: { onEntry: () => slowHook?.unhook() },
    setup: (t) => {
      slowHook = t.hook('slow', { onEntry: (c) => void events.push(`> slow ${c.args[0]}`), onExit: (c) => void events.push(`< slow ${c.retval}`) });
    },
  });
  expect(events).toEqual(['> slow 1']);
  expect(r.events).toEqual(['> inner 1', '< inner = 2', '> inner 2', '< inner = 3']);
  expect(r.stdout).toBe('slow=4,6\n');
  expect(r.status.code).toBe(0);
});

// x86-64 only: RIP-relative addressing and these first instructions are x86-64's (the fixtures are x86-64 assembly).
const x86test = process.arch === 'x64' ? test : test.skip;

x86test.each(['O0', 'O2'])('runs a function whose first instruction is RIP-relative out of line (%s)', async (v) => {
  const r = await trace(fixture('ripfirst', v), ['bump', 'load_counter'], { nargs: 0 });
  expect(r.events).toEqual(['> bump', '< bump = 101', '> bump', '< bump = 102', '> load_counter', '< load_counter = 102']);
  expect(r.stdout).toBe('bump=101,102 counter=102\n');
});

x86test.each(['O0', 'O2'])('emulates each usual first instruction: push, mov rsp->rbp, jmp, call, jcc both ways, ret, nop, endbr64 (%s)', async (v) => {
  const r = await trace(fixture('emulated', v), '*first', { nargs: 0 });
  expect(r.stdout).toBe('11 12 13 14 15 16 17 18\n');
  expect(r.events.filter((e) => e.startsWith('<') && !e.startsWith('< retfirst'))).toEqual([
    '< pushfirst = 11', '< movfirst = 12', '< jmpfirst = 13', '< callfirst = 14',
    '< jccfirst = 15', '< jccfirst = 16', '< nopfirst = 17', '< endbrfirst = 18',
  ]);
  expect(r.events.filter((e) => e.startsWith('>'))).toHaveLength(9);
});

test('traces a statically linked executable (no dynamic linker)', async () => {
  const r = await trace(fixture('calls_static', 'O2'), 'add', { nargs: 2 });
  expect(r.events).toEqual(['> add 0 10', '< add = 10', '> add 1 10', '< add = 11', '> add 2 10', '< add = 12']);
  expect(r.stdout).toBe('hello, world\nsum=33 scaled=10.00\n');
  expect(r.status.code).toBe(7);
});
