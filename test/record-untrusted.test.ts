// Record files are untrusted input (issue 21, item 8; format version 2 since
// issue 23): `report`, `replay` and `dump` of a crafted record give one line
// naming the file, the byte and the problem, and a non-zero exit, never a
// stack trace; what they show of a record is escaped as live text is;
// reading is linear in the file's size and what is held stays bounded (a
// chunk that says it is 4 GiB, 300 MB of chunks of unknown types, a 60 MiB
// CALLS chunk, a million calls that never return), within a time and memory
// bound measured here. The binary parts (varints, sites, depths, reasons,
// lengths) are refused byte by byte in test/unit/record-read.test.ts.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseCommand } from '../lib/cli/args';
import { reportCommand } from '../lib/cli/commands/report';
import { RethookError } from '../lib/errors';
import { IN_FLIGHT_MAX } from '../lib/views/record';
import { CLI, scratchDir } from './helpers';
import { deepJson, lines, Mutant, MUTANTS } from './record-corpus';
import { bulkRecord, CallRec, END, HEADER, RecordBuilder, sampleRecord, varint } from './record-v2-encoder';
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
  // VmHWM (KiB), not resourceUsage().maxRSS: that one keeps the parent's peak from before the exec (jest's, when it has grown).
  fs.writeFileSync(rssHook, "process.on('exit', () => require('fs').writeFileSync(process.env.RETHOOK_TEST_RSS, /VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]));\n");
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

