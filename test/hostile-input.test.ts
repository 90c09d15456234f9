// Hostile input (issue 8, items 2, 3, 13, 14, 15; issue 21, item 9): what the
// traced program maps, the patterns given, objects whose names differ from
// their sonames, damaged ELF files, symbols where no function starts, and
// names holding terminal control characters. Each
// class has a fixture of its own (test/fixtures/hostile/).
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RethookError, Tracer } from '../lib';
import { Captured, cli, CLI, fixture, FIXTURES, MODES, RunResult, scratchDir, trace, untraced } from './helpers';
import { timeBound } from './time-bound';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const hostile = require('./hostile-fixtures') as { build: () => void; OUT: string; EVIL: Record<string, string> };
const bin = (name: string) => path.join(hostile.OUT, name);
const LIBPLUGIN = path.join(FIXTURES, 'libplugin.so');

beforeAll(() => hostile.build());

/** The CLI's output as bytes decoded one to one (latin1): raw control bytes stay visible to the checks. */
function cliRaw(args: string[], timeout = 60000): RunResult & { ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'latin1', timeout });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal, ms: Date.now() - t0 };
}

describe('mapped files are opened as mapped, read by their headers only, never blocking', () => {
  test('a program that maps /dev/zero, a sparse 8 GiB file and a deleted file whose "(deleted)" path is now a FIFO is traced promptly', () => {
    // Through the CLI, killed outright if it hangs: a tracer blocked reading the FIFO ignores SIGTERM.
    const dir = fs.mkdtempSync(path.join(scratchDir(), 'maps-'));
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'trace', '--mode', 'trap', '-f', 'libplugin.so:plugin_twice', '--', bin('mapper'), LIBPLUGIN, dir, String(8 * 2 ** 30), 'fifo'], {
      encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL',
    });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: 0, signal: null, stdout: 'twice=42\n' });
    expect(r.stderr).toMatch(/^\s*\d+ plugin_twice\(0x15, .*\) = 0x2a <.*>\n$/);
    expect(Date.now() - t0).toBeLessThan(timeBound(20000));
  });

  test('a sparse 8 GiB file is not read: tracing completes at once and peak memory stays bounded', async () => {
    const dir = fs.mkdtempSync(path.join(scratchDir(), 'maps-'));
    const rssBefore = process.resourceUsage().maxRSS;
    const t0 = Date.now();
    const r = await trace(bin('mapper'), 'libplugin.so:plugin_twice', { args: [LIBPLUGIN, dir, String(8 * 2 ** 30)] });
    expect(r.stdout).toBe('twice=42\n');
    expect(r.status).toMatchObject({ code: 0, signal: null });
    expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
    expect(Date.now() - t0).toBeLessThan(timeBound(20000));
    // The tracer's peak memory grew by far less than the file (KiB).
    expect(process.resourceUsage().maxRSS - rssBefore).toBeLessThan(256 * 1024);
    expect(r.hook.warnings).toEqual([]);
  });

  test('a sparse 1.5 GiB file (small enough for a whole-file read) is not read either: peak memory stays bounded', async () => {
    const dir = fs.mkdtempSync(path.join(scratchDir(), 'maps-'));
    const rssBefore = process.resourceUsage().maxRSS;
    const r = await trace(bin('mapper'), 'libplugin.so:plugin_twice', { args: [LIBPLUGIN, dir, String(1.5 * 2 ** 30)] });
    expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
    expect(process.resourceUsage().maxRSS - rssBefore).toBeLessThan(256 * 1024);
  });

  test.each([
    ['a space', 'dir with space'],
    ['a newline (maps shows it as \\012)', 'dir with\nnewline'],
  ])('a library whose path holds %s is found and hooked', (_what, dirName) => {
    const dir = path.join(scratchDir(), dirName);
    fs.mkdirSync(dir, { recursive: true });
    const lib = path.join(dir, 'libplugin.so');
    fs.copyFileSync(LIBPLUGIN, lib);
    const r = cliRaw(['trace', '-f', 'libplugin.so:plugin_twice', '--backtrace', '--', fixture('dlopen_main'), lib]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'twice=42\n' });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\s*\d+ plugin_twice\(0x15, .*\) = 0x2a <.*>  <- dlopen_main\.O0!main\+0x/);
  });
});

