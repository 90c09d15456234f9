/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// `rethook report --html`: the page opened in headless Chromium (Debian's
// chromium, driven by puppeteer-core). It must load nothing, log no error,
// show the rows `rethook report` shows, zoom its flame graph on a click, and
// show hostile names as text. A screenshot goes to test/artifacts/.
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { cli, fixture, scratchDir } from './helpers';
import { HtmlView } from '../lib/views/html';
import { Sink } from '../lib/views/format';
import type { EntryEvent, ExitEvent } from '../lib/events';
import type { RunInfo } from '../lib/views/view';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const puppeteer = require('puppeteer-core') as typeof import('puppeteer-core');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, 'artifacts');
const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];

let browser: Browser;
beforeAll(async () => {
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});
afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  /** Console messages of type error or warning, and uncaught exceptions. */
  errors: string[];
  /** Every URL the page asked for (the page itself included). */
  requests: string[];
}

async function open(file: string): Promise<Opened> {
  const page = await browser.newPage();
  const o: Opened = { page, errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') o.errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => o.errors.push(`pageerror: ${(e as Error).message}`));
  page.on('request', (r) => o.requests.push(r.url()));
  await page.setViewport({ width: 1300, height: 1000 });
  await page.goto('file://' + file, { waitUntil: 'load' });
  return o;
}

/** The rows of `rethook report`'s text table, cell by cell. */
function reportRows(text: string): string[][] {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => /^\s*calls\s+total\s+self/.test(l));
  return lines.slice(head + 1).filter((l) => l.trim() && !l.startsWith('rethook:')).map((l) => l.trim().split(/ {2,}/));
}

const tableRows = (page: Page) => page.$$eval('#functions tbody tr', (trs) => trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? '')));

/** The width of the first flame-graph frame of `name`, and of the whole graph, in CSS pixels. */
const frameWidth = (page: Page, name: string) => page.evaluate((n) => {
  const g = [...document.querySelectorAll('#flame .frame')].find((e) => e.getAttribute('data-name') === n);
  return { frame: g ? g.querySelector('rect')!.getBoundingClientRect().width : 0, all: document.querySelector('#flame svg')!.getBoundingClientRect().width };
}, name);

