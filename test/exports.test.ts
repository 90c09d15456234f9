// The exports for other tools, each opened by a real consumer: pprof by
// `go tool pprof`, Perfetto's protobuf decoded against its schema and
// compared slice by slice with the Chrome export of the same record, and the
// Chrome JSON loaded into Speedscope in headless Chromium.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { traceType, TYPE_INSTANT, TYPE_SLICE_BEGIN, TYPE_SLICE_END } from '../lib/views/perfetto-schema';
import { cli, fixture, scratchDir } from './helpers';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const GO = '/usr/bin/go';
const CHROMIUM = '/usr/bin/chromium';
// Skipped only where the consumer is not installed (.ci/run installs both: golang-go, chromium).
const withGo = fs.existsSync(GO) ? test : test.skip;
const withChromium = fs.existsSync(CHROMIUM) ? test : test.skip;

const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];

function record(name: string, args: string[], prog: string[]): string {
  const file = path.join(scratchDir(), `${name}.rethook`);
  const r = cli(['record', '-o', file, ...args, '--', ...prog]);
  expect(r.status).toBe(0);
  return file;
}

function dumpTo(format: string, rec: string, ext: string): string {
  const out = path.join(scratchDir(), `${path.basename(rec)}.${ext}`);
  const r = cli(['dump', '--format', format, '-o', out, rec]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  return out;
}

/** `go tool pprof ARGS`, offline, with its cache in a scratch directory. */
function pprof(args: string[]): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-go-'));
  try {
    return execFileSync(GO, ['tool', 'pprof', ...args], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000,
      env: { ...process.env, HOME: home, GOCACHE: path.join(home, 'cache'), GOPATH: path.join(home, 'gopath'), GOPROXY: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '' },
    });
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** The rows of `pprof -top`: function -> flat value (a number, the unit's suffix dropped). */
function topFlat(text: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const l of text.split('\n')) {
    const m = /^\s*(\d+)(?:ns)?\s+[\d.e+-]+%\s+[\d.e+-]+%\s+\d+(?:ns)?\s+[\d.e+-]+%\s+(.+)$/.exec(l); // tiny shares print as 3.7e-05%
    if (m) rows[m[2].trim()] = Number(m[1]);
  }
  return rows;
}

describe('pprof', () => {
  withGo('go tool pprof -top lists the hooked functions of a known call tree with the call counts and total times of rethook report', () => {
    const rec = record('calltree-pprof', TREE, [fixture('calltree')]);
    const prof = dumpTo('pprof', rec, 'pb.gz');
    expect(fs.readFileSync(prof).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    const report = JSON.parse(cli(['report', '--format', 'json', rec]).stdout).rows as Ev[];
    const calls = topFlat(pprof(['-top', '-nodefraction=0', '-sample_index=calls', prof]));
    expect(calls).toEqual(Object.fromEntries(report.map((r) => [r.function, r.calls])));
    expect(calls).toEqual({ outer: 1, middle: 3, inner: 7, slow: 1, other: 1 });
    const totals = topFlat(pprof(['-top', '-nodefraction=0', '-sample_index=total_time', '-unit=ns', prof]));
    expect(Object.keys(totals).sort()).toEqual(report.map((r) => r.function).sort());
    for (const r of report) expect(Math.abs(totals[r.function] - r.totalNs)).toBeLessThanOrEqual(3); // rounded per stack, not per function
    // The default sample type is self time: a flame graph's widths are the calls' own times.
    const self = topFlat(pprof(['-top', '-nodefraction=0', '-unit=ns', prof]));
    for (const r of report) expect(Math.abs(self[r.function] - r.selfNs)).toBeLessThanOrEqual(3);
  });

  withGo('a live trace --format pprof places the functions in their module with file and line from the debug information', () => {
    const out = path.join(scratchDir(), 'deep.pb.gz');
    const prog = fixture('deep', 'g-O0');
    const r = cli(['trace', '--format', 'pprof', '-o', out, '-f', 'level*', '--', prog]);
    expect(r.status).toBe(0);
    const src = fs.readFileSync(path.join(__dirname, 'fixtures', 'deep.c'), 'utf8').split('\n');
    const lineOf = (fn: string) => src.findIndex((l) => l.includes(`int ${fn}(`)) + 1;
    const raw = pprof(['-raw', out]);
    for (const fn of ['level1', 'level2', 'level3']) expect(raw).toMatch(new RegExp(`^\\s+\\d+: 0x[0-9a-f]+ M=1 ${fn} deep\\.c:${lineOf(fn)} s=${lineOf(fn)}$`, 'm'));
    expect(raw).toMatch(new RegExp(`^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x0 ${prog.replace(/[.]/g, '\\.')}\\s+\\[FN\\]\\[FL\\]\\[LN\\]$`, 'm'));
    // One sample per stack, innermost first: level3 inside level2 inside level1, one call each.
    expect(topFlat(pprof(['-top', '-nodefraction=0', '-sample_index=calls', out]))).toEqual({ level1: 1, level2: 1, level3: 1 });
    expect(pprof(['-traces', '-sample_index=calls', out])).toMatch(/\s1\s+level3\n\s+level2\n\s+level1\n/);
  });

  withGo('fast mode: a live trace --format pprof counts the calls as report does', () => {
    const out = path.join(scratchDir(), 'calltree-fast.pb.gz');
    expect(cli(['trace', '--mode', 'fast', '--format', 'pprof', '-o', out, ...TREE, '--', fixture('calltree', 'O2')]).status).toBe(0);
    expect(topFlat(pprof(['-top', '-nodefraction=0', '-sample_index=calls', out]))).toEqual({ outer: 1, middle: 3, inner: 7, slow: 1, other: 1 });
    // slow sleeps 200 ms inside middle(1) inside outer: its flat total time is in each of theirs.
    const totals = topFlat(pprof(['-top', '-nodefraction=0', '-sample_index=total_time', '-unit=ns', out]));
    expect(totals.slow).toBeGreaterThan(150e6);
    expect(totals.outer).toBeGreaterThanOrEqual(totals.slow);
  });

  test('a binary format asks for a file: trace --format pprof without -o is a usage error', () => {
    const r = cli(['trace', '--format', 'pprof', '-f', 'inner', '--', fixture('calltree')]);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('rethook: --format pprof writes a binary file: give -o FILE');
  });
});

/** Perfetto's packets read back into slices per thread (and instants per process), by the schema. */
function perfettoSlices(file: string): { threads: Map<number, Ev[]>; instants: Ev[]; eventNames: string[] } {
  const t = traceType();
  const trace = t.toObject(t.decode(fs.readFileSync(file)), { longs: Number, enums: Number }) as { packet: Ev[] };
  const names = new Map<number, string>();
  const keys = new Map<number, string>();
  const eventNames: string[] = [];
  const tidOf = new Map<number, number>();
  const open = new Map<number, Ev[]>();
  const threads = new Map<number, Ev[]>();
  const instants: Ev[] = [];
  expect(trace.packet[0].sequence_flags).toBe(1); // the sequence's incremental state starts cleared
  const value = (a: Ev): unknown => {
    if (a.array_values?.length) return a.array_values.map(value);
    for (const k of ['int_value', 'double_value', 'string_value', 'bool_value', 'uint_value']) if (a[k] !== undefined) return a[k];
    return undefined;
  };
  for (const p of trace.packet) {
    for (const n of p.interned_data?.event_names ?? []) {
      names.set(n.iid, n.name);
      eventNames.push(n.name);
    }
    for (const n of p.interned_data?.debug_annotation_names ?? []) keys.set(n.iid, n.name);
    if (p.track_descriptor?.thread) tidOf.set(p.track_descriptor.uuid, p.track_descriptor.thread.tid);
    const e = p.track_event;
    if (!e) continue;
    expect(p.sequence_flags).toBe(2); // it refers to interned names
    const args = Object.fromEntries((e.debug_annotations ?? []).map((a: Ev) => [keys.get(a.name_iid), value(a)]));
    if (e.type === TYPE_INSTANT) {
      instants.push({ name: names.get(e.name_iid), ts: p.timestamp, args });
      continue;
    }
    const tid = tidOf.get(e.track_uuid)!;
    expect(tid).toBeDefined();
    const st = open.get(tid) ?? [];
    open.set(tid, st);
    if (e.type === TYPE_SLICE_BEGIN) st.push({ name: names.get(e.name_iid), ts: p.timestamp, args });
    else if (e.type === TYPE_SLICE_END) {
      const s = st.pop()!;
      expect(p.timestamp).toBeGreaterThanOrEqual(s.ts);
      threads.set(tid, [...(threads.get(tid) ?? []), { ...s, dur: p.timestamp - s.ts }]);
    }
  }
  for (const st of open.values()) expect(st).toEqual([]);
  return { threads, instants, eventNames };
}

/** The Chrome export's calls per thread, in ns from the first call's start, as [name, start, dur, args]. */
function chromeByThread(file: string): Map<number, Ev[]> {
  const xs = (JSON.parse(fs.readFileSync(file, 'utf8')).traceEvents as Ev[]).filter((e) => e.ph === 'X');
  const t0 = Math.min(...xs.map((x) => Math.round(x.ts * 1000)));
  const m = new Map<number, Ev[]>();
  for (const x of xs) m.set(x.tid, [...(m.get(x.tid) ?? []), [x.name, Math.round(x.ts * 1000) - t0, Math.round(x.dur * 1000), x.args]]);
  for (const l of m.values()) l.sort((a, b) => a[1] - b[1] || b[2] - a[2]);
  return m;
}

describe('perfetto', () => {
  test('a round trip through the schema gives the Chrome export\'s slices per thread: names, times, durations and typed values', () => {
    const rec = record('threads-perfetto', ['-f', 'work(long thread, long i) -> long'], [fixture('threads'), '3', '20']);
    const { threads, instants, eventNames } = perfettoSlices(dumpTo('perfetto', rec, 'pftrace'));
    const chrome = chromeByThread(dumpTo('chrome', rec, 'json'));
    expect(threads.size).toBe(3);
    const t0 = Math.min(...[...threads.values()].flat().map((s) => s.ts));
    const ours = new Map([...threads].map(([tid, l]) => [tid, l.map((s) => [s.name, s.ts - t0, s.dur, s.args]).sort((a, b) => a[1] - b[1] || b[2] - a[2])]));
    expect(ours).toEqual(chrome);
    // The typed values, by name, on every slice; each name interned once.
    for (const l of threads.values()) {
      expect(l).toHaveLength(20);
      for (const s of l) expect(s.args.return).toBe(s.args.thread * 1000000 + s.args.i);
    }
    expect(eventNames).toEqual(['work', 'exit']);
    // The program's end, an instant on its process's track.
    expect(instants).toEqual([expect.objectContaining({ name: 'exit', args: { code: 0 } })]);
  });

  test('nested calls become nested slices on their thread, unwound calls carry their reason', () => {
    const out = path.join(scratchDir(), 'lj.pftrace');
    expect(cli(['trace', '--format', 'perfetto', '-o', out, '-f', 'deep*', '-f', 'after', '--', fixture('longjmp')]).status).toBe(0);
    const chromeOut = path.join(scratchDir(), 'lj.json');
    expect(cli(['trace', '--format', 'chrome', '-o', chromeOut, '-f', 'deep*', '-f', 'after', '--', fixture('longjmp')]).status).toBe(0);
    const { threads } = perfettoSlices(out);
    const slices = [...threads.values()].flat();
    const xs = [...chromeByThread(chromeOut).values()].flat();
    // Two separate runs: the same calls, the same values (times differ).
    expect(slices.map((s) => [s.name, s.args.unwound ?? false, s.args.reason ?? null]).sort()).toEqual(xs.map((x) => [x[0], x[3].unwound ?? false, x[3].reason ?? null]).sort());
    expect(slices.filter((s) => s.args.unwound).map((s) => [s.name, s.args.reason]).sort()).toEqual([['deep', 'longjmp'], ['deeper', 'longjmp']]);
    const deep = slices.find((s) => s.name === 'deep')!, deeper = slices.find((s) => s.name === 'deeper')!;
    expect(deeper.ts).toBeGreaterThanOrEqual(deep.ts);
    expect(deeper.ts + deeper.dur).toBeLessThanOrEqual(deep.ts + deep.dur);
  });
});

describe('chrome', () => {
  test('the Chrome export carries the typed values by name and lasts each call\'s durationNs exactly', () => {
    const rec = record('deep-chrome', ['-f', 'level*'], [fixture('deep', 'g-O0')]);
    const events = cli(['dump', rec]).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const exits = events.filter((e) => e.type === 'exit');
    const entries = events.filter((e) => e.type === 'entry');
    const xs = (JSON.parse(fs.readFileSync(dumpTo('chrome', rec, 'json'), 'utf8')).traceEvents as Ev[]).filter((e) => e.ph === 'X');
    expect(xs).toHaveLength(3);
    xs.forEach((x, i) => {
      const ex = exits[i];
      const en = entries.find((e) => e.function === ex.function)!;
      expect(x.dur).toBe(ex.durationNs / 1000);
      expect(x.args).toEqual({ x: en.argv[0].value, args: en.args, return: ex.ret.value, retval: ex.retval, durationNs: ex.durationNs }); // typed by name, and the raw registers as ever
    });
    expect(xs.map((x) => [x.name, x.args.x, x.args.return])).toEqual([['level3', 3, 9], ['level2', 2, 11], ['level1', 1, 12]]);
  });

  withChromium('Speedscope in headless Chromium opens the Chrome export and lists the hooked functions, with no network request', async () => {
    const file = path.join(scratchDir(), 'calltree-speedscope.json');
    expect(cli(['trace', '--format', 'chrome', '-o', file, ...TREE, '--', fixture('calltree')]).status).toBe(0);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const puppeteer = require('puppeteer-core') as typeof import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const app = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release', 'index.html');
      await page.goto(`file://${app}`);
      // In the page (strings: this file is compiled without the DOM's types).
      const shows = (re: string, flags = '') => page.waitForFunction(`/${re}/${flags}.test(document.body.innerText)`, { timeout: 30000 });
      await shows('Browse');
      const [chooser] = await Promise.all([
        page.waitForFileChooser(),
        page.evaluate(`[...document.querySelectorAll('a,button,label,span')].find((a) => /Browse/.test(a.textContent)).click()`),
      ]);
      await chooser.accept([file]);
      await shows('Sandwich');
      // The sandwich view lists every function (the flame graph draws them on a canvas).
      await page.evaluate(`[...document.querySelectorAll('div')].find((d) => /Sandwich$/.test(d.textContent) && d.children.length <= 1).click()`);
      await shows('Symbol Name');
      // The rows come after the header (a loaded machine draws them later): wait for each function's.
      for (const fn of ['outer', 'middle', 'inner', 'slow', 'other']) await shows(`^\\s*${fn}\\b`, 'm');
      const text = (await page.evaluate('document.body.innerText')) as string;
      for (const fn of ['outer', 'middle', 'inner', 'slow', 'other']) expect(text).toMatch(new RegExp(`^\\s*${fn}\\b`, 'm'));
      expect(text).toMatch(/calltree\.O0 \d+ \(pid \d+\)/);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