describe('patterns are checked before the program starts, and globs match in linear time', () => {
  /** A program that would leave a file behind if it ran. */
  function marker(): { file: string; argv: string[] } {
    const file = path.join(scratchDir(), `ran-${Math.random().toString(36).slice(2)}`);
    return { file, argv: ['/bin/sh', '-c', `: > '${file}'`] };
  }

  test.each<[string, string, RegExp]>([
    ['a reversed range', '[z-a]', /^rethook: pattern '\[z-a\]': the range 'z-a' is reversed$/],
    ['an empty object part', ':add', /^rethook: pattern ':add' has an empty object name before ':'$/],
    ['an empty function part', 'libc.so.6:', /^rethook: pattern 'libc\.so\.6:' has an empty function name after ':'$/],
    ['a 60,000-character name', 'x'.repeat(60000), /^rethook: pattern 'x{60}\.\.\.' is too long \(60000 characters; at most 4096\)$/],
    ['a reversed range in the object part', 'lib[9-0].so:*', /^rethook: pattern 'lib\[9-0\]\.so:\*': the range '9-0' is reversed$/],
    ['a control character shown escaped', 'a\x1b[z-a]', /^rethook: pattern 'a\\e\[z-a\]': the range 'z-a' is reversed$/],
  ])('%s is a one-line usage error (exit 2) and the program never starts', (_what, pattern, message) => {
    const m = marker();
    const r = cli(['trace', '-f', 'add', '-f', pattern, '--', ...m.argv]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(message), "Try 'rethook --help'.", '']);
    expect(fs.existsSync(m.file)).toBe(false);
  });

  test('an unterminated class is a literal [ (as in the shell), not an error', async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: [0, new Captured().fd, 2] });
    try {
      expect(() => t.hook('a[dd')).toThrow(RethookError);
      expect(() => t.hook('a[dd')).toThrow(/^no function matches 'a\[dd'/);
    } finally {
      t.kill();
    }
  });

  test('the API: hook() throws a TypeError naming a bad pattern, and nothing is hooked', async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: [0, new Captured().fd, 2] });
    try {
      expect(() => t.hook(['add', '[z-a]'])).toThrow(new TypeError("pattern '[z-a]': the range 'z-a' is reversed"));
      expect(() => t.hook('y'.repeat(5000))).toThrow(TypeError);
      expect(() => t.hook('y'.repeat(5000))).toThrow(/is too long \(5000 characters; at most 4096\)/);
    } finally {
      t.kill();
    }
  });

  test("'********x' and '*a*a*a*a*a*b'-like globs over every loaded object (the C library included) take well under a second", async () => {
    const t = await Tracer.spawn(fixture('calls'), [], { stdio: [0, new Captured().fd, 2] });
    try {
      for (const p of ['********x', '*a*a*a*a*a*b*a*a*a*a*a*a*a*a*a*a*a*a*a*a*z', 'libc.so.6:*a*a*a*a*a*a*a*a*a*a*a*a*a*a*zz']) {
        const t0 = Date.now();
        try {
          t.hook(p).unhook();
        } catch (e) {
          expect(e).toBeInstanceOf(RethookError); // matches nothing: "no function matches"
        }
        expect([p, Date.now() - t0 < 5000]).toEqual([p, true]);
      }
    } finally {
      t.kill();
    }
  });
});

