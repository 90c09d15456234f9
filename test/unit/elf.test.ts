// The ELF reader on real files, checked against binutils (readelf, nm), and
// on damaged files, which must give a RethookError naming the file.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RethookError } from '../../lib/errors';
import { isElf, readElf } from '../../lib/symbols/elf';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { buildOnly, OUT } = require('../build-fixtures');
const fixture = (name: string) => path.join(OUT, name);
const NOTELF = path.join(__dirname, '..', 'fixtures', 'notelf.sh');

let scratch = '';
beforeAll(() => {
  // The few programs read here as files (not the whole fixture set: this layer builds nothing else).
  buildOnly(['calls.O0', 'calls.O2', 'calls.O0-nopie', 'calls_static.O2', 'cxxnames.O2', 'libplugin.so']);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-elf-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const readelf = (args: string[], file: string) => execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });

/** Type, entry and interpreter as readelf prints them. */
function header(file: string): { type: string; entry: number; interp: string | null } {
  const h = readelf(['-h'], file);
  const type = /^\s*Type:\s+(\w+)/m.exec(h)![1];
  const entry = parseInt(/^\s*Entry point address:\s+(0x[0-9a-f]+)/m.exec(h)![1], 16);
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(readelf(['-l'], file));
  return { type: type === 'DYN' ? 'dyn' : type === 'EXEC' ? 'exec' : type, entry, interp: interp ? interp[1] : null };
}

/**
 * Defined functions (FUNC, IFUNC) with a non-zero address, as "name value size",
 * from .symtab, or from .dynsym when the file has no .symtab.
 */
