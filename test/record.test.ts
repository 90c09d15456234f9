// Record once, look many ways: report, replay and dump of a record give what
// the live run gives; a record cut short is shown up to the cut, and says so.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readRecord } from '../lib/record/read';
import type { SiteInfo } from '../lib/record/batch';
import { cli, CLI, fixture, scratchDir } from './helpers';
import { timeBound } from './time-bound';
import { FLUSH_AT } from '../lib/record/write';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A tree with times, tids and addresses masked: what two runs of a deterministic program share. */
const masked = (text: string) => text.trimEnd().split('\n').map((l) => l.replace(/<[\d.]+ [mun]?s>/, '<T>').replace(/^\s*\d+ /, '').replace(/0x[0-9a-f]{8,}/g, 'ADDR'));
/** JSON events with what differs between runs masked. */
const plain = (evs: Ev[]) => evs.map((e) => {
  const { ts: _ts, durationNs: _d, pid: _p, tid: _t, address: _a, ...rest } = e;
  return { ...rest, args: rest.args?.slice(0, 1) };
});

describe('recursion: record, then report, replay and dump', () => {
  const file = path.join(scratchDir(), 'fact.rethook');
  let recorded: ReturnType<typeof cli>;
  beforeAll(() => {
    recorded = cli(['record', '-o', file, '-f', 'fact', '--', fixture('recursion')]);
  });

  test('record runs the program as untraced, quietly, and writes a header with the command, pid and modules, the site, the calls and the end', () => {
    expect(recorded).toEqual({ stdout: 'fact(5)=120\n', stderr: '', status: 0, signal: null });
    expect(fs.readFileSync(file).subarray(0, 12)).toEqual(Buffer.from('RHRECORD\x03\0\0\0', 'latin1'));
    let sites: readonly SiteInfo[] = [];
    let entries = 0;
    const rec = readRecord(file, { sites: (_a, all) => (sites = all), calls: (b) => (entries += b.kind.subarray(0, b.length).filter((k) => k === 1).length) });
    const header = rec.header;
    expect(header).toMatchObject({ command: [fixture('recursion')], attached: false, arch: process.arch, patterns: ['fact'] });
    expect(header.pid).toBeGreaterThan(0);
    expect(header.modules.map((m) => path.basename(m.path))).toEqual(expect.arrayContaining(['recursion.O0', expect.stringMatching(/^libc[.-]/)]));
    expect(sites.map((x) => [x.function, x.pid])).toEqual([['fact', header.pid]]);
    expect(entries).toBe(5);
    expect({ cut: rec.cut, end: rec.end }).toMatchObject({ cut: false, end: { pids: [header.pid], calls: 5, nmissed: {}, status: { pid: header.pid, code: 0, signal: null, detached: false } } });
  });

  test('replay shows the tree the live trace shows', () => {
    const live = cli(['trace', '-f', 'fact', '--args', '1', '--', fixture('recursion')]);
    const replay = cli(['replay', '--args', '1', file]);
    expect(replay.status).toBe(0);
    expect(masked(replay.stdout)).toEqual(masked(live.stderr));
    expect(masked(replay.stdout)).toHaveLength(9);
  });

  test('report gives the live summary (same rows and calls)', () => {
    const live = JSON.parse(cli(['trace', '-c', '--format', 'json', '-f', 'fact', '--', fixture('recursion')]).stderr.trim().split('\n').pop()!);
    const rep = JSON.parse(cli(['report', '--format', 'json', file]).stdout);
    const shape = (rows: Ev[]) => rows.map((r) => [r.function, r.calls, r.unwound, r.nmissed]);
    expect(shape(rep.rows)).toEqual(shape(live.rows));
    // Recorded in the default mode, fast (fact is patched): durations are the calls' own, no round trip to subtract (views.test.ts checks a trap record keeps it).
    expect(rep.overheadNs).toBeNull();
  });

  test('dump gives the live JSON events, and --chrome the live Chrome trace', () => {
    const out = path.join(scratchDir(), 'live.jsonl');
    cli(['trace', '--format', 'json', '-o', out, '-f', 'fact', '--', fixture('recursion')]);
    const live = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const dumped = cli(['dump', file]).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(plain(dumped)).toEqual(plain(live));
    const chromeOut = path.join(scratchDir(), 'live.json');
    cli(['trace', '--format', 'chrome', '-o', chromeOut, '-f', 'fact', '--', fixture('recursion')]);
    const shape = (t: Ev) => t.traceEvents.filter((e: Ev) => e.ph === 'X').map((e: Ev) => [e.name, e.args.args[0], e.args.retval]);
    expect(shape(JSON.parse(cli(['dump', '--chrome', file]).stdout))).toEqual(shape(JSON.parse(fs.readFileSync(chromeOut, 'utf8'))));
  });

  test('a record cut before its end is shown up to the cut, and says it was cut', () => {
    // Cut inside its END chunk: every call is there, the end is not. (Cuts with calls in flight: test/unit/record-read.test.ts.)
    const bytes = fs.readFileSync(file);
    const cut = path.join(scratchDir(), 'cut.rethook');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    const rep = cli(['report', '--format', 'json', cut]);
    expect(rep.status).toBe(0);
    expect(rep.stderr).toMatch(/^rethook: \S+cut\.rethook was cut short \(the tracer did not finish recording\): shown up to its last complete event, \d+ events, [\d.]+ [mun]?s into the run; 0 calls were in flight there\n$/);
    const summary = JSON.parse(rep.stdout);
    expect(summary.cut).toBe(true);
    expect(summary.rows).toEqual([expect.objectContaining({ function: 'fact', calls: 5 })]);
    const replay = cli(['replay', '--args', '1', cut]);
    expect(masked(replay.stdout).slice(0, 6)).toEqual(['fact(0x5) {', '  fact(0x4) {', '    fact(0x3) {', '      fact(0x2) {', '        fact(0x1) = 0x1 <T>', '      } = 0x2 <T> /* fact */']);
    expect(replay.stderr).toMatch(/was cut short/);
    const chromeFile = path.join(scratchDir(), 'cut.json');
    expect(cli(['dump', '--chrome', '-o', chromeFile, cut]).stderr).toMatch(/^rethook: \S+ was cut short .*\n$/);
    const chrome = JSON.parse(fs.readFileSync(chromeFile, 'utf8'));
    const xs = chrome.traceEvents.filter((e: Ev) => e.ph === 'X');
    expect(xs.map((x: Ev) => [x.args.args[0], x.args.cut ?? false])).toEqual([['0x1', false], ['0x2', false], ['0x3', false], ['0x4', false], ['0x5', false]]);
    expect(chrome.otherData.cut).toBe(true);
  });

  test('a file that is no record is a one-line error', () => {
    const r = cli(['report', fixture('recursion')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^rethook: \S+ is not a rethook record \(it does not start with RHRECORD\)\n$/);
    expect(cli(['report']).status).toBe(2);
  });
});

describe('live -c and --hist are made as report makes them: from a record written in memory, no object per call', () => {
  const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];
  /** A live summary's JSON, and the EntryContexts the tracer made (RETHOOK_TEST_CONTEXTS). */
  const live = (...args: string[]) => {
    const r = cli(['trace', '-c', '--hist', 'inner', '--format', 'json', ...args, ...TREE, '--', fixture('calltree')], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
    expect(r.status).toBe(0);
    const contexts = /^rethook-test: (\d+) entry contexts$/m.exec(r.stderr);
    return { summary: JSON.parse(r.stderr.trim().split('\n').pop()!), contexts: Number(contexts![1]) };
  };
  const rowsOf = (s: Ev): Record<string, Ev> => Object.fromEntries((s.rows as Ev[]).map((r) => [r.function, r]));
  const MS = 1e6;
  /** The calltree's figures: 200 ms asleep in slow, counted in slow's self and in middle's and outer's total only. */
  const expectTree = (s: Ev) => {
    const rows = rowsOf(s);
    expect(Object.values(rows).map((r) => [r.function, r.calls, r.unwound, r.nmissed]).sort()).toEqual(
      [['inner', 7, 0, 0], ['middle', 3, 0, 0], ['other', 1, 0, 0], ['outer', 1, 0, 0], ['slow', 1, 0, 0]]);
    for (const f of ['outer', 'middle', 'slow']) expect(rows[f].totalNs).toBeGreaterThanOrEqual(200 * MS);
    expect(rows.slow.selfNs).toBe(rows.slow.totalNs);
    expect(rows.middle.totalNs).toBeGreaterThanOrEqual(rows.slow.totalNs);
    expect(rows.outer.totalNs).toBeGreaterThanOrEqual(rows.middle.totalNs);
    for (const f of ['outer', 'middle', 'inner', 'other']) expect(rows[f].selfNs).toBeLessThan(MS);
    expect(rows.other.selfNs).toBeLessThanOrEqual(rows.other.totalNs);
    expect(s.histograms.map((h: Ev) => [h.function, h.calls])).toEqual([['inner', 7]]);
  };

  test('live -c gives the rows record + report give, and makes no EntryContext; the event path (a filter) makes one per call', () => {
    const file = path.join(scratchDir(), 'calltree-live.rethook');
    expect(cli(['record', '-o', file, ...TREE, '--', fixture('calltree')]).status).toBe(0);
    const rep = cli(['report', '-c', '--hist', 'inner', '--format', 'json', file]);
    expect(rep.status).toBe(0);
    const reported = JSON.parse(rep.stdout);
    const columns = live();
    expectTree(reported);
    expectTree(columns.summary);
    expect(columns.contexts).toBe(0);
    // Same keys, same notes: the live summary is the one report prints.
    expect(Object.keys(columns.summary)).toEqual(Object.keys(reported));
    expect(columns.summary.fallbacks).toEqual(reported.fallbacks);
    // A filter other than --tid takes the event path: an EntryContext per call (the count can tell the paths apart).
    const events = live('--max-depth', '10');
    expectTree(events.summary);
    expect(events.contexts).toBe(13);
  });
});

test('flood: a recording tracer SIGKILLed mid-run leaves a record reported up to the cut', async () => {
  const file = path.join(scratchDir(), 'killed.rethook');
  const rec = spawn(process.execPath, [CLI, 'record', '-o', file, '-f', 'step', '--', fixture('flood'), '0'], { stdio: 'ignore' });
  // Until a whole buffer of events is written, and the next being written (the CLI takes seconds to start in the arm64
  // VM): a SIGKILL may cut a write short, and so the first buffer's chunks, were it killed in that one.
  const writing = () => fs.existsSync(file) && fs.statSync(file).size > FLUSH_AT + 200000;
  for (const end = Date.now() + timeBound(10000); Date.now() < end && !writing(); ) await new Promise((r) => setTimeout(r, 25));
  expect(writing()).toBe(true);
  rec.kill('SIGKILL');
  await new Promise((r) => rec.on('exit', r));
  const r = cli(['report', '--format', 'json', file]);
  expect(r.status).toBe(0);
  const summary = r.stdout;
  const cutLine = r.stderr;
  expect(cutLine).toMatch(/was cut short/);
  const events = Number(/, (\d+) events,/.exec(cutLine)![1]);
  const rows = JSON.parse(summary).rows;
  expect(rows[0].function).toBe('step');
  // Every complete entry/exit pair before the cut is a call in the summary.
  expect(rows[0].calls).toBeGreaterThan(100);
  expect(rows[0].calls).toBeGreaterThanOrEqual(Math.floor(events / 2) - 1);
}, timeBound(60000));

describe('live --format json in fast mode is written as dump writes a record: from a record written in memory, no object per call', () => {
  const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];
  const calls = (text: string): Ev[] => text.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'entry' || e.type === 'exit');
  /** Live JSON of the calltree, and the EntryContexts the tracer made (RETHOOK_TEST_CONTEXTS). */
  const live = (...args: string[]) => {
    const out = path.join(scratchDir(), 'calltree-live.json');
    const r = cli(['trace', '--format', 'json', '-o', out, ...args, ...TREE, '--', fixture('calltree')], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
    expect(r.status).toBe(0);
    return { events: calls(fs.readFileSync(out, 'utf8')), contexts: Number(/^rethook-test: (\d+) entry contexts$/m.exec(r.stderr)![1]) };
  };
  /** Events with what differs between runs left out (of the argument registers, the one inner's and middle's argument is in). */
  const same = (evs: Ev[]) => evs.map((e) => {
    const { ts: _ts, durationNs: _d, pid: _p, tid: _t, address: _a, args, ...rest } = e;
    return { ...rest, args: ['inner', 'middle'].includes(e.function) ? args?.slice(0, 1) : undefined };
  });

  test('live JSON makes no EntryContext and writes the calls record + dump --format json write; a filter takes the per-call path', () => {
    const file = path.join(scratchDir(), 'calltree-json.rethook');
    expect(cli(['record', '-o', file, ...TREE, '--', fixture('calltree')]).status).toBe(0);
    const dump = cli(['dump', '--format', 'json', file]);
    expect(dump.status).toBe(0);
    const dumped = calls(dump.stdout);
    expect(dumped).toHaveLength(26);

    const columns = live();
    expect(columns.contexts).toBe(0);
    expect(same(columns.events)).toEqual(same(dumped));
    expect(columns.events.find((e) => e.function === 'middle' && e.type === 'exit')).toMatchObject({ retval: '0x2', unwound: false });
    // In ts order, each exit timed from its entry: slow slept 200 ms.
    const ts = columns.events.map((e) => e.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(columns.events.find((e) => e.function === 'slow' && e.type === 'exit')!.durationNs).toBeGreaterThanOrEqual(200e6);

    // A filter takes the per-call path: an EntryContext per call, the same lines.
    const events = live('--max-depth', '10');
    expect(events.contexts).toBe(13);
    expect(same(events.events)).toEqual(same(dumped));
  });

  test('the live tree to a file makes no EntryContext and is the tree the per-call path and replay write', () => {
    // Times and argument registers other than inner's and middle's first differ from run to run.
    const same = (text: string) => text.trim().split('\n').map((l) => l.replace(/^ *\d+ /, '').replace(/ <[\d.]+ [num]?s>/, '')
      .replace(/^( *(?:inner|middle)\(0x[0-9a-f]+).*?\)/, '$1…)').replace(/^( *(?:outer|slow|other)\().*?\)/, '$1…)'));
    const tree = (...args: string[]) => {
      const out = path.join(scratchDir(), 'calltree-live.txt');
      const r = cli(['trace', '-o', out, ...args, ...TREE, '--', fixture('calltree')], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
      expect(r.status).toBe(0);
      return { lines: same(fs.readFileSync(out, 'utf8')), contexts: Number(/^rethook-test: (\d+) entry contexts$/m.exec(r.stderr)![1]) };
    };
    const file = path.join(scratchDir(), 'calltree-text.rethook');
    expect(cli(['record', '-o', file, ...TREE, '--', fixture('calltree')]).status).toBe(0);
    const replay = cli(['replay', file]);
    expect(replay.status).toBe(0);
    const replayed = same(replay.stdout);
    const columns = tree();
    expect(columns.contexts).toBe(0);
    const perCall = tree('--max-depth', '10');
    expect(perCall.contexts).toBe(13);
    // The header (how calls are caught) first, then the calls: leaves on one line, blocks closed with their name.
    expect(columns.lines).toEqual(perCall.lines);
    expect(columns.lines.filter((l) => !l.startsWith('rethook: '))).toEqual(replayed.filter((l) => !l.startsWith('rethook: ')));
    expect(columns.lines).toContain('  middle(0x2…) {');
    expect(columns.lines).toContain('  } = 0x2 /* middle */');
  });

  test('typed values in the live tree from the record are those the per-call path shows, rendered from the words or at the call', () => {
    const FNS = ['flip', 'paint', 'halve', 'two', 'lookup', 'u64max', 'peek'];
    const run = (fns: string[], ...args: string[]) => {
      const out = path.join(scratchDir(), 'types-live.txt');
      const r = cli(['trace', '-o', out, ...args, ...fns.flatMap((f) => ['-f', f]), '--', fixture('types', 'g-O0')], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
      expect(r.status).toBe(0);
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.replace(/^ *\d+ /, '').replace(/ <[\d.]+ [num]?s>/, '').replace(/0x(7ff|fff)[0-9a-f]+/g, 'STACK'));
      return { lines, contexts: Number(/^rethook-test: (\d+) entry contexts$/m.exec(r.stderr)![1]) };
    };
    // Every site's values rendered from the record's words and strings: no context.
    const fromWords = run(FNS);
    expect(fromWords.contexts).toBe(0);
    expect(fromWords.lines).toEqual(run(FNS, '--max-depth', '10').lines);
    expect(fromWords.lines).toContain('halve(f=5.0) = 2.5');
    // A site whose values the record cannot render (a struct, a char, a second double: scale is in trap mode) makes
    // the process's calls come through the handlers, which render them at the call, text included.
    const more = [...FNS, 'make_point', 'measure', 'scale'];
    const atCall = run(more);
    expect(atCall.contexts).toBeGreaterThan(0);
    expect(atCall.lines).toEqual(run(more, '--max-depth', '10').lines);
    expect(atCall.lines).toContain('make_point(x=7, y=-8) = {x=7, y=-8}');
    expect(atCall.lines).toContain('scale(v=1.5, f=2.0, n=3) = 9.0');
    expect(atCall.lines).toContain("measure(s=\"hello \\\"world\\\"\\n\", c='x') = 15");
  });

  test('a record keeps the values its words cannot (arguments on the stack, a second double): replay and dump show them as the live tree does', () => {
    const fns = ['ints', 'scale', 'two'].flatMap((f) => ['-f', f]);
    const file = path.join(scratchDir(), 'types-at-call.rethook');
    expect(cli(['record', '-o', file, ...fns, '--', fixture('types', 'g-O0')]).status).toBe(0);
    const strip = (text: string) => text.trim().split('\n').filter((l) => !l.startsWith('rethook: ')).map((l) => l.replace(/^ *\d+ /, '').replace(/ <[\d.]+ [num]?s>/, ''));
    const replayed = cli(['replay', file]);
    expect(replayed.status).toBe(0);
    const live = cli(['trace', ...fns, '--', fixture('types', 'g-O0')]);
    expect(strip(replayed.stdout)).toEqual(strip(live.stderr));
    expect(strip(replayed.stdout)).toEqual([
      'ints(a=-1, b=-2, c=-3, d=-4, e=250, f=65000, g=4000000000, h=18446744073709551615) = 4000065239',
      'scale(v=1.5, f=2.0, n=3) = 9.0',
      'two(a=9, b=4) = 5',
    ]);
    // JSON: the typed values by name, and no text field (the tree's own).
    const dumped = cli(['dump', file]).stdout.split('\n').filter((l) => l.includes('"function":"ints"') && l.startsWith('{"type":"entry"'));
    expect(dumped).toHaveLength(1);
    expect(JSON.parse(dumped[0]).argv.slice(6)).toEqual([{ name: 'g', type: 'unsigned int', value: 4000000000 }, { name: 'h', type: 'long unsigned int', value: '18446744073709551615' }]);
    expect(dumped[0]).not.toContain('Text');
  });

  test("replay writes the tree of one thread from the record's bytes, as the events path writes it, past the window held for merging", () => {
    const file = path.join(scratchDir(), 'flood-replay.rethook');
    expect(cli(['record', '-o', file, '-f', 'step', '--', fixture('flood'), '300000', '0']).status).toBe(0);
    const replay = (...args: string[]) => {
      const out = path.join(scratchDir(), 'flood-replay.txt');
      const r = cli(['replay', '-o', out, ...args, file], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
      expect(r.status).toBe(0);
      return { text: fs.readFileSync(out, 'utf8'), chunks: Number(/^rethook-test: (\d+) chunks written by the addon$/m.exec(r.stderr)?.[1] ?? 0) };
    };
    const native = replay();
    const events = replay('--max-depth', '100'); // a filter takes the events path
    expect(native.chunks).toBeGreaterThan(0);
    expect(events.chunks).toBe(0);
    expect(native.text.length).toBeGreaterThan(300000 * 30);
    expect(native.text).toBe(events.text);
    expect(native.text.split('\n', 1)[0]).toMatch(/^ +\d+ step\(0x0, 0x[0-9a-f]+, 0x[0-9a-f]+\) = 0x1 <[\d.]+ [num]?s>$/); // (x1, x2 on arm64 are not rsi, rdx)
  });

  test('typed values in live JSON from the record are those the per-call path renders at the call', () => {
    const FNS = ['-f', 'halve', '-f', 'measure', '-f', 'lookup', '-f', 'paint', '-f', 'flip'];
    const run = (...args: string[]) => {
      const out = path.join(scratchDir(), 'types-live.json');
      const r = cli(['trace', '--format', 'json', '-o', out, ...args, ...FNS, '--', fixture('types', 'g-O0')], { env: { RETHOOK_TEST_CONTEXTS: '1' } });
      expect(r.status).toBe(0);
      const typed = calls(fs.readFileSync(out, 'utf8')).map((e) => [e.type, e.function, e.argv ?? e.ret]);
      return { typed, contexts: Number(/^rethook-test: (\d+) entry contexts$/m.exec(r.stderr)![1]) };
    };
    const columns = run();
    expect(columns.contexts).toBe(0);
    const perCall = run('--max-depth', '10');
    expect(perCall.contexts).toBeGreaterThan(0);
    expect(columns.typed).toEqual(perCall.typed);
    // A float, a string, an enum: rendered from the record's words and strings.
    expect(columns.typed).toContainEqual(['entry', 'halve', [{ name: 'f', type: 'float', value: 5 }]]);
    expect(columns.typed).toContainEqual(['entry', 'lookup', [{ name: 'key', type: 'const char *', value: 'alpha' }, { name: 'len', type: 'int', value: 5 }]]);
  });
});
