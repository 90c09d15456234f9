// Strings (issue 24, item 11): --string-max (the API's stringMax) sets how
// much of a string is shown; the `char *` buffers a call fills in are shown
// again at its return (trap mode), as ltrace does.
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import type { TypedValue } from '../lib';
import { Captured, cli, expectUsageError, FIXTURES, MODES, scratchDir } from './helpers';

const TEXT = Array.from({ length: 200 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');
const OUT = '200\nhi-3 4\nabcde\n';
let runs = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function jsonEvents(args: string[], variant = 'g-O0'): { status: number | null; events: Record<string, any>[]; stdout: string } {
  const out = path.join(scratchDir(), `events-${runs++}.json`);
  const r = cli(['trace', '--format', 'json', '-o', out, ...args, '--', path.join(FIXTURES, `fills.${variant}`)]);
  const events = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, events, stdout: r.stdout };
}

/** The string argument of measure(s) as shown: its value and whether it was cut. */
function measured(args: string[]) {
  const r = jsonEvents([...args, '-f', 'measure']);
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: OUT });
  const s = r.events.find((e) => e.type === 'entry')!.argv[0];
  return { length: s.value.length, value: s.value, truncated: s.truncated === true };
}

describe.each(MODES)('%s mode', (mode) => {
  test('a string is shown up to 64 bytes by default, up to --string-max N with it', () => {
    expect(measured(['--mode', mode])).toEqual({ length: 64, value: TEXT.slice(0, 64), truncated: true });
    // Fast mode's recorder copies 96 bytes of a string at the call: there the most shown is 96.
    const n = mode === 'trap' ? 150 : 96;
    expect(measured(['--mode', mode, '--string-max', '150'])).toEqual({ length: n, value: TEXT.slice(0, n), truncated: true });
    expect(measured(['--mode', mode, '--string-max', '10'])).toEqual({ length: 10, value: TEXT.slice(0, 10), truncated: true });
    if (mode === 'trap') expect(measured(['--mode', mode, '--string-max', '200'])).toEqual({ length: 200, value: TEXT, truncated: false });
  });

  test.each(['g-O0', 'g-O2'])('the buffers snprintf and fill write are shown at their return in trap mode, not in fast mode (%s)', (variant) => {
    const r = jsonEvents(['--mode', mode, '-f', 'snprintf', '-f', 'fill'], variant);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: OUT });
    const exit = (f: string) => r.events.find((e) => e.type === 'exit' && e.function === f)!;
    // At the call the buffers held what the program put there before: 0xf3 bytes.
    expect(r.events.find((e) => e.type === 'entry' && e.function === 'snprintf')!.argv[0].value).toMatch(/^\udcf3+$/);
    if (mode === 'trap') {
      expect(exit('snprintf').filled).toEqual([{ name: 's', type: 'char *', value: 'hi-3' }]);
      expect(exit('fill').filled).toEqual([{ name: 'out', type: 'char *', value: 'abcde' }]);
    } else {
      // Fast mode copies strings at the call only; read later, the buffer may hold anything by then: not shown.
      expect([exit('snprintf').filled, exit('fill').filled]).toEqual([undefined, undefined]);
    }
  });
});

test('the text shows a filled buffer after the return value, live and replayed from a record (trap mode)', () => {
  const file = path.join(FIXTURES, 'fills.g-O0');
  const live = cli(['trace', '--mode', 'trap', '-f', 'snprintf', '-f', 'fill', '--', file]);
  expect(live.stderr).toMatch(/^ *\d+ snprintf\(s="(\\xf3)+", maxlen=64, format="%s-%d", \.\.\.\) = 4 \[s="hi-3"\] <[^>]+>$/m);
  expect(live.stderr).toMatch(/^ *\d+ fill\(out="(\\xf3)+", n=5\) \[out="abcde"\] <[^>]+>$/m);
  const rec = path.join(scratchDir(), 'fills.rethook');
  expect(cli(['record', '--mode', 'trap', '-o', rec, '-f', 'snprintf', '--', file]).status).toBe(0);
  expect(cli(['replay', rec]).stdout).toMatch(/ = 4 \[s="hi-3"\] </);
});

test('--string-max takes a count of bytes from 1 to 65536', () => {
  const file = path.join(FIXTURES, 'fills.g-O0');
  expectUsageError(cli(['trace', '--string-max', '0', '-f', 'measure', '--', file]), /^rethook: --string-max expects a positive integer, got '0'$/);
  expectUsageError(cli(['trace', '--string-max', '65537', '-f', 'measure', '--', file]), /^rethook: --string-max expects at most 65536 bytes, got 65537$/);
  expect(cli(['trace', '--help']).stdout).toMatch(/--string-max N {6}bytes of a string .*\n.*fast mode: at most 96/);
});

describe('the API', () => {
  test.each(MODES)('stringMax and ctx.filled (%s mode)', async (mode) => {
    const out = new Captured();
    const t = await Tracer.spawn(path.join(FIXTURES, 'fills.g-O0'), [], { stdio: [0, out.fd, 2] });
    expect(() => t.hook('measure', { stringMax: 0 })).toThrow(new TypeError('Expected stringMax to be an integer from 1 to 65536'));
    const seen: { s?: unknown; filled?: TypedValue[] | null } = {};
    t.hook('measure', { mode, stringMax: 20, ...(mode === 'fast' ? { capture: { strings: 'auto' as const } } : {}), onEntry: (c) => void (seen.s = c.values?.[0]?.value) });
    t.hook('snprintf', { mode, onExit: (c) => void (seen.filled = c.filled) });
    expect((await t.run()).code).toBe(0);
    expect(out.text()).toBe(OUT);
    expect(seen.s).toBe(TEXT.slice(0, 20));
    if (mode === 'trap') expect(seen.filled).toEqual([{ name: 's', type: 'char *', kind: 'str', value: 'hi-3', text: '"hi-3"' }]);
    else expect(seen.filled).toBeNull();
  });
});
