// API edges as Node users expect them (child_process, Frida): stdio as
// child_process takes it, error codes and causes, typed ctx.data, signal
// names typed as NodeJS.Signals, events as an async iterator.
import * as fs from 'fs';
import * as path from 'path';
import { RethookError, Tracer, TraceEvent } from '../lib';
import { cli, codeOf, fixture, FIXTURES, scratchDir } from './helpers';

async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  let s = '';
  for await (const chunk of stream!) s += chunk.toString();
  return s;
}

describe('stdio', () => {
  test("'pipe' gives tracer.stdout and tracer.stderr streams of the program's output", async () => {
    const t = await Tracer.spawn(fixture('crash'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(t.stdin).toBeNull();
    const [out, err, status] = await Promise.all([collect(t.stdout), collect(t.stderr), t.run()]);
    expect(out).toBe('');
    expect(err).toBe('about to abort\n');
    const signal: NodeJS.Signals | null = status.signal; // typed as Node's signal names
    expect(signal).toBe('SIGABRT');
  });

  test("'pipe' for stdin: tracer.stdin is the program's input", async () => {
    // cat reads stdin to EOF and writes it out.
    const t = await Tracer.spawn('/bin/cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.stdin!.end('through a traced cat\n');
    const [out, status] = await Promise.all([collect(t.stdout), t.run()]);
    expect(out).toBe('through a traced cat\n');
    expect(status.code).toBe(0);
  });

  test("'ignore' is /dev/null, a single value stands for all three, a number is our file descriptor", async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: 'ignore' });
    expect([t.stdin, t.stdout, t.stderr]).toEqual([null, null, null]);
    expect((await t.run()).code).toBe(7);
    const file = `${scratchDir()}/stdio-fd`;
    const fd = fs.openSync(file, 'w');
    const p = await Tracer.spawn(fixture('calls'), [], { stdio: ['ignore', fd] });
    expect((await p.run()).code).toBe(7);
    fs.closeSync(fd);
    expect(fs.readFileSync(file, 'utf8')).toBe('hello, world\nsum=33 scaled=10.00\n');
  });

  test('a wrong stdio value is a TypeError before anything starts', async () => {
    await expect(Tracer.spawn(fixture('calls'), [], { stdio: 'overlapped' as never })).rejects.toThrow(
      "Expected stdio to be 'inherit', 'ignore', 'pipe' or a file descriptor, or an array of up to 3 of them",
    );
    await expect(Tracer.spawn(fixture('calls'), [], { stdio: [-1 as never] })).rejects.toThrow(TypeError);
  });
});

describe('errors', () => {
  test('carry a stable code', async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: 'ignore' });
    try {
      expect(() => t.hook('no_such_function_here')).toThrow(expect.objectContaining({ name: 'RethookError', code: 'ENOSYMBOL' }));
    } finally {
      t.kill();
    }
    await expect(Tracer.spawn('/nonexistent/program')).rejects.toMatchObject({ code: 'EEXEC' });
    await expect(Tracer.attach(0x3ffffff0)).rejects.toMatchObject({ code: 'ENOPROCESS' });
  });

  test("a throwing handler's error is the cause of EHANDLER, with its stack", async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: 'ignore' });
    const thrown = new Error('boom in the handler');
    t.hook('add', {
      onEntry() {
        throw thrown;
      },
    });
    const e = (await t.run().catch((x) => x)) as RethookError;
    expect(e).toBeInstanceOf(RethookError);
    expect(e.code).toBe('EHANDLER');
    expect(e.message).toBe('onEntry handler for add threw: boom in the handler');
    expect(e.cause).toBe(thrown);
    expect((e.cause as Error).stack).toContain('api-edges.test.ts');
  });
});

test('ctx.data is typed through hook<D>()', async () => {
  const t = await Tracer.spawn(fixture('recursion'), [], { stdio: 'ignore' });
  const seen: string[] = [];
  t.hook<{ n: bigint; label: string }>('fact', {
    onEntry(ctx) {
      ctx.data = { n: ctx.args[0], label: `fact(${ctx.args[0]})` };
    },
    onExit(ctx) {
      // Typed: ctx.data?.label is a string, ctx.data?.n a bigint (a type error otherwise under strict).
      const label: string | undefined = ctx.data?.label;
      const n: bigint | undefined = ctx.data?.n;
      seen.push(`${label}=${ctx.retval} (${typeof n})`);
    },
  });
  await t.run();
  expect(seen).toEqual(['fact(1)=1 (bigint)', 'fact(2)=2 (bigint)', 'fact(3)=6 (bigint)', 'fact(4)=24 (bigint)', 'fact(5)=120 (bigint)']);
});

