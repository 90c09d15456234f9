// With no --mode the CLI catches calls in fast mode wherever it can patch,
// and in trap mode where it cannot or an option needs the thread stopped at
// the call; every output says first which functions are in trap mode and why.
// tailjump_chain: fa and fc are patchable, tb is not (x86-64: 2 bytes; arm64:
// its patched instruction is a loop's head), on both architectures.
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, scratchDir, untraced } from './helpers';

const PROGRAM = fixture('tailjump_chain');
const CHAIN = ['-f', 'fa', '-f', 'tb', '-f', 'fc'];
const CALLS = [0, 1, 2].flatMap((i) => [`> fa ${i}`, `> tb ${i + 1}`, `> fc ${i + 1}`, `< fc ${i + 103}`, `< tb ${i + 103}`, `< fa ${i + 103}`]);
type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function jsonRun(...args: string[]): { events: Ev[]; stdout: string } {
  const out = path.join(scratchDir(), 'default-mode.jsonl');
  const r = cli(['trace', '--format', 'json', '-o', out, ...args, ...CHAIN, '--', PROGRAM]);
  expect(r.status).toBe(0);
  return { events: fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), stdout: r.stdout };
}
const calls = (evs: Ev[]) => evs.filter((e) => e.type === 'entry' || e.type === 'exit')
  .map((e) => (e.type === 'entry' ? `> ${e.function} ${Number(e.args[0])}` : `< ${e.function} ${Number(e.retval)}`));

test('JSON: the first event says fast mode, with the one function it could not patch in trap mode and why; the calls are all there, in order', () => {
  const { events, stdout } = jsonRun();
  expect(stdout).toBe(untraced(PROGRAM).stdout);
  expect(events[0]).toEqual({ type: 'fallbacks', mode: 'fast', fallbacks: [{ function: 'tb', reason: expect.any(String) }] });
  // The note of each fallback, as JSON has always written it, now with its function and reason.
  expect(events[1]).toEqual({ type: 'fallback', message: `in trap mode, not fast: tb: ${events[0].fallbacks[0].reason}`, function: 'tb', reason: events[0].fallbacks[0].reason });
  expect(calls(events)).toEqual(CALLS);
});

test('--backtrace puts every function in trap mode, said as the reason; --mode trap lists none (it was asked for)', () => {
  const bt = jsonRun('--backtrace');
  expect(bt.events[0]).toEqual({ type: 'fallbacks', mode: 'trap', fallbacks: ['fa', 'tb', 'fc'].map((f) => ({ function: f, reason: '--backtrace' })) });
  expect(calls(bt.events)).toEqual(CALLS);
  expect(bt.events.find((e) => e.type === 'entry')!.backtrace.length).toBeGreaterThan(0);
  expect(bt.events.filter((e) => e.type === 'fallback')).toEqual([]);
  const trap = jsonRun('--mode', 'trap');
  expect(trap.events[0].type).toBe('entry'); // asked for trap mode: the stream starts with the calls, as it always has
  expect(calls(trap.events)).toEqual(CALLS);
});

test('text: a header line names the function in trap mode and why, once, before the calls', () => {
  const r = cli(['trace', ...CHAIN, '--', PROGRAM]);
  expect(r.status).toBe(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^rethook: 1 function in trap mode \((too short|.+)\): tb$/);
  expect(lines.filter((l) => l.startsWith('rethook:'))).toEqual([lines[0]]);
  expect(lines.slice(1).map((l) => l.replace(/^\s*\d+ /, '').replace(/\(.*?\)/, '()').replace(/ <.*>/, '').trim())).toEqual(
    [0, 1, 2].flatMap((i) => ['fa() {', 'tb() {', `fc() = 0x${(i + 103).toString(16)}`, `} = 0x${(i + 103).toString(16)} /* tb */`, `} = 0x${(i + 103).toString(16)} /* fa */`]));
  const bt = cli(['trace', '--backtrace', ...CHAIN, '--', PROGRAM]);
  expect(bt.stderr.split('\n')[0]).toBe('rethook: 3 functions in trap mode (--backtrace): fa, tb, fc');
});

test('-c: the durations note says which functions include the round trip, and the fallback is listed under the table (text and JSON)', () => {
  const text = cli(['trace', '-c', ...CHAIN, '--', PROGRAM]).stderr.trimEnd().split('\n');
  expect(text[1]).toBe("rethook: durations as the calls took them, timed in the process, except for the functions in trap mode listed below: theirs, and those of the calls they run inside, include the tracer's round trip");
  expect(text.slice(3, 6).map((l) => l.trim().split(/\s+/)).map((c) => [c[c.length - 1], c[0]]).sort()).toEqual([['fa', '3'], ['fc', '3'], ['tb', '3']]);
  expect(text.slice(6)).toEqual([expect.stringMatching(/^rethook: 1 function in trap mode \(.+\): tb$/)]);
  const json = JSON.parse(cli(['trace', '-c', '--format', 'json', ...CHAIN, '--', PROGRAM]).stderr.trim().split('\n').pop()!);
  expect(json.fallbacks).toEqual([{ function: 'tb', reason: expect.any(String) }]);
  expect(json.notes).toEqual([{ type: 'fallback', message: `in trap mode, not fast: tb: ${json.fallbacks[0].reason}` }]);
  expect(json.overheadNs).toBeNull();
  // Trap mode (asked for): the round trip is measured and subtracted, and no function is listed.
  const trap = cli(['trace', '--mode', 'trap', '-c', ...CHAIN, '--', PROGRAM]).stderr.trimEnd().split('\n');
  expect(trap[1]).toMatch(/^rethook: durations less the tracer's round trip/);
  expect(trap.slice(6)).toEqual([]);
});

test('record: the header lists the fallbacks; replay says them first as the live run does', () => {
  const file = path.join(scratchDir(), 'default-mode.rethook');
  expect(cli(['record', '-o', file, ...CHAIN, '--', PROGRAM]).status).toBe(0);
  // The record's first note (format 2: docs/record-format.md), as dump shows it.
  const first = JSON.parse(cli(['dump', file]).stdout.split('\n')[0]);
  expect(first).toMatchObject({ type: 'fallbacks', mode: 'fast', fallbacks: [{ function: 'tb', reason: expect.any(String) }] });
  const replay = cli(['replay', file]).stdout.split('\n');
  expect(replay[0]).toMatch(/^rethook: 1 function in trap mode \(.+\): tb$/);
  expect(replay.filter((l) => l.startsWith('rethook:'))).toEqual([replay[0]]);
});
