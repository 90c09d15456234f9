// The views of a run: summaries, histograms, filters, timestamps, Chrome and
// folded output, on fixtures with known call trees. Each check compares a
// view with the JSON events of the same run (a record holds both).
import * as fs from 'fs';
import * as path from 'path';
import { Summary, Tracer } from '../lib';
import { calibrate } from '../lib/views/calibrate';
import { readRecord } from '../lib/record/read';
import { Captured, cli, fixture, scratchDir } from './helpers';

const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];
type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function lines(file: string): Ev[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Record `args` once; the events as `dump` writes them (the header's overhead too). */
function recordRun(name: string, args: string[], prog: string[]): { file: string; events: Ev[]; overheadNs: number | null; nestedNs: number | null } {
  const file = path.join(scratchDir(), `${name}.rethook`);
  const r = cli(['record', '-o', file, ...args, '--', ...prog]);
  expect(r.status).toBe(0);
  const header = readRecord(file, {}).header;
  const dump = cli(['dump', file]);
  expect(dump.status).toBe(0);
  return { file, events: dump.stdout.trim().split('\n').map((l) => JSON.parse(l)), overheadNs: header.overheadNs, nestedNs: header.nestedNs ?? null };
}

/**
 * Each exit's duration as summaries count it: less the round trip, and less
 * nestedNs per hooked call made inside it at any depth (one thread's events).
 */
function summaryTimes(evs: Ev[], overheadNs: number, nestedNs: number): Map<Ev, number> {
  const times = new Map<Ev, number>();
  const open: number[] = []; // per open call: hooked calls inside it so far
  for (const e of evs) {
    if (e.type === 'entry') open.push(0);
    else if (e.type === 'exit') {
      const nested = open.pop()!;
      if (open.length) open[open.length - 1] += 1 + nested;
      times.set(e, Math.max(0, e.durationNs - overheadNs - nested * nestedNs));
    }
  }
  return times;
}

const exits = (evs: Ev[]) => evs.filter((e) => e.type === 'exit');
const entries = (evs: Ev[]) => evs.filter((e) => e.type === 'entry');
const names = (evs: Ev[]) => entries(evs).map((e) => `${'  '.repeat(e.depth)}${e.function}`);

describe('calltree: a known call tree', () => {
  let run: ReturnType<typeof recordRun>;
  beforeAll(() => {
    // Trap mode: these views subtract the tracer's round trip, measured at start-up only in trap mode (fast mode's durations are the calls' own).
    run = recordRun('calltree', ['--mode', 'trap', ...TREE], [fixture('calltree')]);
  });

  test("the tracer measures its round trip and what a nested call adds at start-up: positive figures under 100 ms (an emulated arm64 takes 10), kept in the record", async () => {
    const c = await calibrate();
    expect(c).not.toBeNull();
    expect(c!.samples).toHaveLength(200);
    expect(c!.overheadNs).toBeGreaterThan(0);
    expect(c!.overheadNs).toBeLessThan(100e6);
    expect(c!.nestedNs).toBeGreaterThan(0);
    expect(c!.nestedNs).toBeLessThan(100e6);
    expect(run.overheadNs).toBeGreaterThan(0);
  });

  test('every event carries a monotonic timestamp; an exit comes its duration or more after its entry', () => {
    const evs = run.events.filter((e) => e.type === 'entry' || e.type === 'exit');
    for (let i = 1; i < evs.length; i++) expect(evs[i].ts).toBeGreaterThanOrEqual(evs[i - 1].ts);
    const open: Ev[] = [];
    for (const e of evs) {
      if (e.type === 'entry') open.push(e);
      else {
        const en = open.pop()!;
        expect(en.function).toBe(e.function);
        expect(e.ts - en.ts).toBeGreaterThanOrEqual(e.durationNs);
      }
    }
  });

  test('summary rows equal the counts and sums of the JSON events of the same run', () => {
    const r = cli(['report', '--format', 'json', run.file]);
    expect(r.status).toBe(0);
    const { rows, overheadNs, percentileRelativeError } = JSON.parse(r.stdout);
    expect(overheadNs).toBe(run.overheadNs);
    expect(JSON.parse(r.stdout).nestedNs).toBe(run.nestedNs);
    expect(run.nestedNs).toBeGreaterThan(0);
    expect(percentileRelativeError).toBe(1 / 256);
    const times = summaryTimes(run.events, overheadNs, run.nestedNs!);
    const t = (e: Ev) => times.get(e)!;
    const ex = exits(run.events);
    const byFn = new Map<string, Ev[]>();
    for (const e of ex) byFn.set(e.function, [...(byFn.get(e.function) ?? []), e]);
    expect(rows.map((x: Ev) => x.function).sort()).toEqual([...byFn.keys()].sort());
    for (const row of rows) {
      const mine = byFn.get(row.function)!;
      const ds = mine.map(t).sort((a, b) => a - b);
      expect(row.calls).toBe(mine.length);
      expect(row.totalNs).toBe(ds.reduce((a, b) => a + b, 0));
      expect(row.minNs).toBe(ds[0]);
      expect(row.maxNs).toBe(ds[ds.length - 1]);
      // Percentiles come from the summary's histogram: within 0.4% (1/256) of the exact ones, or 1 ns.
      const p50 = ds[Math.ceil(ds.length / 2) - 1];
      expect(Math.abs(row.p50Ns - p50)).toBeLessThanOrEqual(Math.max(1, p50 / 256));
      expect(row.unwound).toBe(0);
      expect(row.nmissed).toBe(0);
    }
    expect(Object.fromEntries(rows.map((x: Ev) => [x.function, x.calls]))).toEqual({ outer: 1, middle: 3, inner: 7, slow: 1, other: 1 });
    // Self time: each middle call less the inner and slow calls made inside it (exits come innermost first).
    let expectedSelf = 0, inside = 0;
    for (const e of ex) {
      if (e.depth === 2) inside += t(e);
      if (e.function === 'middle') {
        expectedSelf += Math.max(0, t(e) - inside);
        inside = 0;
      }
    }
    expect(rows.find((x: Ev) => x.function === 'middle').selfNs).toBe(expectedSelf);
    // Sorted by total, largest first; --sort calls puts inner first.
    expect(rows.map((x: Ev) => x.totalNs)).toEqual([...rows.map((x: Ev) => x.totalNs)].sort((a, b) => b - a));
    expect(JSON.parse(cli(['report', '--format', 'json', '--sort', 'calls', run.file]).stdout).rows[0].function).toBe('inner');
  });

  test('the text summary says what the durations include and has one row per function', () => {
    const r = cli(['report', run.file]);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^rethook: 13 calls traced, 0 missed, in [\d.]+ m?s; process \d+ exited with 0$/);
    expect(out[1]).toMatch(/^rethook: durations less the tracer's round trip \([\d.]+ [mun]?s per call\) and, in a caller, what each hooked call nested in it added \([\d.]+ [mun]?s\), both measured at start-up$/);
    expect(out[2].split(/\s+/).filter(Boolean)).toEqual(['calls', 'total', 'self', 'avg', 'min', 'max', 'p50', 'p99', 'unwound', 'missed', 'function']);
    expect(out.slice(3).filter(Boolean).map((l) => l.trim().split(/\s+/)).map((c) => [c[c.length - 1], c[0]]).sort()).toEqual(
      [['inner', '7'], ['middle', '3'], ['other', '1'], ['outer', '1'], ['slow', '1']]);
  });

  test('histogram bucket counts sum to the calls, in log2 buckets that cover every duration', () => {
    const r = cli(['report', '--format', 'json', '--hist', '*', run.file]);
    const { histograms } = JSON.parse(r.stdout);
    const ex = exits(run.events);
    expect(histograms.map((h: Ev) => h.function)).toEqual(['inner', 'middle', 'other', 'outer', 'slow']);
    for (const h of histograms) {
      const times = summaryTimes(run.events, run.overheadNs!, run.nestedNs!);
      const mine = ex.filter((e) => e.function === h.function).map((e) => times.get(e)!);
      expect(h.calls).toBe(mine.length);
      expect(h.buckets.reduce((a: number, b: Ev) => a + b.count, 0)).toBe(mine.length);
      for (const d of mine) expect(h.buckets.some((b: Ev) => d >= b.low && d < b.high && b.count > 0)).toBe(true);
      for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i].low).toBe(h.buckets[i - 1].high);
    }
    // As text, bpftrace's way: "[low, high)  count |@@@|", and percentiles.
    const text = cli(['report', '--hist', 'inner', run.file]).stdout;
    const rowsOf = text.split('\n').filter((l) => /^\[/.test(l));
    expect(rowsOf.map((l) => Number(/\)\s+(\d+) \|/.exec(l)![1])).reduce((a, b) => a + b, 0)).toBe(7);
    expect(text).toMatch(/^@inner: 7 calls, durations in ns; durations less the tracer's round trip/m);
    expect(text).toMatch(/^p50 [\d.]+ [mun]?s, p90 [\d.]+ [mun]?s, p99 [\d.]+ [mun]?s, max [\d.]+ [mun]?s$/m);
  });

  test('--max-depth, --caller, -n and --min-duration choose the calls shown; the program runs the same', () => {
    const show = (...f: string[]) => {
      const out = path.join(scratchDir(), 'filtered.jsonl');
      const r = cli(['trace', '--format', 'json', '-o', out, ...f, ...TREE, '--', fixture('calltree')]);
      expect(r.stdout).toBe('outer=18 other=18\n');
      return lines(out);
    };
    expect(names(show('--max-depth', '2'))).toEqual(['outer', '  middle', '  middle', '  middle', 'other', '  inner']);
    expect(names(show('--caller', 'midd*'))).toEqual(['  middle', '    inner', '    inner', '  middle', '    inner', '    inner', '    slow', '  middle', '    inner', '    inner']);
    expect(names(show('--caller', 'other'))).toEqual(['other', '  inner']);
    const firstFour = show('-n', '4');
    expect(names(firstFour)).toEqual(['outer', '  middle', '    inner', '    inner']);
    expect(exits(firstFour).map((e) => e.function)).toEqual(['inner', 'inner', 'middle', 'outer']);
    // Only slow is 150 ms long; its callers are kept for context.
    const long = show('--min-duration', '150ms');
    expect(long.filter((e) => e.type !== 'process-exit' && e.type !== 'fallbacks').map((e) => `${e.type} ${e.function}`)).toEqual(
      ['entry outer', 'entry middle', 'entry slow', 'exit slow', 'exit middle', 'exit outer']);
    expect(entries(long)[1].args[0]).toBe('0x1');
  });

  test('--caller rebases the tree: the caller is its root', () => {
    const r = cli(['replay', '--caller', 'other', run.file]);
    const tree = r.stdout.trimEnd().split('\n').map((l) => l.replace(/<[\d.]+ [mun]?s>/, '<T>').replace(/^\s*\d+ /, '').replace(/\(0x[^)]*\)/, '()'));
    expect(tree).toEqual(['other() {', '  inner() = 0x12 <T>', '} = 0x12 <T> /* other */']);
  });

  test('-r starts each line with the seconds since the start, increasing; -t with the time of day', () => {
    const r = cli(['replay', '-r', run.file]).stdout.trimEnd().split('\n');
    const secs = r.map((l) => Number(/^\s*(\d+\.\d{6}) /.exec(l)![1]));
    for (let i = 1; i < secs.length; i++) expect(secs[i]).toBeGreaterThanOrEqual(secs[i - 1]);
    expect(secs[0]).toBeLessThan(10);
    const t = cli(['replay', '-t', run.file]).stdout.trimEnd().split('\n');
    for (const l of t) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{6}\s+\d+ /);
  });

  test('Chrome output is valid JSON whose events nest per thread and match the JSON events one to one', () => {
    const r = cli(['dump', '--chrome', run.file]);
    const trace = JSON.parse(r.stdout);
    const xs = trace.traceEvents.filter((e: Ev) => e.ph === 'X');
    const ex = exits(run.events);
    expect(xs).toHaveLength(ex.length);
    // One to one, in the order of the exits: name, duration, return value and args.
    const en = entries(run.events);
    xs.forEach((x: Ev, i: number) => {
      expect(x.name).toBe(ex[i].function);
      expect(x.args.retval).toBe(ex[i].retval);
      expect(x.args.durationNs).toBe(ex[i].durationNs);
      expect(x.tid).toBe(ex[i].tid);
    });
    expect(xs.map((x: Ev) => x.args.args[0]).sort()).toEqual(en.map((e) => e.args[0]).sort());
    checkNesting(xs);
    const meta = trace.traceEvents.filter((e: Ev) => e.ph === 'M');
    expect(meta.map((m: Ev) => m.name)).toEqual(['process_name', 'thread_name']);
    expect(meta[0].args.name).toMatch(/^calltree\.O0 \d+$/);
    expect(trace.otherData).toMatchObject({ tool: 'rethook', cut: false });
  });

  test('folded stacks: one line per distinct stack, weights adding up to the self times', () => {
    const r = cli(['dump', '--folded', run.file]);
    const folded = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
    expect(Object.keys(folded).sort()).toEqual(['other', 'other;inner', 'outer', 'outer;middle', 'outer;middle;inner', 'outer;middle;slow'].filter((k) => folded[k] !== undefined).sort());
    expect(folded['outer;middle;slow']).toBeGreaterThan(150e6);
    const report = JSON.parse(cli(['report', '--format', 'json', run.file]).stdout).rows;
    const self = report.reduce((a: number, x: Ev) => a + x.selfNs, 0);
    expect(Object.values(folded).reduce((a, b) => a + b, 0)).toBeCloseTo(self, -2);
  });
});

