// Record files are untrusted input (issue 21, item 8): `report`, `replay` and
// `dump` of a crafted record give one line naming the file, the line and the
// field, and a non-zero exit, never a stack trace; what they show of a
// record is escaped as live text is; reading is linear in the file's size
// and what is held stays bounded (a 300 MB line, a million calls that never
// return), within a time and memory bound measured here.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseCommand } from '../lib/cli/args';
import { reportCommand } from '../lib/cli/commands/report';
import { RethookError } from '../lib/errors';
import { IN_FLIGHT_MAX } from '../lib/views/record';
import { CLI, scratchDir } from './helpers';
import { deepJson, END, EVENTS, HEADER, lines, Mutant, MUTANTS, mutated, text } from './record-corpus';
import { timeBound } from './time-bound';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const hostile = require('./hostile-fixtures') as { build: () => void; OUT: string; EVIL: Record<string, string> };

type Obj = Record<string, unknown>;

/** The views of a record, each command line as the CLI takes it (FILE last). */
const VIEWS = [['report'], ['replay'], ['dump'], ['dump', '--chrome'], ['dump', '--folded']];

/** Preloaded into the CLI: its peak memory (KiB), written as it exits. */
let rssHook = '';
beforeAll(() => {
  rssHook = path.join(scratchDir(), 'rss-hook.js');
  fs.writeFileSync(rssHook, "process.on('exit', () => require('fs').writeFileSync(process.env.RETHOOK_TEST_RSS, String(process.resourceUsage().maxRSS)));\n");
});

let runs = 0;