describe('patterns that never match are named at exit, and an object part matches the soname too', () => {
  test('an object part names a library by its soname (file libsoname.so.0.27.6, soname libsoname.so.27)', async () => {
    expect(execFileSync('readelf', ['-d', bin('libsoname.so.0.27.6')], { encoding: 'utf8' })).toMatch(/\(SONAME\)\s+Library soname: \[libsoname\.so\.27\]/);
    const r = await trace(fixture('dlopen_main'), ['libsoname.so.27:plugin_twice'], { args: [bin('libsoname.so.0.27.6')] });
    expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
    expect(r.hook.unmatched).toEqual([]);
    // By its file name, with or without the version suffixes, too.
    for (const p of ['libsoname.so.0.27.6:plugin_twice', 'libsoname.so:plugin_twice', 'libsoname.so.0:plugin_*']) {
      const again = await trace(fixture('dlopen_main'), [p], { args: [bin('libsoname.so.0.27.6')] });
      expect([p, again.events]).toEqual([p, ['> plugin_twice 21', '< plugin_twice = 42']]);
    }
  });

  test('hook.unmatched names each pattern that never matched, with the reason', async () => {
    const r = await trace(fixture('dlopen_main'), ['libsoname.so.27:plugin_twice', 'libzz.so.1:*', 'libsoname.so.27:nosuch*', 'libsoname.so.28:plugin_twice'], {
      args: [bin('libsoname.so.0.27.6')],
    });
    expect(r.events).toEqual(['> plugin_twice 21', '< plugin_twice = 42']);
    expect(r.hook.unmatched).toEqual([
      { pattern: 'libzz.so.1:*', reason: expect.stringMatching(/^no object named libzz\.so\.1 was ever loaded( \(loaded: .*\))?$/) },
      { pattern: 'libsoname.so.27:nosuch*', reason: 'no function matched in libsoname.so.27' },
      { pattern: 'libsoname.so.28:plugin_twice', reason: expect.stringMatching(/^no object named libsoname\.so\.28 was ever loaded \(loaded: .*libsoname\.so\.27.*\)$/) },
    ]);
  });

  test('the CLI names every never-matched pattern at exit, one line each on stderr, after the trace', () => {
    const r = cli(['trace', '--mode', 'trap', '-f', 'libsoname.so.27:plugin_twice', '-f', 'libzz.so.1:*', '-f', 'libsoname.so:nosuch*', '--', fixture('dlopen_main'), bin('libsoname.so.0.27.6')]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'twice=42\n' });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^\s*\d+ plugin_twice\(0x15, .*\) = 0x2a <.*>$/),
      expect.stringMatching(/^rethook: -f 'libzz\.so\.1:\*' never matched: no object named libzz\.so\.1 was ever loaded( \(loaded: [^)]*\))?$/),
      "rethook: -f 'libsoname.so:nosuch*' never matched: no function matched in libsoname.so",
    ]);
  });

  test('a statically linked program has no libc.so.6: the pattern scoped to it is named at exit', () => {
    const r = cli(['trace', '-f', 'add', '-f', 'libc.so.6:printf', '--', fixture('calls_static')]);
    expect(r.status).toBe(7);
    expect(r.stderr.trimEnd().split('\n').pop()).toBe("rethook: -f 'libc.so.6:printf' never matched: no object named libc.so.6 was ever loaded");
  });
});