/** X events of each thread: sorted by start, each inside or after the one before it (never overlapping partly). */
function checkNesting(xs: Ev[]): void {
  const byThread = new Map<string, Ev[]>();
  for (const x of xs) byThread.set(`${x.pid}/${x.tid}`, [...(byThread.get(`${x.pid}/${x.tid}`) ?? []), x]);
  for (const list of byThread.values()) {
    const ns = list.map((x) => ({ s: Math.round(x.ts * 1000), e: Math.round(x.ts * 1000) + Math.round(x.dur * 1000) })).sort((a, b) => a.s - b.s || b.e - a.e);
    const open: { s: number; e: number }[] = [];
    for (const x of ns) {
      while (open.length && open[open.length - 1].e <= x.s) open.pop();
      if (open.length) expect(x.e).toBeLessThanOrEqual(open[open.length - 1].e + 1); // inside its parent (1 ns of rounding)
      open.push(x);
    }
  }
}

test('threads: --tid shows one thread; Chrome tracks per thread nest; --per-thread summary rows per thread', () => {
  const out = path.join(scratchDir(), 'threads.jsonl');
  const r = cli(['trace', '--format', 'json', '-o', out, '-f', 'work', '--', fixture('threads'), '3', '20']);
  expect(r.status).toBe(0);
  const evs = lines(out);
  const tids = [...new Set(entries(evs).map((e) => e.tid))];
  expect(tids).toHaveLength(3);
  const one = path.join(scratchDir(), 'one.jsonl');
  cli(['trace', '--format', 'json', '-o', one, '--tid', '999999', '-f', 'work', '--', fixture('threads'), '3', '20']);
  expect(lines(one).filter((e) => e.type === 'entry')).toEqual([]);
  const rec = recordRun('threads', ['-f', 'work'], [fixture('threads'), '3', '20']);
  const tid = entries(rec.events)[0].tid;
  const only = cli(['dump', '--tid', String(tid), rec.file]).stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(only.filter((e) => e.type === 'entry' || e.type === 'exit').every((e) => e.tid === tid)).toBe(true);
  expect(entries(only)).toHaveLength(20);
  const chrome = JSON.parse(cli(['dump', '--chrome', rec.file]).stdout);
  const xs = chrome.traceEvents.filter((e: Ev) => e.ph === 'X');
  expect(xs).toHaveLength(60);
  checkNesting(xs);
  expect(chrome.traceEvents.filter((e: Ev) => e.name === 'thread_name')).toHaveLength(3);
  const per = JSON.parse(cli(['report', '--format', 'json', '--per-thread', rec.file]).stdout).rows;
  expect(per.map((x: Ev) => x.calls)).toEqual([20, 20, 20]);
  expect(new Set(per.map((x: Ev) => x.tid)).size).toBe(3);
});