function definedFunctions(file: string): string[] {
  const out = readelf(['--syms'], file);
  const tables = out.split(/^Symbol table '/m).slice(1);
  const table = tables.find((t) => t.startsWith('.symtab')) ?? tables.find((t) => t.startsWith('.dynsym')) ?? '';
  const fns: string[] = [];
  for (const line of table.split('\n')) {
    // Num: Value Size Type Bind Vis Ndx Name
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+(\S+)\s+(\w+)\s+\w+\s+\w+\s+(\S+)\s*(\S*)/.exec(line);
    if (!m || !/^(FUNC|IFUNC)$/.test(m[3]) || m[4] === 'UND' || BigInt('0x' + m[1]) === 0n) continue;
    const size = m[2].startsWith('0x') ? parseInt(m[2], 16) : Number(m[2]);
    fns.push(`${m[5].replace(/@.*$/, '')} ${parseInt(m[1], 16)} ${size}`);
  }
  return fns.sort();
}

const asLines = (fns: { name: string; value: number; size: number }[]) => fns.map((f) => `${f.name} ${f.value} ${f.size}`).sort();

describe('readElf on real files', () => {
  test.each(['calls.O0', 'calls.O2', 'calls.O0-nopie', 'calls_static.O2', 'cxxnames.O2', 'libplugin.so'])(
    '%s: type, entry, interpreter and every defined function as readelf sees them',
    (name) => {
      const file = fixture(name);
      const elf = readElf(file);
      const h = header(file);
      expect({ type: elf.type, entry: elf.entry, interp: elf.interp }).toEqual(h);
      expect(elf.path).toBe(file);
      expect(asLines(elf.functions)).toEqual(definedFunctions(file));
    },
  );

  test('/bin/true (stripped: symbols from .dynsym): type, entry and interpreter as readelf sees them', () => {
    const file = fs.realpathSync('/bin/true');
    const elf = readElf(file);
    expect({ type: elf.type, entry: elf.entry, interp: elf.interp }).toEqual(header(file));
    expect(readelf(['-S'], file)).not.toMatch(/\.symtab/);
    expect(asLines(elf.functions)).toEqual(definedFunctions(file));
  });

  test('the C library this process runs (stripped): every function of .dynsym, IFUNCs marked', () => {
    const file = /\s(\/\S*\/libc\.so\.6)$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'))![1];
    expect(readelf(['-S'], file)).not.toMatch(/\.symtab/);
    const elf = readElf(file);
    expect(header(file)).toMatchObject({ type: 'dyn', entry: elf.entry });
    const expected = definedFunctions(file);
    expect(expected.length).toBeGreaterThan(1000);
    expect(asLines(elf.functions)).toEqual(expected);
    const ifuncs = readelf(['--dyn-syms'], file).split('\n').filter((l) => /\sIFUNC\s/.test(l) && !/\sUND\s/.test(l)).map((l) => l.trim().split(/\s+/)[7].replace(/@.*$/, ''));
    expect(ifuncs.length).toBeGreaterThan(0);
    expect(ifuncs).toContain('strlen');
    expect([...new Set(elf.functions.filter((f) => f.ifunc).map((f) => f.name))].sort()).toEqual([...new Set(ifuncs)].sort());
  });

  test("fixture calls has add, greet, scale and main as functions with nm's addresses and sizes", () => {
    for (const variant of ['O0', 'O2', 'O0-nopie']) {
      const file = fixture(`calls.${variant}`);
      // nm -S: "value size type name"
      const nm = new Map<string, [number, number, string]>();
      for (const line of execFileSync('nm', ['-S', '--defined-only', file], { encoding: 'utf8' }).split('\n')) {
        const m = /^([0-9a-f]+) ([0-9a-f]+) (\w) (\S+)$/.exec(line);
        if (m) nm.set(m[4], [parseInt(m[1], 16), parseInt(m[2], 16), m[3]]);
      }
      const elf = readElf(file);
      for (const fn of ['add', 'greet', 'scale', 'main']) {
        const [value, size, kind] = nm.get(fn)!;
        expect(kind).toBe('T');
        expect(size).toBeGreaterThan(0);
        expect([variant, elf.functions.find((f) => f.name === fn)]).toEqual([variant, { name: fn, value, size }]);
      }
      // Not data: no function named like a data object, and main is not among the objects.
      expect(elf.objects.some((o) => o.name === 'main')).toBe(false);
    }
  });

  test('a PIE is linked at 0, a non-PIE executable at its fixed address', () => {
    const pie = readElf(fixture('calls.O0'));
    const nopie = readElf(fixture('calls.O0-nopie'));
    const lowestLoad = (file: string) =>
      Math.min(...readelf(['-l'], file).split('\n').filter((l) => /^\s*LOAD\s/.test(l)).map((l) => parseInt(l.trim().split(/\s+/)[2], 16)));
    expect(pie.firstLoadVaddr).toBe(lowestLoad(fixture('calls.O0')) & ~0xfff);
    expect(pie.firstLoadVaddr).toBe(0);
    expect(nopie.firstLoadVaddr).toBe(lowestLoad(fixture('calls.O0-nopie')) & ~0xfff);
    expect(nopie.firstLoadVaddr).toBeGreaterThan(0);
  });

  const goTest = fs.existsSync(fixture('goroutines.go')) ? test : test.skip; // golang-go not installed
  goTest("a Go program reads cleanly: its linker's end-of-text marker (a zero-size function just past .text) is no damage and no function", () => {
    const file = fixture('goroutines.go');
    expect(readelf(['-s'], file)).toMatch(/\s0 FUNC\s+LOCAL\s+DEFAULT\s+\d+ runtime\.etext$/m);
    const elf = readElf(file); // throws on damage
    expect(elf.damage).toBeNull();
    const names = new Set(elf.functions.map((f) => f.name));
    expect([names.has('main.work'), names.has('main.leaf'), names.has('runtime.goexit.abi0'), names.has('runtime.etext')]).toEqual([true, true, true, false]);
  });

  test('isElf tells ELF files from others without throwing', () => {
    expect([isElf(fixture('calls.O0')), isElf(fixture('libplugin.so')), isElf(NOTELF), isElf('/nonexistent/file'), isElf(os.tmpdir())]).toEqual([true, true, false, false, false]);
  });
});

describe('readElf on damaged files', () => {
  /** Run f and return what it threw. */
  function thrown(f: () => unknown): unknown {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('did not throw');
  }

  function expectRethookError(file: string) {
    const e = thrown(() => readElf(file));
    expect(e).toBeInstanceOf(RethookError);
    expect(e).not.toBeInstanceOf(RangeError);
    expect((e as Error).message).toContain(file);
    expect((e as Error).message.split('\n')).toHaveLength(1);
  }

  /** A copy of a fixture with `edit` applied, under a name of its own (readElf caches by path). */
  function damaged(name: string, edit: (b: Buffer) => Buffer): string {
    const file = path.join(scratch, name);
    fs.writeFileSync(file, edit(fs.readFileSync(fixture('calls.O0'))));
    return file;
  }

  test('a file that is not ELF (a shell script)', () => expectRethookError(NOTELF));
  test('an empty file', () => expectRethookError(damaged('empty', () => Buffer.alloc(0))));
  test('a file shorter than an ELF header', () => expectRethookError(damaged('short', (b) => b.subarray(0, 40))));
  test('a bad magic number', () =>
    expectRethookError(
      damaged('badmagic', (b) => {
        const c = Buffer.from(b);
        c[1] = 'X'.charCodeAt(0);
        return c;
      }),
    ));
  test('a 32-bit ELF class', () =>
    expectRethookError(
      damaged('class32', (b) => {
        const c = Buffer.from(b);
        c[4] = 1;
        return c;
      }),
    ));
  test('a file that does not exist', () => expectRethookError(path.join(os.tmpdir(), 'rethook-no-such-file')));

  test('a file cut right after its ELF header (program headers missing)', () => expectRethookError(damaged('cut-header', (b) => b.subarray(0, 64))));
  test('a file cut in half (section headers missing)', () => expectRethookError(damaged('cut-half', (b) => b.subarray(0, b.length >> 1))));
});