describe('events()', () => {
  test('yields entries, exits and the end as plain objects, and runs the program', async () => {
    const t = await Tracer.spawn(fixture('recursion'), [], { stdio: 'ignore' });
    const got: string[] = [];
    let last: TraceEvent | null = null;
    for await (const ev of t.events('fact')) {
      last = ev;
      if (ev.type === 'entry') got.push(`> ${ev.function} ${ev.args[0]} d${ev.depth}`);
      else if (ev.type === 'exit') got.push(`< ${ev.function} = ${ev.retval}${ev.unwound ? ` unwound(${ev.reason})` : ''}`);
    }
    expect(got).toEqual([
      '> fact 0x5 d0', '> fact 0x4 d1', '> fact 0x3 d2', '> fact 0x2 d3', '> fact 0x1 d4',
      '< fact = 0x1', '< fact = 0x2', '< fact = 0x6', '< fact = 0x18', '< fact = 0x78',
    ]);
    expect(last).toEqual({ type: 'process-exit', pid: t.pid, code: 0, signal: null, detached: false });
  });

  test('yields the very events --format json writes for the same calls, typed values included', async () => {
    const bin = path.join(FIXTURES, 'types.g-O0');
    const fns = ['ints', 'flip', 'scale', 'make_point', 'lookup', 'u64max'];
    const t = await Tracer.spawn(bin, [], { stdio: 'ignore' });
    const api: TraceEvent[] = [];
    for await (const ev of t.events(fns)) api.push(ev);
    const r = cli(['trace', '--format', 'json', ...fns.flatMap((f) => ['-f', f]), '--', bin]);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{"type":"entry"') || l.startsWith('{"type":"exit"'));
    // Both as JSON text (an event is JSON as it is), with what differs between two runs of a program put aside:
    // process ids, times, and addresses (the program's and its stack's, placed anew by ASLR at each run).
    const same = (json: string) => json.replace(/"(pid|tid|ts|durationNs)":\d+/g, '"$1":0').replace(/0x[0-9a-f]{9,}/g, 'ADDR');
    const fromApi = api.filter((e) => e.type !== 'process-exit').map((e) => same(JSON.stringify(e)));
    expect(fromApi).toEqual(lines.map(same));
    expect(fromApi.length).toBe(2 * fns.length);
    // Typed as the JSON view types them; a string as it was at the call (copied there in fast mode, the default).
    expect(fromApi.join('\n')).toContain('"argv":[{"name":"a","type":"signed char","value":-1}');
    expect(fromApi.join('\n')).toContain('"argv":[{"name":"key","type":"const char *","value":"alpha"}');
    // Plain objects: nothing hidden for the views (jest and util.inspect would show symbol-keyed properties).
    for (const e of api) expect(Object.getOwnPropertySymbols(e)).toEqual([]);
    expect(api.at(-1)).toEqual({ type: 'process-exit', pid: t.pid, code: 0, signal: null, detached: false });
  });

  test('works alongside run() and other hooks; unwound frames come as exits with a reason', async () => {
    const t = await Tracer.spawn(fixture('longjmp'), [], { stdio: 'ignore' });
    const viaHook: string[] = [];
    t.hook('after', { onExit: (c) => void viaHook.push(`after=${c.retval}`) });
    const events = t.events(['deep', 'deeper']);
    const status = t.run();
    const got: string[] = [];
    for await (const ev of events) got.push(ev.type === 'exit' ? `< ${ev.function} ${ev.reason}` : ev.type === 'entry' ? `> ${ev.function}` : ev.type);
    expect(got).toEqual(['> deep', '> deeper', '< deeper longjmp', '< deep longjmp', 'process-exit']);
    expect(viaHook).toEqual(['after=84']);
    expect((await status).code).toBe(0);
  });

  test('breaking out of the loop unhooks; the program runs on', async () => {
    // Long enough to be still running when its code is read after the break (untraced, 2 x 20,000,000 calls take
    // a few hundred ms; 2 x 100,000 had ended before the read on a loaded machine).
    const t = await Tracer.spawn(fixture('threads'), ['2', '20000000'], { stdio: 'ignore' });
    const work = () => codeOf(t.pid, fixture('threads'), 'work', 8);
    const original = work(); // stopped at its exec: nothing hooked yet
    // Trap mode: unhooking puts its breakpoints' bytes back; fast mode's patch stays (a running thread may be inside it).
    const events = t.events('work', { mode: 'trap' });
    let n = 0;
    let hooked: Buffer | null = null;
    for await (const ev of events) {
      hooked ??= work();
      if (ev.type === 'exit' && ++n === 10) break;
    }
    expect(events.hook.functions.length).toBeGreaterThan(0);
    // While the loop ran, work's first bytes were patched; after the break, they are the program's own again.
    expect(hooked).not.toEqual(original);
    expect(work()).toEqual(original);
    expect((await t.run()).code).toBe(0);
  });

  test("a throwing handler elsewhere ends the stream with run()'s error", async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: 'ignore' });
    t.hook('greet', { onEntry: () => { throw new Error('stop here'); } });
    const got: string[] = [];
    await expect((async () => {
      for await (const ev of t.events('add')) got.push(ev.type);
    })()).rejects.toMatchObject({ code: 'EHANDLER' });
    expect(got).toEqual(['entry', 'exit', 'entry', 'exit', 'entry', 'exit']);
  });
});