test('recursion: a live trace --format chrome nests per thread and carries arguments and return values', () => {
  const out = path.join(scratchDir(), 'fact.json');
  const r = cli(['trace', '--format', 'chrome', '-o', out, '-f', 'fact', '--', fixture('recursion')]);
  expect(r.stdout).toBe('fact(5)=120\n');
  const xs = JSON.parse(fs.readFileSync(out, 'utf8')).traceEvents.filter((e: Ev) => e.ph === 'X');
  expect(xs.map((x: Ev) => [x.args.args[0], x.args.retval])).toEqual([['0x1', '0x1'], ['0x2', '0x2'], ['0x3', '0x6'], ['0x4', '0x18'], ['0x5', '0x78']]);
  checkNesting(xs);
  for (let i = 1; i < xs.length; i++) expect(xs[i].ts).toBeLessThanOrEqual(xs[i - 1].ts); // each outer call starts before the inner
});

test('longjmp: unwound calls are marked in the summary and the Chrome trace', () => {
  const out = path.join(scratchDir(), 'lj.json');
  cli(['trace', '--format', 'chrome', '-o', out, '-f', 'deep*', '-f', 'after', '--', fixture('longjmp')]);
  const xs = JSON.parse(fs.readFileSync(out, 'utf8')).traceEvents.filter((e: Ev) => e.ph === 'X');
  expect(xs.filter((x: Ev) => x.args.unwound).map((x: Ev) => [x.name, x.args.reason, x.cat])).toEqual([['deeper', 'longjmp', 'call,unwound'], ['deep', 'longjmp', 'call,unwound']]);
  const s = JSON.parse(cli(['trace', '-c', '--format', 'json', '-f', 'deep*', '-f', 'after', '--', fixture('longjmp')]).stderr.trim().split('\n').pop()!);
  expect(Object.fromEntries(s.rows.map((x: Ev) => [x.function, x.unwound]))).toEqual({ deep: 1, deeper: 1, after: 0 });
});