function write(name: string, content: string | Buffer): string {
  const file = path.join(scratchDir(), name);
  fs.writeFileSync(file, content);
  return file;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One line on stderr naming the file, the byte, the part of the record and the field. */
const oneLine = (file: string, part: string, field: string) =>
  new RegExp(`^rethook: ${escapeRe(file)} at byte \\d+: ${part} field '${escapeRe(field)}': expected [^\\n]+, found [^\\n]+\\n$`);

const pick = (o: Obj, keys: string[]): Obj | undefined => {
  const x: Obj = {};
  for (const k of keys) if (o[k] !== undefined) x[k] = o[k];
  return Object.keys(x).length ? x : undefined;
};

/**
 * The corpus's record (record-corpus.ts: version 1's lines, as objects) as a
 * version-2 record: the header, the calls as CALLS records with what they
 * carry beyond the columns as EXTRA, the notes as NOTE chunks, the end.
 */
function v2Record(all: Obj[]): Buffer {
  const [h, e1, e2, x2, fork, exec, pexit, warning, refused, missed, , pexit2, end] = all;
  const { type: _t, version: _v, ...header } = h;
  const r = new RecordBuilder(header);
  r.site({ function: 'f', address: '0x401000', args: 2 }, { function: 'g', address: '0x401100', args: 1 });
  r.calls(100, 100, 1e9, [
    { kind: 'entry', site: 0, ts: 1.1e9, depth: 0, args: [5n, 0n], extra: pick(e1, ['inherited']) },
    { kind: 'entry', site: 1, ts: 1.2e9, depth: 1, args: [7n], extra: pick(e2, ['backtrace', 'backtraceReliable', 'backtraceSources', 'argv']) },
    { kind: 'exit', site: 1, ts: 1.3e9, depth: 1, ret: 1n, extra: pick(x2, ['ret']) },
  ]);
  for (const n of [fork, exec, pexit, warning, refused, missed]) r.note(n);
  r.calls(100, 100, 1.3e9, [{ kind: 'unwound', site: 0, ts: 1.4e9, depth: 0, reason: 0 }]);
  r.note(pexit2);
  const { type: _e, ...rest } = end;
  return r.end(rest).bytes();
}

/** Where a mutant's field is in a version-2 record ('header', 'NOTE', 'END', 'EXTRA'), or null: a column now, refused as bytes (unit tests). */
function partOf(mu: Mutant): string | null {
  const o = lines()[mu.line - 1];
  if (o.type === 'rethook-record') return mu.field === 'version' ? null : 'header';
  if (o.type === 'end') return 'END';
  if (o.type === 'entry') return ['inherited', 'backtrace', 'backtraceReliable', 'backtraceSources', 'argv'].includes(mu.field) ? 'EXTRA' : null;
  if (o.type === 'exit') return mu.field === 'ret' ? 'EXTRA' : null;
  return 'NOTE';
}

/** The valid record with one mutant applied, as a version-2 record. */
function mutated(mu: Mutant): Buffer {
  const all = lines();
  const o = all[mu.line - 1];
  if (mu.value === undefined) delete o[mu.field];
  else o[mu.field] = mu.value;
  return v2Record(all);
}

const V2_MUTANTS = MUTANTS.filter((mu) => partOf(mu) !== null);

describe('a crafted record corpus: each field of its JSON parts wrong in type and in range', () => {
  test('the corpus as a version-2 record is valid: every view shows it', () => {
    const file = write('valid.rethook', v2Record(lines()));
    for (const view of VIEWS) expect([view, run([...view, file]).status]).toEqual([view, 0]);
    // Which of version 1's mutants are JSON fields still: the rest are columns, refused as bytes.
    expect(V2_MUTANTS.length).toBeGreaterThan(100);
  });

  // One CLI run per field (each part, each view in turn); every mutant goes through the views in-process below.
  const perField = new Map<string, Mutant>();
  for (const mu of V2_MUTANTS) if (!perField.has(`${mu.line} ${mu.named}`)) perField.set(`${mu.line} ${mu.named}`, mu);

  test.each([...perField.values()].map((mu, i) => [partOf(mu)!, mu.named, VIEWS[i % VIEWS.length].join(' '), mu, i] as const))(
    '%s field %s wrong: `%s` says so in one line and exits 1',
    (part, _named, _view, mu, i) => {
      const file = write(`field-${i}.rethook`, mutated(mu));
      const r = run([...VIEWS[i % VIEWS.length], file]);
      expect(r.stderr).toMatch(oneLine(file, part, mu.named));
      expect(r.status).toBe(1);
    },
  );

  test('every mutant through every view, in-process: a RethookError of one line naming its part and field, nothing else thrown', () => {
    const out = path.join(scratchDir(), 'views.out');
    const file = path.join(scratchDir(), 'mutant.rethook');
    const wrong: string[] = [];
    for (const mu of V2_MUTANTS) {
      fs.writeFileSync(file, mutated(mu));
      for (const view of VIEWS) {
        const thrown = quietly(() => reportCommand(parseCommand([...view, '-o', out, file])));
        const ok = thrown instanceof RethookError && oneLine(file, partOf(mu)!, mu.named).test(`rethook: ${thrown.message}\n`);
        if (!ok) wrong.push(`${view.join(' ')} ${JSON.stringify(mu)}: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('random damage to the bytes (a seeded run of 400, every view): each record is shown or refused with a RethookError of one line, never another error', () => {
    const valid = sampleRecord().bytes();
    let seed = 23;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const out = path.join(scratchDir(), 'random.out');
    const file = path.join(scratchDir(), 'random.rethook');
    const wrong: string[] = [];
    let refused = 0, shown = 0;
    for (let k = 0; k < 400; k++) {
      let b = Buffer.from(valid);
      const how = rand(4);
      if (how === 0) b = b.subarray(0, rand(b.length)); // cut anywhere
      else if (how === 1) b = Buffer.concat([b.subarray(0, rand(b.length)), b.subarray(rand(b.length))]); // a piece left out or repeated
      else for (let n = 1 + rand(4); n > 0; n--) b[16 + rand(b.length - 16)] = how === 2 ? rand(256) : [0, 0x7f, 0x80, 0xff][rand(4)];
      fs.writeFileSync(file, b);
      for (const view of VIEWS) {
        const thrown = quietly(() => reportCommand(parseCommand([...view, '-o', out, file])));
        if (thrown === null) shown++;
        else if (thrown instanceof RethookError && !/\n/.test(thrown.message)) refused++;
        else wrong.push(`${k} ${view.join(' ')}: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
      }
    }
    expect(wrong).toEqual([]);
    // Most damage is refused; a cut, or damage to a value only shown, is shown.
    expect(refused).toBeGreaterThan(200);
    expect(shown).toBeGreaterThan(200);
  });

  test('a 100,000-deep value (which JSON.stringify cannot write) is refused in one line naming it, in a NOTE and in an EXTRA', () => {
    const note = new RecordBuilder().chunk(3, Buffer.from(`{"type":"checkpoint","ts":1,"state":${deepJson(100000)}}`)).end().bytes();
    let file = write('deep-note.rethook', note);
    let r = run(['dump', file]);
    expect(r.stderr).toMatch(oneLine(file, 'NOTE', 'state'));
    expect(r.status).toBe(1);
    const extra = Buffer.from(`{"argv":[{"name":"v","type":"struct s","value":${deepJson(100000)}}]}`);
    const calls = new RecordBuilder().site({ function: 'f' });
    calls.rawCalls(100, 100, 0, Buffer.concat([varint(1), varint(0), varint(0), varint(5), varint(0), varint(extra.length), extra]));
    file = write('deep-extra.rethook', calls.end().bytes());
    r = run(['dump', file]);
    expect(r.stderr).toMatch(oneLine(file, 'EXTRA', 'argv'));
    expect(r.status).toBe(1);
  });

  test('a NOTE that is not JSON is one line naming its byte and exit 1; a version-1 record is one line too', () => {
    const r0 = sampleRecord();
    r0.parts.splice(-3); // its END: nothing after it is read
    const at = r0.bytes().length;
    const file = write('garbage.rethook', r0.chunk(3, Buffer.from('\x1b[2J{"type":')).bytes());
    const r = run(['replay', file]);
    expect(r.stderr).toBe(`rethook: ${file} at byte ${at + 5}: the NOTE is not JSON\n`);
    expect(r.status).toBe(1);
    const v1 = write('v1.rethook', lines().map((o) => JSON.stringify(o)).join('\n') + '\n');
    const old = run(['report', v1]);
    expect(old.stderr).toBe(`rethook: ${v1} is a JSON-lines record (version 1, rethook 0.1); this rethook reads versions 2 and 3: record it again\n`);
    expect(old.status).toBe(1);
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
  let file = '';
  beforeAll(() => {
    const r = new RecordBuilder({ ...HEADER, command: [`./${ESC}`] });
    r.site({ function: ESC, args: 2 }, { function: NL, args: 1 }, { function: LONE, args: 0 });
    r.calls(100, 100, 1e9, [
      { kind: 'entry', site: 0, ts: 1.1e9, depth: 0, args: [5n, 0n] },
      { kind: 'entry', site: 1, ts: 1.2e9, depth: 1, args: [7n], extra: { backtrace: [C1, LONE], argv: [{ name: `k${ESC}`, type: 'const char *', value: `v${C1}` }] } },
      { kind: 'exit', site: 1, ts: 1.3e9, depth: 1, ret: 1n, extra: { ret: { type: 'const char *', value: `r${ESC}` } } },
    ]);
    r.note({ type: 'fork', pid: 101, parent: 100, ts: 1.31e9 });
    r.note({ type: 'exec', pid: 101, file: `/bin/${ESC}`, ts: 1.32e9 });
    r.note({ type: 'process-exit', pid: 101, code: null, signal: `SIG${ESC}`, ts: 1.33e9 });
    r.note({ type: 'warning', message: `warned ${NL}`, ts: 1.34e9 });
    r.calls(100, 100, 1.3e9, [
      { kind: 'unwound', site: 0, ts: 1.4e9, depth: 0, reason: 0 },
      { kind: 'entry', site: 2, ts: 1.41e9, depth: 0 },
      { kind: 'exit', site: 2, ts: 1.42e9, depth: 0, ret: 0n },
    ]);
    r.end({ ...END, ts: 1.5e9, nmissed: { [C1]: 3 }, status: { pid: 100, code: null, signal: `SIG${C1}`, detached: false } });
    file = write('evil.rethook', r.bytes());
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

  test('`replay` shows typed values (as the live tree does), signals, files, warnings and backtraces escaped too', () => {
    const r = run(['replay', file]);
    const shown = ['kesc\\e[31mred\\x07="vcone\\x9b2J"', '= "resc\\x1b[31mred\\x07"', 'executed /bin/esc\\e[31mred\\x07',
      'killed by SIGesc\\e[31mred\\x07', 'rethook: warned nl\\n', '<- cone\\x9b2J <- lone\\xffbyte'];
    for (const s of shown) expect([s, r.stdout.includes(s)]).toEqual([s, true]);
    expect(run(['report', file]).stdout).toMatch(/^rethook: 3 calls traced, 3 missed, .*; process 100 killed by SIGcone\\x9b2J\n/);
  });

  test("`replay` shows the names a site's signature gives (parameters, enumerators, struct members) escaped", () => {
    const INT = { n: 'int', k: 'int', s: 4, sg: true };
    const COLOR = { n: 'enum c', k: 'enum', s: 4, sg: false, e: [[ESC, 1], [C1, 2]] };
    const POINT = { n: 'struct p', k: 'struct', s: 8, m: [{ n: NL, o: 0, t: INT }, { n: 'y', o: 4, t: INT }] };
    const r = new RecordBuilder();
    r.site({ function: 'f', args: 1, ret: true, signature: { params: [{ name: ESC, type: INT }], ret: INT, variadic: false, source: 'spec' } },
      { function: 'g', args: 1, ret: true, signature: { params: [{ name: 'c', type: COLOR }], ret: COLOR, variadic: false, source: 'spec' } },
      { function: 'h', args: 1, ret: true, signature: { params: [{ name: LONE, type: POINT }], ret: INT, variadic: false, source: 'spec' } });
    r.calls(100, 100, 1e9, [
      { kind: 'entry', site: 0, ts: 1.1e9, depth: 0, args: [5n] }, { kind: 'exit', site: 0, ts: 1.2e9, depth: 0, ret: 1n },
      { kind: 'entry', site: 1, ts: 1.3e9, depth: 0, args: [3n] }, { kind: 'exit', site: 1, ts: 1.4e9, depth: 0, ret: 1n },
      { kind: 'entry', site: 2, ts: 1.5e9, depth: 0, args: [0x700000002n] }, { kind: 'exit', site: 2, ts: 1.6e9, depth: 0, ret: 0n },
    ]);
    r.end({ ...END, ts: 1.7e9 });
    const out = run(['replay', write('evil-sig.rethook', r.bytes())]);
    expect(out.status).toBe(0);
    expect(out.stdout).not.toMatch(RAW);
    expect(out.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^ +100 /, '').replace(/ <[\d.]+ [num]?s>$/, ''))).toEqual([
      `f(${SHOWN.ESC}=5) = 1`,
      `g(c=${SHOWN.ESC}|${SHOWN.C1}) = ${SHOWN.ESC}`,
      `h(${SHOWN.LONE}={${SHOWN.NL}=2, y=7}) = 0`,
    ]);
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

describe('reading is linear, and memory bounded', () => {
  test('a chunk that says it holds 4 GiB is refused at its length, at once: one line, exit 1', () => {
    const file = write('huge.rethook', new RecordBuilder().raw(Buffer.from([2, 0xff, 0xff, 0xff, 0xff])).raw(Buffer.alloc(1 << 20)).bytes());
    const r = run(['report', file]);
    expect(r.stderr).toBe(`rethook: ${file} at byte ${16 + JSON.stringify(HEADER).length + 1}: a chunk of 4294967295 bytes (at most 64 MiB)\n`);
    expect(r.status).toBe(1);
    expect(r.rssMiB).toBeLessThan(256);
  });

  test('300 MB of chunks of unknown types are gone past unread, and a 60 MiB CALLS chunk is read in batches: in seconds and under 256 MiB', () => {
    const file = path.join(scratchDir(), 'big.rethook');
    const calls = bulkRecord(8000000, 60 << 20);
    const start = new RecordBuilder().bytes().length;
    const sitesEnd = calls.indexOf(2, start + 5 + calls.readUInt32LE(start + 1)); // the first CALLS chunk, after the SITES chunk
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, calls.subarray(0, sitesEnd));
    let size = sitesEnd;
    for (let i = 0; i < 5; i++) {
      // A chunk of type 9 (unknown) of 60 MiB, left sparse: what matters is that it is not read.
      const head = Buffer.from([9, 0, 0, 0, 0]);
      head.writeUInt32LE(60 << 20, 1);
      fs.writeSync(fd, head, 0, 5, size);
      size += 5 + (60 << 20);
      fs.ftruncateSync(fd, size);
    }
    fs.writeSync(fd, calls.subarray(sitesEnd), 0, calls.length - sitesEnd, size);
    fs.closeSync(fd);
    try {
      expect(calls.readUInt32LE(sitesEnd + 1)).toBeGreaterThan(59 << 20);
      const r = run(['report', '--format', 'json', file]);
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect((JSON.parse(r.stdout).rows as Obj[]).reduce((a, x) => a + (x.calls as number), 0)).toBe(8000000);
      expect(r.ms).toBeLessThan(timeBound(20000));
      expect(r.rssMiB).toBeLessThan(256);
    } finally {
      fs.rmSync(file);
    }
  }, timeBound(120000));

  describe('a million calls that never return (each inside the one before)', () => {
    const N = 1000000;
    const file = path.join(scratchDir(), 'never.rethook');
    beforeAll(() => {
      const name = 'a_function_that_never_returns_'.repeat(3);
      const r = new RecordBuilder(HEADER, 2); // version 2: the raw argument bytes below are the words themselves
      for (let i = 0; i < 1000; i += 100) r.site(...Array.from({ length: 100 }, (_, k) => ({ function: `${name}${i + k}`, address: `0x${(0x401000 + i + k).toString(16)}`, args: 3 })));
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, r.bytes());
      for (let i = 0; i < N; i += 100000) {
        const recs: Buffer[] = [];
        for (let d = i; d < i + 100000; d++) recs.push(varint(1 + 8 * (d % 1000)), varint(1), varint(d), Buffer.from([1, 2, 3]));
        fs.writeSync(fd, new RecordBuilder(null).rawCalls(100, 100, 1e9 + i, Buffer.concat(recs)).bytes());
      }
      fs.writeSync(fd, new RecordBuilder(null).end({ ...END, ts: 1e9 + 2 * N }).bytes());
      fs.closeSync(fd);
    });
    afterAll(() => fs.rmSync(file, { force: true }));

    const notShown = (f: string) => `rethook: ${f}: ${N - IN_FLIGHT_MAX} calls not shown: they began while ${IN_FLIGHT_MAX} calls (or 32 MiB of their entries) were in flight at once\n`;

    test(`replay shows the first ${IN_FLIGHT_MAX}, marks where it stops, says how many it did not show, and ends in seconds with bounded output`, () => {
      const out = path.join(scratchDir(), 'never.txt');
      const r = run(['replay', '-o', out, file]);
      expect(r.stderr).toBe(notShown(file));
      expect(r.status).toBe(0);
      expect(r.ms).toBeLessThan(timeBound(60000));
      expect(r.rssMiB).toBeLessThan(256);
      // Each call held takes two lines: its entry, and its end at END (at most 256 levels of indentation each).
      const size = fs.statSync(out).size;
      expect(size).toBeLessThan(2 * IN_FLIGHT_MAX * 1000);
      const text = fs.readFileSync(out, 'utf8');
      expect(text).toMatch(/^rethook: more than 131072 calls \(or 32 MiB of their entries\) in flight at once: calls that begin now are not shown until some return$/m);
      expect(text).toMatch(/^\s+100 {513}\[131071\] a_function_that_never_returns_\S+71\(0x1, 0x2, 0x3\) \{$/m);
      // Ended at END as the process's exit, innermost first.
      expect(text.trimEnd().split('\n').pop()).toMatch(/^\s+100 \} unwound \(exit\) <2\.0 ms> \/\* a_function_that_never_returns_\S+0 \*\/$/);
      fs.rmSync(out);
    }, timeBound(120000));

    test('dump --chrome closes the calls it holds at the end, within 256 MiB', () => {
      const out = path.join(scratchDir(), 'never.json');
      const r = run(['dump', '--chrome', '-o', out, file]);
      expect(r.stderr).toBe(notShown(file));
      expect(r.status).toBe(0);
      expect(r.rssMiB).toBeLessThan(256);
      expect(r.ms).toBeLessThan(timeBound(60000));
      const chrome = JSON.parse(fs.readFileSync(out, 'utf8'));
      const ended = chrome.traceEvents.filter((e: Obj) => e.ph === 'X' && (e.args as Obj).reason === 'exit');
      expect(ended).toHaveLength(IN_FLIGHT_MAX);
      fs.rmSync(out);
    }, timeBound(120000));

    test('report counts the calls it holds, ended at the end, within 256 MiB', () => {
      const r = run(['report', '--format', 'json', file]);
      expect(r.stderr).toBe(notShown(file));
      expect(r.status).toBe(0);
      expect(r.rssMiB).toBeLessThan(256);
      const rows = JSON.parse(r.stdout).rows as Obj[];
      expect(rows.reduce((a, x) => a + (x.calls as number), 0)).toBe(IN_FLIGHT_MAX);
      expect(rows.reduce((a, x) => a + (x.unwound as number), 0)).toBe(IN_FLIGHT_MAX);
    }, timeBound(120000));
  });

  test('a depth of 2^31 - 1 (valid, odd) is drawn on a short line with its depth', () => {
    const rec = new RecordBuilder().site({ function: 'f', args: 2 }).calls(100, 100, 1e9, [{ kind: 'entry', site: 0, ts: 1.1e9, depth: 2 ** 31 - 1, args: [5n, 0n] }] as CallRec[]);
    const r = run(['replay', write('deepest.rethook', rec.bytes())]);
    expect(r.status).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('[2147483647]'))!;
    expect(line).toMatch(/^\s+100 {513}\[2147483647\] f\(0x5, 0x0\) \{$/);
  });
});