describe('a damaged executable is reported once and still traced', () => {
  test('a dynamic executable with a bad section header offset: one warning line, and the libraries are still traced (r_brk found)', () => {
    const file = path.join(scratchDir(), 'calls-bad-shoff');
    const b = fs.readFileSync(fixture('calls'));
    b.writeBigUInt64LE(0xffff_ffff_0000n, 40); // e_shoff far past the end
    fs.writeFileSync(file, b, { mode: 0o755 });
    const r = cli(['trace', '-f', 'libc.so.6:printf', '--', file]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 7, stdout: 'hello, world\nsum=33 scaled=10.00\n' });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^rethook: ${file.replace(/[.]/g, '\\.')}: damaged ELF file: the section headers out of bounds \\(offset ${0xffff_ffff_0000}, size \\d+; the file has ${b.length} bytes\\); only its dynamic symbols are read$`));
    expect(lines.filter((l) => l.includes('damaged'))).toHaveLength(1);
    expect(lines.filter((l) => /^\s*\d+ printf\(/.test(l))).toHaveLength(2);
  });
});

describe.each(MODES)('symbols where no function starts are refused with a note, never planted (%s mode)', (mode) => {
  // test/fixtures/hostile/overlap.c: inside_work and split_work lie inside work(), filler_fn is int3 filler (x86-64) or misaligned (arm64).
  const inside = (name: string) =>
    new RegExp(`^cannot hook ${name} at 0x[0-9a-f]+: it lies inside work \\(0x[0-9a-f]+, \\d+ bytes\\), so it is no function start \\(a damaged or hostile symbol table\\)$`);

  test('a glob matching work() and the two symbols inside it (overlap:*work) hooks work() alone, notes both refusals, and the program runs as it does untraced', async () => {
    const plain = untraced(bin('overlap'));
    expect(plain).toMatchObject({ status: 0, signal: null, stdout: 'sum=12\n' });
    const r = await trace(bin('overlap'), 'overlap:*work', { mode });
    expect({ stdout: r.stdout, code: r.status.code, signal: r.status.signal }).toEqual({ stdout: plain.stdout, code: plain.status, signal: null });
    expect(r.events).toEqual(['> work 0', '< work = 1', '> work 1', '< work = 4', '> work 2', '< work = 7']);
    expect([...r.hook.refused].sort()).toEqual([expect.stringMatching(inside('inside_work')), expect.stringMatching(inside('split_work'))]);
    expect(r.hook.sites.map((x) => x.function)).toEqual(['work']);
  });

  test('the CLI prints each refusal as a note and exits as the program does', () => {
    const plain = untraced(bin('overlap'));
    const r = cli(['trace', '--mode', mode, '-f', 'overlap:*work', '--', bin('overlap')]);
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: plain.status, signal: null, stdout: plain.stdout });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('rethook: ')).sort()).toEqual([
      expect.stringMatching(new RegExp(inside('inside_work').source.replace('^', '^rethook: '))),
      expect.stringMatching(new RegExp(inside('split_work').source.replace('^', '^rethook: '))),
    ]);
    expect(lines.filter((l) => /^\s*\d+ work\(/.test(l))).toHaveLength(3);
  });

  test('named exactly, each is a RethookError naming it, and nothing is planted', async () => {
    const t = await Tracer.spawn(bin('overlap'), [], { stdio: [0, new Captured().fd, 2] });
    try {
      for (const name of ['inside_work', 'split_work']) expect(() => t.hook(name, { mode })).toThrow(inside(name));
      expect(() => t.hook('filler_fn', { mode })).toThrow(
        /^cannot hook filler_fn at 0x[0-9a-f]+: (its first byte is int3 \(padding or a breakpoint\)|its address is not a multiple of 4, where no arm64 instruction starts)/,
      );
      expect(() => t.hook('filler_fn', { mode })).toThrow(RethookError);
      // The program still runs as it does untraced: nothing of the refused hooks stayed behind.
      const hook = t.hook('work', { mode });
      expect(await t.run()).toMatchObject({ code: 0, signal: null });
      expect(hook.sites.map((x) => x.function)).toEqual(['work']);
    } finally {
      t.kill();
    }
  });
});

describe('control characters in names are shown escaped in text output', () => {
  const EVIL = hostile.EVIL;
  /** What the text output must show for each evil name. */
  const SHOWN: Record<string, string> = {
    evil_esc: 'esc\\e[31mred',
    evil_nl: 'nl\\n      1 forged(0x0) = 0x0 <1 ns>',
    evil_c1: 'cone\\x9b2J',
    evil_bad: 'bad\\xffbyte',
  };

  test('the call tree shows every evil name escaped on its own line: no raw ESC, C1, newline or stray byte inside a name', () => {
    const r = cliRaw(['trace', '-f', 'esc*', '-f', 'nl*', '-f', 'cone*', '-f', 'bad*', '--', bin('evilnames')]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: '14\n' });
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\x80-\x9f\xff]/);
    const lines = r.stderr.trimEnd().split('\n');
    for (const k of Object.keys(EVIL)) {
      // The escaped name is in the output as UTF-8 of the escape text (plain ASCII here).
      expect([k, lines.filter((l) => l.includes(`${SHOWN[k]}(0x1`)).length]).toEqual([k, 1]);
    }
    expect(lines.some((l) => /^\s+1 forged/.test(l))).toBe(false);
  });

  test('JSON output keeps the names exact (JSON escapes them itself)', () => {
    const r = spawnSync(process.execPath, [CLI, 'trace', '--format', 'json', '-f', 'esc*', '-f', 'nl*', '-f', 'cone*', '--', bin('evilnames')], { encoding: 'utf8' });
    const fns = r.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'entry').map((e) => e.function);
    expect(fns.sort()).toEqual([EVIL.evil_esc, EVIL.evil_nl, Buffer.from(EVIL.evil_c1, 'latin1').toString('utf8')].sort());
  });

  test('"did you mean" stays one line, the names in it escaped', () => {
    const r = cliRaw(['trace', '-f', 'esc_[31mred', '--', bin('evilnames')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("rethook: -f 'esc_[31mred' never matched: no function matched (did you mean 'esc\\e[31mred'?)\n");
  });

  test('a RethookError naming an evil name is one line, escaped (the API too)', async () => {
    const t = await Tracer.spawn(bin('evilnames'), [], { stdio: [0, new Captured().fd, 2] });
    try {
      let msg = '';
      try {
        t.hook('esc_[31mred');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toBe("no function matches 'esc_[31mred' (did you mean 'esc\\e[31mred'?)");
    } finally {
      t.kill();
    }
  });
});
