// Patterns checked and matched in linear time, names decoded from untrusted
// bytes and escaped for people, and /proc/PID/maps lines with odd paths.
import { globToRegExp, matchFunctions, moduleMatches, parsePattern, PatternError } from '../../lib/symbols/patterns';
import { decodeName, escapeText } from '../../lib/symbols/text';
import { encodeDev, parseMapsLine } from '../../lib/symbols/procfs';
import { RethookError } from '../../lib/errors';
import type { FunctionSymbol, Module } from '../../lib/symbols/modules';
import { timeBound } from '../time-bound';

describe('patterns are validated', () => {
  test.each<[string, RegExp]>([
    ['[z-a]', /^pattern '\[z-a\]': the range 'z-a' is reversed$/],
    ['f[b-a]x', /the range 'b-a' is reversed/],
    ['', /^empty pattern$/],
    [':f', /empty object name/],
    ['lib:', /empty function name/],
    ['a\0b', /contains a NUL character/],
    ['q'.repeat(4097), /^pattern 'q{60}\.\.\.' is too long \(4097 characters; at most 4096\)$/],
    ['\x1b[2J[z-a]', /^pattern '\\e\[2J\[z-a\]': the range 'z-a' is reversed$/],
  ])('%j is refused with a TypeError naming it, on one line', (text, message) => {
    let err: unknown;
    try {
      parsePattern(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PatternError);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/[\n\x1b]/);
  });

  test.each<[string, string | null, string, string, string]>([
    // text, its object part, its function part, a name that part matches, one it does not
    ['q'.repeat(4096), null, 'q'.repeat(4096), 'q'.repeat(4096), 'q'.repeat(4095)],
    ['a[b', null, 'a[b', 'a[b', 'ab'], // an unterminated class: a literal '['
    ['[]]x', null, '[]]x', ']x', 'ax'], // ']' first in a class is one of its members
    ['[!]]x', null, '[!]]x', 'ax', ']x'],
    ['[a-a]', null, '[a-a]', 'a', 'b'],
    ['ns::f', null, 'ns::f', 'ns::f', 'f'], // '::' is C++, not an object part
    ['libz.so.1:crc32', 'libz.so.1', 'crc32', 'crc32', 'crc32x'],
  ])('%j is accepted: object part %j, function part %j, matching %j and not %j', (text, moduleText, fnText, yes, no) => {
    const p = parsePattern(text);
    expect({ text: p.text, moduleText: p.moduleText, fn: p.fn.source, isGlob: p.isGlob }).toEqual({ text, moduleText, fn: fnText, isGlob: /[*?[]/.test(fnText) });
    expect([p.fn.test(yes), p.fn.test(no)]).toEqual([true, false]);
    if (moduleText === null) expect(p.module).toBeNull();
    else expect([p.module!.test(moduleText), p.module!.test('libc.so.6')]).toEqual([true, false]);
  });

  test("a class may hold ']' first, and an unterminated one is a literal '['", () => {
    expect(globToRegExp('[]a]x', false).test(']x')).toBe(true);
    expect(globToRegExp('[]a]x', false).test('ax')).toBe(true);
    expect(globToRegExp('[!]]x', false).test(']x')).toBe(false);
    expect(globToRegExp('[!]]x', false).test('bx')).toBe(true);
    expect(globToRegExp('a[b', false).test('a[b')).toBe(true);
  });
});

describe('globs match in linear time', () => {
  const long = 'a'.repeat(60000);
  test.each<[string, string, boolean]>([
    ['********x', long, false],
    ['*a*a*a*a*a*b', long, false],
    ['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', long, false],
    ['*a*a*a*a*a*', long, true],
    ['a*a*a*a*a', long, true],
    ['?'.repeat(100) + '*b', long, false],
  ])('%j against a 60,000-character name ends in well under a second', (glob, name, expected) => {
    const g = globToRegExp(glob, false);
    const t0 = process.hrtime.bigint();
    expect(g.test(name)).toBe(expected);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // The margin is large (a backtracking regex takes minutes here); a loaded machine cannot flake it.
    expect(ms).toBeLessThan(timeBound(2000));
  });

  test('a module glob against a hostile 4,000-character soname ends at once', () => {
    const g = globToRegExp('*a*a*a*a*a*a*a*b', true);
    const t0 = Date.now();
    expect(g.test('a.'.repeat(2000))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(timeBound(2000));
  });

  test('non-BMP characters: ? and classes take one code point, literals match as written', () => {
    expect(globToRegExp('f?x', false).test('f\u{1F600}x')).toBe(true);
    expect(globToRegExp('f\u{1F600}*', false).test('f\u{1F600}yz')).toBe(true);
    expect(globToRegExp('f[\u{1F600}a]x', false).test('f\u{1F600}x')).toBe(true);
  });
});

describe('an object part matches the file name, its version suffixes, or the soname', () => {
  const mod = (name: string, soname: string | null) => ({ name, soname, functions: () => [] as FunctionSymbol[] }) as unknown as Module;
  test.each<[string, string, string | null, boolean]>([
    ['libexiv2.so.27:*', 'libexiv2.so.0.27.6', 'libexiv2.so.27', true],
    ['libexiv2.so:*', 'libexiv2.so.0.27.6', 'libexiv2.so.27', true],
    ['libexiv2.so.0.27.6:*', 'libexiv2.so.0.27.6', 'libexiv2.so.27', true],
    ['libexiv2.so.28:*', 'libexiv2.so.0.27.6', 'libexiv2.so.27', false],
    ['libexiv2.so.27:*', 'libexiv2.so.0.27.6', null, false],
    ['libzz.so.1:*', 'libz.so.1.3', 'libz.so.1', false],
  ])('%s against the file %s with soname %s: %s', (pattern, name, soname, expected) => {
    expect(moduleMatches(parsePattern(pattern), mod(name, soname))).toBe(expected);
  });

  test('matchFunctions honours the soname', () => {
    const m = { name: 'libx.so.0.1.2', soname: 'libx.so.1' } as unknown as Module;
    const fns: FunctionSymbol[] = [{ name: 'f', rawName: 'f', address: 1, size: 1, module: m }];
    (m as unknown as { functions: () => FunctionSymbol[] }).functions = () => fns;
    expect(matchFunctions(parsePattern('libx.so.1:f'), m)).toEqual(fns);
  });
});

describe('names decoded from bytes, and escaped for people', () => {
  test.each<[string, number[], string]>([
    ['ASCII', [0x61, 0x62], 'ab'],
    ['UTF-8', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], '\u00e9\u20ac\u{1F600}'],
    ['a stray byte', [0x61, 0xff, 0x62], 'a\udcffb'],
    ['a truncated sequence', [0x61, 0xe2, 0x82], 'a\udce2\udc82'],
    ['an overlong form', [0xc0, 0xaf], '\udcc0\udcaf'],
    ['an encoded surrogate', [0xed, 0xa0, 0x80], '\udced\udca0\udc80'],
  ])('%s', (_what, bytes, expected) => {
    expect(decodeName(Buffer.from(bytes), 0, bytes.length)).toBe(expected);
  });

  test.each<[string, string]>([
    ['plain name', 'plain name'],
    ['a\x1b[31mred', 'a\\e[31mred'],
    ['one\ntwo\r\tthree', 'one\\ntwo\\r\\tthree'],
    ['nul\0bel\x07del\x7f', 'nul\\x00bel\\x07del\\x7f'],
    ['c1\u009b2J', 'c1\\x9b2J'],
    ['bad\udcffbyte', 'bad\\xffbyte'],
    ['caf\u00e9 \u{1F600}', 'caf\u00e9 \u{1F600}'],
    ['ls\u2028ps\u202etxt', 'ls\\u2028ps\\u202etxt'],
    ['back\\slash \\e', 'back\\slash \\e'],
  ])('%j is shown as %j', (raw, shown) => {
    expect(escapeText(raw)).toBe(shown);
    expect(escapeText(escapeText(raw))).toBe(shown); // twice changes nothing
  });

  test('a RethookError message is one line, its control characters escaped', () => {
    expect(new RethookError('cannot hook f\nforged\x1b[0m').message).toBe('cannot hook f\\nforged\\e[0m');
  });
});

describe('maps lines with odd paths', () => {
  test.each<[string, Partial<ReturnType<typeof parseMapsLine>>]>([
    ['7f00-7f10 r-xp 00001000 fe:00 339380                     /usr/lib/libc.so.6', { start: 0x7f00, end: 0x7f10, offset: 0x1000, inode: 339380, path: '/usr/lib/libc.so.6', dev: 0xfe00 }],
    ['7f00-7f10 r-xp 00000000 08:11 42 /dir with  spaces/lib x.so', { path: '/dir with  spaces/lib x.so', dev: encodeDev(8, 0x11) }],
    ['7f00-7f10 r-xp 00000000 08:11 42   /a\\012b/lib.so (deleted)', { path: '/a\nb/lib.so (deleted)' }],
    ['7f00-7f10 rw-p 00000000 00:00 0 ', { path: '', inode: 0 }],
    ['7f00-7f10 rw-p 00000000 00:00 0', { path: '', inode: 0 }],
    ['7ffd-7ffe rw-p 00000000 00:00 0                          [stack]', { path: '[stack]' }],
    ['7f00-7f10 r--p 00000000 103:02 7 /x', { dev: encodeDev(0x103, 2) }],
  ])('%j', (line, expected) => {
    expect(parseMapsLine(line)).toMatchObject(expected!);
  });

  test('garbage is no mapping', () => {
    expect(parseMapsLine('not a maps line')).toBeNull();
  });

  test("device numbers encode as fs.Stats.dev does (glibc's makedev)", () => {
    expect(encodeDev(0xfe, 0)).toBe(0xfe00);
    expect(encodeDev(8, 0x11)).toBe(0x811);
    expect(encodeDev(0x103, 0x102)).toBe(0x103 * 0x100 + 0x02 + 0x1 * 0x100000);
    expect(encodeDev(0x1234, 0)).toBe((0x234 << 8) + 0x1 * 0x100000000000);
  });
});