test('nested: calls missed (--max-active) are counted per function in the summary', () => {
  // Trap mode: fast mode counts calls missed per hook, not per function (the arena has one counter per pool; docs/limits.md).
  const r = cli(['trace', '--mode', 'trap', '-c', '--format', 'json', '--max-active', '2', '-f', 'depth', '--', fixture('nested')]);
  const s = JSON.parse(r.stderr.trim().split('\n').pop()!);
  expect(s.rows).toEqual([expect.objectContaining({ function: 'depth', calls: 2, nmissed: 8 })]);
});

test('the API: a Summary fed from handlers gives the rows as an object', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('recursion'), [], { stdio: [0, out.fd, 2] });
  const summary = new Summary();
  const seen: bigint[] = [];
  t.hook('fact', {
    onEntry: (c) => summary.entry(c),
    onExit: (c) => {
      summary.exit(c);
      seen.push(c.durationNs);
      expect(c.timestampNs - c.entryTimestampNs).toBeGreaterThanOrEqual(c.durationNs);
    },
  });
  await t.run();
  const [row] = summary.rows();
  expect(row).toMatchObject({ function: 'fact', calls: 5, unwound: 0, nmissed: 0 });
  expect(row.totalNs).toBe(seen.reduce((a, b) => a + Number(b), 0));
  expect(row.maxNs).toBe(Number(seen[seen.length - 1]));
  expect(row.selfNs).toBeLessThan(row.totalNs);
  expect(out.text()).toBe('fact(5)=120\n');
});