describe('the report of a known call tree', () => {
  let file: string;
  let report: string;
  let o: Opened;
  beforeAll(async () => {
    const rec = path.join(scratchDir(), 'calltree.rethook');
    expect(cli(['record', '--mode', 'trap', '-o', rec, ...TREE, '--', fixture('calltree')]).status).toBe(0);
    file = path.join(scratchDir(), 'report.html');
    const r = cli(['report', '--html', rec, '-o', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    report = cli(['report', rec]).stdout;
    o = await open(file);
  });

  test('the page loads nothing but itself and logs no error', () => {
    expect(o.requests).toEqual(['file://' + file]);
    expect(o.errors).toEqual([]);
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
  });

  test('its table has the rows of rethook report, in its order, and sorts by a clicked column', async () => {
    const rows = reportRows(report);
    expect(rows.map((r) => r[r.length - 1]).sort()).toEqual(['inner', 'middle', 'other', 'outer', 'slow']);
    expect(await tableRows(o.page)).toEqual(rows);
    await o.page.click('#functions th[data-key="calls"]');
    const byCalls = await tableRows(o.page);
    expect(byCalls.map((r) => Number(r[0]))).toEqual(rows.map((r) => Number(r[0])).sort((a, b) => b - a));
    expect(byCalls[0][10]).toBe('inner');
    await o.page.click('#functions th[data-key="totalNs"]'); // back to report's order
    expect(await tableRows(o.page)).toEqual(rows);
  });

  test('the command, the durations note, a histogram per function and a row per thread are shown', async () => {
    const text = (sel: string) => o.page.$eval(sel, (e) => e.textContent ?? '');
    expect(await text('#command')).toBe(fixture('calltree'));
    expect(await text('#durations')).toMatch(/^Durations: durations less the tracer's round trip \(/);
    const hist = await o.page.$$eval('.histogram h3', (hs) => hs.map((h) => h.textContent ?? ''));
    expect(hist.map((h) => h.split(':')[0]).sort()).toEqual(['inner', 'middle', 'other', 'outer', 'slow']);
    expect(hist.find((h) => h.startsWith('inner:'))).toMatch(/^inner: 7 calls; p50 /);
    expect(await o.page.$$eval('#timeline svg > rect', (rs) => rs.length)).toBeGreaterThanOrEqual(3); // the thread's line, outer, other
  });

  test('clicking a flame-graph frame zooms to it: it takes the whole width, its siblings leave; clicking the top frame zooms out', async () => {
    const before = await frameWidth(o.page, 'middle');
    expect(before.frame).toBeGreaterThan(0);
    expect(before.frame).toBeLessThan(before.all); // other and outer's own time take the rest (a sliver: slow, inside middle, takes 200 ms)
    // (other, beside outer, takes a few µs of 200 ms, or 0 once the tracer's part is taken off: it may not be drawn at all.)
    await o.page.click('#flame .frame[data-name="middle"]'); // a real click, at its middle
    const after = await frameWidth(o.page, 'middle');
    expect(after.frame).toBeGreaterThan(after.all * 0.99);
    expect((await frameWidth(o.page, 'other')).frame).toBe(0); // not under middle: gone
    expect((await frameWidth(o.page, 'slow')).frame).toBeGreaterThan(after.all * 0.9); // middle's child: it fills the zoomed view (inner's µs stay below a pixel next to slow's 200 ms)
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await o.page.screenshot({ path: path.join(ARTIFACTS, 'html-report.png'), fullPage: true });
    await o.page.click('#flame .frame[data-name="all"]'); // the top frame: all the way out
    expect((await frameWidth(o.page, 'middle')).frame).toBeCloseTo(before.frame, 0);
    expect(o.errors).toEqual([]);
  });
});

test('names from the program are shown as text: a symbol named <script> runs nothing', async () => {
  const hostile = ['<script>window.__pwned = 1</script>', '<img src=x onerror="window.__pwned = 2">', '</script><script>window.__pwned = 3</script>', 'a\u2028b'];
  const file = path.join(scratchDir(), 'hostile.html');
  const fd = fs.openSync(file, 'w');
  const run: RunInfo = { command: ['./prog', '<b>bold</b>'], pid: 100, startTs: 1000, startWallNs: 0, overheadNs: null, mode: 'fast' };
  const view = new HtmlView(new Sink(fd), run, { overheadNs: null, headline: () => 'rethook: <i>4</i> calls' });
  let ts = 2000;
  hostile.forEach((fn, depth) => view.entry({ type: 'entry', pid: 100, tid: 100, function: fn, address: '0x1', depth, args: [], ts: ts++ } as EntryEvent));
  [...hostile].reverse().forEach((fn, i) => view.exit({ type: 'exit', pid: 100, tid: 100, function: fn, depth: hostile.length - 1 - i, retval: '0x0', unwound: false, durationNs: 100 * (i + 1), ts: ts++ } as ExitEvent));
  view.note({ type: 'fallback', message: 'in trap mode, not fast: <script>window.__pwned = 4</script>' }, 'in trap mode, not fast: <script>window.__pwned = 4</script>');
  view.end({ endTs: ts, nmissed: new Map(), cut: false, status: null });
  fs.closeSync(fd);
  const o = await open(file);
  expect(await o.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(o.errors).toEqual([]);
  expect(o.requests).toEqual(['file://' + file]);
  const names = (await tableRows(o.page)).map((r) => r[10]);
  expect(names.sort()).toEqual([...hostile].sort());
  expect(await o.page.$eval('#command', (e) => e.textContent)).toBe('./prog <b>bold</b>');
  expect(await o.page.$$eval('#notes li', (ls) => ls.map((l) => l.textContent))).toEqual(['fallback: in trap mode, not fast: <script>window.__pwned = 4</script>']);
  expect(await o.page.$$eval('#flame .frame', (gs) => gs.map((g) => g.getAttribute('data-name')))).toEqual(['all', ...hostile]);
});