/** The CLI run on its own, its output as bytes one to one (latin1: raw control bytes stay visible), with its time and peak memory. */
function run(args: string[], timeout = 120000): { stdout: string; stderr: string; status: number | null; ms: number; rssMiB: number } {
  const rssFile = path.join(scratchDir(), `rss-${runs++}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--require', rssHook, CLI, ...args], {
    encoding: 'latin1', timeout, killSignal: 'SIGKILL', maxBuffer: 64 << 20, env: { ...process.env, RETHOOK_TEST_RSS: rssFile },
  });
  const ms = Date.now() - t0;
  const rssMiB = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) / 1024 : NaN;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, ms, rssMiB };
}

function write(name: string, content: string): string {
  const file = path.join(scratchDir(), name);
  fs.writeFileSync(file, content);
  return file;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One line on stderr naming the file, the line and the field. */
const oneLine = (file: string, line: number, field: string) =>
  new RegExp(`^rethook: ${escapeRe(file)} line ${line}: [^\\n]*field '${escapeRe(field)}': expected [^\\n]+, found [^\\n]+\\n$`);

describe('a crafted record corpus: each field wrong in type and in range', () => {
  // One CLI run per field (each kind of line, each view in turn); every value of MUTANTS goes through the views in-process below.
  const perField = new Map<string, Mutant>();
  for (const mu of MUTANTS) if (!perField.has(`${mu.line} ${mu.named}`)) perField.set(`${mu.line} ${mu.named}`, mu);

  test.each([...perField.values()].map((mu, i) => [mu.line, mu.named, VIEWS[i % VIEWS.length].join(' '), mu, i] as const))(
    'line %i with field %s wrong: `%s` says so in one line and exits 1',
    (_line, _named, _view, mu, i) => {
      const file = write(`field-${i}.rethook`, mutated(mu));
      const r = run([...VIEWS[i % VIEWS.length], file]);
      expect(r.stderr).toMatch(oneLine(file, mu.line, mu.named));
      expect(r.status).toBe(1);
    },
  );

  test('every mutant through every view, in-process: a RethookError of one line naming its line and field, nothing else thrown', () => {
    const out = path.join(scratchDir(), 'views.out');
    const file = path.join(scratchDir(), 'mutant.rethook');
    const wrong: string[] = [];
    for (const mu of MUTANTS) {
      fs.writeFileSync(file, mutated(mu));
      for (const view of VIEWS) {
        const thrown = quietly(() => reportCommand(parseCommand([...view, '-o', out, file])));
        const ok = thrown instanceof RethookError && oneLine(file, mu.line, mu.named).test(`rethook: ${thrown.message}\n`);
        if (!ok) wrong.push(`${view.join(' ')} ${JSON.stringify(mu)}: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('random mutants of every line (a seeded run of 400, every view): each is shown or refused with a RethookError, never another error', () => {
    const pool: unknown[] = [null, -1, 0, 1.5, 2 ** 31, 1e300, -1e300, '', 'x', '\x1b[2J', true, [], {}, [1, 'a'], { a: null }, JSON.parse(deepJson(5000))];
    let seed = 21;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const out = path.join(scratchDir(), 'random.out');
    const file = path.join(scratchDir(), 'random.rethook');
    const wrong: string[] = [];
    let refused = 0;
    for (let k = 0; k < 400; k++) {
      const all = lines();
      for (let n = 1 + rand(3); n > 0; n--) {
        const o = all[rand(all.length)];
        const keys = [...Object.keys(o), 'extra'];
        o[keys[rand(keys.length)]] = pool[rand(pool.length)];
      }
      fs.writeFileSync(file, text(all));
      for (const view of VIEWS) {
        const thrown = quietly(() => reportCommand(parseCommand([...view, '-o', out, file])));
        if (thrown instanceof RethookError && !/\n/.test(thrown.message)) refused++;
        else if (thrown !== null) wrong.push(`${k} ${view.join(' ')}: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(400); // most mutants are refused, by every view
  });

  test('a 100,000-deep value (which JSON.stringify cannot write) is refused in one line naming it, by `dump`', () => {
    const all = text(lines()).split('\n');
    all[2] = all[2].replace('"argv":[', `"argv":[{"name":"v","type":"struct s","value":${deepJson(100000)}},`);
    all.splice(4, 0, `{"type":"checkpoint","state":${deepJson(100000)}}`);
    let file = write('deep.rethook', all.join('\n'));
    let r = run(['dump', file]);
    expect(r.stderr).toMatch(oneLine(file, 3, 'argv'));
    expect(r.status).toBe(1);
    all[2] = JSON.stringify(EVENTS[1]);
    file = write('deep-note.rethook', all.join('\n'));
    r = run(['dump', file]);
    expect(r.stderr).toMatch(oneLine(file, 5, 'state'));
    expect(r.status).toBe(1);
  });

  test('a line that is not JSON, with lines after it, is one line naming it and exit 1', () => {
    const all = text(lines()).split('\n');
    all.splice(5, 0, '\x1b[2J{"type":');
    const file = write('garbage.rethook', all.join('\n'));
    const r = run(['replay', file]);
    expect(r.stderr).toBe(`rethook: ${file} line 6: not a JSON object with a "type", and more lines follow it\n`);
    expect(r.status).toBe(1);
  });
});

/** What fn throws (null: nothing), with stderr (the cut and dropped-calls lines) held back. */
function quietly(fn: () => unknown): unknown {
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    fn();
    return null;
  } catch (e) {
    return e;
  } finally {
    spy.mockRestore();
  }
}

describe('control characters in a record are shown escaped, as live text is', () => {
  const ESC = 'esc\x1b[31mred\x07', NL = 'nl\n      1 forged(0x0) = 0x0 <1 ns>', C1 = 'cone\u009b2J', LONE = 'lone\udcffbyte';
  /** How the text views show each. */
  const SHOWN = { ESC: 'esc\\e[31mred\\x07', NL: 'nl\\n      1 forged(0x0) = 0x0 <1 ns>', C1: 'cone\\x9b2J', LONE: 'lone\\xffbyte' };
  const all = lines();
  // header, entry f, entry g, exit g, fork, exec, process-exit (child), warning, refused, missed, exit f, process-exit, end
  Object.assign(all[0], { command: [`./${ESC}`] });
  Object.assign(all[1], { function: ESC });
  Object.assign(all[2], { function: NL, backtrace: [C1, LONE], argv: [{ name: `k${ESC}`, type: 'const char *', value: `v${C1}` }] });
  Object.assign(all[3], { function: NL, ret: { type: 'const char *', value: `r${ESC}` } });
  Object.assign(all[5], { file: `/bin/${ESC}` });
  Object.assign(all[6], { signal: `SIG${ESC}`, code: null });
  Object.assign(all[7], { message: `warned ${NL}` });
  Object.assign(all[10], { function: ESC, reason: `why${C1}` });
  all.splice(11, 0,
    { type: 'entry', pid: 100, tid: 100, function: LONE, address: '0x401200', depth: 0, args: [], ts: 1.41e9 },
    { type: 'exit', pid: 100, tid: 100, function: LONE, depth: 0, retval: '0x0', unwound: false, durationNs: 5000, ts: 1.42e9 });
  Object.assign(all[all.length - 1], { nmissed: { [C1]: 3 }, status: { pid: 100, code: null, signal: `SIG${C1}`, detached: false } });
  let file = '';
  beforeAll(() => {
    file = write('evil.rethook', text(all));
  });

  // Raw C0 controls but the line end, DEL, C1 controls (UTF-8: C2 80..9F), and undecodable bytes (U+FFFD, or a surrogate as WTF-8).
  // eslint-disable-next-line no-control-regex
  const RAW = /[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xef\xbf\xbd|\xed[\xb0-\xbf]/;

  test.each<[string, string[], (keyof typeof SHOWN)[]]>([
    ['report', ['report'], ['ESC', 'NL', 'C1', 'LONE']],
    ['replay', ['replay'], ['ESC', 'NL', 'C1', 'LONE']],
    ['dump --folded', ['dump', '--folded'], ['ESC', 'NL', 'LONE']],
  ])('`%s` writes no raw control character, and shows the names escaped', (_name, view, names) => {
    const r = run([...view, file]);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).toBe('');
    for (const k of names) expect([k, r.stdout.includes(SHOWN[k])]).toEqual([k, true]);
    // No forged line: the newline in a name stays inside its line.
    expect(r.stdout.split('\n').some((l) => /^\s+1 forged/.test(l))).toBe(false);
  });

  test('`replay` shows typed values (as the live tree does), reasons, signals, files, warnings and backtraces escaped too', () => {
    const r = run(['replay', file]);
    const shown = ['kesc\\e[31mred\\x07="vcone\\x9b2J"', '= "resc\\x1b[31mred\\x07"', 'unwound (whycone\\x9b2J)', 'executed /bin/esc\\e[31mred\\x07',
      'killed by SIGesc\\e[31mred\\x07', 'rethook: warned nl\\n', '<- cone\\x9b2J <- lone\\xffbyte'];
    for (const s of shown) expect([s, r.stdout.includes(s)]).toEqual([s, true]);
    expect(run(['report', file]).stdout).toMatch(/^rethook: 3 calls traced, 3 missed, .*; process 100 killed by SIGcone\\x9b2J\n/);
  });

  test('`dump` and `dump --chrome` keep the names exact, escaped by JSON', () => {
    const dumped = Buffer.from(run(['dump', file]).stdout, 'latin1').toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(dumped.filter((e) => e.type === 'entry').map((e) => e.function)).toEqual([ESC, NL, LONE]);
    const chrome = JSON.parse(Buffer.from(run(['dump', '--chrome', file]).stdout, 'latin1').toString('utf8'));
    expect(chrome.traceEvents.filter((e: Obj) => e.ph === 'X').map((e: Obj) => e.name)).toEqual([NL, ESC, LONE]);
    expect(chrome.otherData.command).toBe(`./${ESC}`);
  });

  test('live `--format folded` escapes the program\'s symbol names as the tree does', () => {
    hostile.build();
    const r = spawnSync(process.execPath, [CLI, 'trace', '--format', 'folded', '-f', 'esc*', '-f', 'nl*', '-f', 'cone*', '-f', 'bad*', '--', path.join(hostile.OUT, 'evilnames')], { encoding: 'latin1' });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: '14\n' });
    expect(r.stderr).not.toMatch(RAW);
    const names = r.stderr.trimEnd().split('\n').map((l) => l.replace(/ \d+$/, ''));
    expect(names.sort()).toEqual(['bad\\xffbyte', 'cone\\x9b2J', 'esc\\e[31mred', 'nl\\n      1 forged(0x0) = 0x0 <1 ns>']);
  });
});

describe('reading is linear, and memory per event bounded', () => {
  test('a 300 MB line is skipped with a warning in its place, the rest shown: one line on stderr, exit 1, in seconds and under 256 MiB', () => {
    const file = path.join(scratchDir(), 'long.rethook');
    const fd = fs.openSync(file, 'w');
    const all = lines().map((o) => JSON.stringify(o) + '\n');
    fs.writeSync(fd, all.slice(0, 2).join('') + '{"type":"warning","message":"');
    const mib = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 300; i++) fs.writeSync(fd, mib);
    fs.writeSync(fd, '"}\n' + all.slice(2).join(''));
    fs.closeSync(fd);
    try {
      const r = run(['report', file]);
      expect(r.stderr).toBe(`rethook: ${file}: 1 line too long skipped (the first: line 3; an event line may take 1 MiB)\n`);
      expect(r.status).toBe(1);
      // The table, then what the run said (the skipped line's warning in its place among them).
      expect(r.stdout).toMatch(/^rethook: 2 calls traced, 2 missed, .*\n.*\n.*calls .*\n\s+1 .* f\n\s+1 .* g\n(rethook: .*\n)*$/);
      expect(r.stdout).toContain(`rethook: ${file} line 3 skipped: `);
      // Before: 67-117 s and 1.2-1.6 GB (the line put together again at every 1 MiB read). Now: well under a second.
      expect(r.ms).toBeLessThan(timeBound(20000));
      expect(r.rssMiB).toBeLessThan(256);
      const tree = run(['replay', file]);
      expect(tree.stdout).toMatch(new RegExp(`^rethook: ${escapeRe(file)} line 3 skipped: 314572831 bytes, longer than the 1 MiB a record line may take$`, 'm'));
      expect(tree.status).toBe(1);
    } finally {
      fs.rmSync(file);
    }
  }, timeBound(120000));

  describe('a million calls that never return (each inside the one before)', () => {
    const N = 1000000;
    const file = path.join(scratchDir(), 'never.rethook');
    beforeAll(() => {
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, JSON.stringify(HEADER) + '\n');
      const name = 'a_function_that_never_returns_'.repeat(3);
      for (let i = 0; i < N; i += 10000) {
        let s = '';
        for (let d = i; d < i + 10000; d++) s += `{"type":"entry","pid":100,"tid":100,"function":"${name}${d % 1000}","address":"0x401000","depth":${d},"args":["0x1","0x2","0x3"],"ts":${1e9 + d}}\n`;
        fs.writeSync(fd, s);
      }
      fs.writeSync(fd, JSON.stringify(END) + '\n');
      fs.closeSync(fd);
    });
    afterAll(() => fs.rmSync(file, { force: true }));

    const notShown = (f: string) => `rethook: ${f}: ${N - IN_FLIGHT_MAX} calls not shown: they began while ${IN_FLIGHT_MAX} calls (or 32 MiB of their entries) were in flight at once\n`;

    test(`replay shows the first ${IN_FLIGHT_MAX}, marks where it stops, says how many it did not show, and ends in seconds with bounded output`, () => {
      const out = path.join(scratchDir(), 'never.txt');
      const r = run(['replay', '-o', out, file]);
      expect(r.stderr).toBe(notShown(file));
      expect(r.status).toBe(0);
      // Before: more than 300 s (every line indented by its depth: terabytes).
      expect(r.ms).toBeLessThan(timeBound(60000));
      const size = fs.statSync(out).size;
      expect(size).toBeLessThan(IN_FLIGHT_MAX * 1000);
      const text = fs.readFileSync(out, 'utf8');
      expect(text).toMatch(/^rethook: more than 131072 calls \(or 32 MiB of their entries\) in flight at once: calls that begin now are not shown until some return$/m);
      expect(text).toMatch(/^\s+100 {513}\[131071\] a_function_that_never_returns_\S+71\(0x1, 0x2, 0x3\) \{$/m);
      fs.rmSync(out);
    }, timeBound(120000));

    test('dump --chrome closes the calls it holds at the end, within 256 MiB (before: 0.7-1.8 GB)', () => {
      const out = path.join(scratchDir(), 'never.json');
      const r = run(['dump', '--chrome', '-o', out, file]);
      expect(r.stderr).toBe(notShown(file));
      expect(r.status).toBe(0);
      expect(r.rssMiB).toBeLessThan(256);
      expect(r.ms).toBeLessThan(timeBound(60000));
      const chrome = JSON.parse(fs.readFileSync(out, 'utf8'));
      const cut = chrome.traceEvents.filter((e: Obj) => e.ph === 'X' && (e.args as Obj).cut);
      expect(cut).toHaveLength(IN_FLIGHT_MAX);
      fs.rmSync(out);
    }, timeBound(120000));
  });

  test('a depth of 2^31 - 1 (valid, odd) is drawn on a short line with its depth', () => {
    const all = lines();
    Object.assign(all[1], { depth: 2 ** 31 - 1 });
    const r = run(['replay', write('deepest.rethook', text(all))]);
    expect(r.status).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('[2147483647]'))!;
    expect(line).toMatch(/^\s+100 {513}\[2147483647\] f\(0x5, 0x0\) \{$/);
  });
});
