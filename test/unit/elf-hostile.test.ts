// The ELF reader on hostile input: a bounded fuzz run (mutants of a small
// executable and a small library), string tables without NULs, symbols
// outside their object's executable segments, sonames, and files that are
// not regular files.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { RethookError } from '../../lib/errors';
import { parseElf, readElf } from '../../lib/symbols/elf';
import { timeBound } from '../time-bound';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { buildOnly, OUT } = require('../build-fixtures');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fuzz } = require('../fuzz/elf-mutants');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const hostile = require('../hostile-fixtures');

beforeAll(() => {
  // The few programs read here as files (not the whole fixture set: this layer builds nothing else).
  buildOnly(['calls.O0', 'calls.O2', 'calls_static.O2', 'cxxnames.O2', 'libplugin.so']);
  hostile.build();
});

const oneLineRethookError = (e: unknown) => e instanceof RethookError && !e.message.includes('\n') && !e.message.includes('(unchecked');

describe('fuzzing the reader', () => {
  const seeds = () => [
    ['calls.O0', fs.readFileSync(path.join(OUT, 'calls.O0'))],
    ['libplugin.so', fs.readFileSync(path.join(OUT, 'libplugin.so'))],
  ];

  test.each([
    ['strict', false],
    ['tolerant', true],
  ])('%s: 2,000 mutants of an executable and of a library each end in success or a one-line RethookError, none over 1000 ms', (_mode, tolerant) => {
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = Date.now();
    // A pathological input takes seconds; a GC pause on a loaded machine, a few hundred ms.
    const r = fuzz({ seeds: seeds(), count: 1000, baseSeed: 42, limitMs: timeBound(1000), parse: (name: string, b: Buffer) => parseElf(name, b, { tolerant }), isExpected: oneLineRethookError });
    expect(r.mutants).toBe(2000);
    expect(r.unexpected).toEqual([]);
    expect(r.slow).toEqual([]);
    expect(r.ok + r.rejected).toBe(2000);
    // Both outcomes happen: the mutations reach past the header checks.
    expect(r.ok).toBeGreaterThan(100);
    expect(r.rejected).toBeGreaterThan(100);
    expect(Object.keys(r.kinds).length).toBe(7);
    expect(Date.now() - t0).toBeLessThan(timeBound(20000));
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 2 ** 20);
  });
});

/**
 * A synthetic ELF64 shared object: one executable PT_LOAD at 0x1000 (0x1000
 * bytes), one data PT_LOAD at 0x3000, and sections .symtab and .strtab made
 * of `symbols` (name offset, value, size, type) and `strtab`.
 */
function synthetic(symbols: [number, number, number, number][], strtab: Buffer): Buffer {
  const symtab = Buffer.alloc(24 * (symbols.length + 1));
  symbols.forEach(([name, value, size, type], i) => {
    const o = 24 * (i + 1);
    symtab.writeUInt32LE(name, o);
    symtab[o + 4] = (1 << 4) | type; // GLOBAL
    symtab.writeUInt16LE(1, o + 6); // a defined section
    symtab.writeBigUInt64LE(BigInt(value), o + 8);
    symtab.writeBigUInt64LE(BigInt(size), o + 16);
  });
  const phoff = 64, phnum = 2;
  const symOff = phoff + 56 * phnum;
  const strOff = symOff + symtab.length;
  const shoff = strOff + strtab.length;
  const b = Buffer.alloc(shoff + 64 * 3);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2; b[5] = 1; b[6] = 1;
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(62, 18);
  b.writeBigUInt64LE(0x1000n, 24);
  b.writeBigUInt64LE(BigInt(phoff), 32);
  b.writeBigUInt64LE(BigInt(shoff), 40);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(phnum, 56);
  b.writeUInt16LE(64, 58);
  b.writeUInt16LE(3, 60);
  const ph = (i: number, flags: number, vaddr: number) => {
    const o = phoff + 56 * i;
    b.writeUInt32LE(1, o);
    b.writeUInt32LE(flags, o + 4);
    b.writeBigUInt64LE(0n, o + 8);
    b.writeBigUInt64LE(BigInt(vaddr), o + 16);
    b.writeBigUInt64LE(BigInt(vaddr), o + 24);
    b.writeBigUInt64LE(0x100n, o + 32);
    b.writeBigUInt64LE(0x1000n, o + 40);
  };
  ph(0, 5, 0x1000); // R E
  ph(1, 6, 0x3000); // RW
  symtab.copy(b, symOff);
  strtab.copy(b, strOff);
  const sh = (i: number, type: number, offset: number, size: number, link: number, entsize: number) => {
    const o = shoff + 64 * i;
    b.writeUInt32LE(type, o + 4);
    b.writeBigUInt64LE(BigInt(offset), o + 24);
    b.writeBigUInt64LE(BigInt(size), o + 32);
    b.writeUInt32LE(link, o + 40);
    b.writeBigUInt64LE(BigInt(entsize), o + 56);
  };
  sh(1, 2, symOff, symtab.length, 2, 24);
  sh(2, 3, strOff, strtab.length, 0, 0);
  return b;
}

describe('names are bounded by their string table', () => {
  test('a well-formed synthetic object reads as written', () => {
    const elf = parseElf('ok.so', synthetic([[1, 0x1010, 16, 2], [5, 0x3008, 8, 1]], Buffer.from('\0foo\0bar\0')));
    expect(elf.functions).toEqual([{ name: 'foo', value: 0x1010, size: 16 }]);
    expect(elf.objects).toEqual([{ name: 'bar', value: 0x3008, size: 8 }]);
    expect(elf.damage).toBeNull();
  });

  test('20,000 symbols into a 3 MB string table without a NUL: one pass, no name read, a RethookError naming the file', () => {
    const strtab = Buffer.alloc(3 * 2 ** 20, 0x41);
    const syms: [number, number, number, number][] = Array.from({ length: 20000 }, (_, i) => [i * 100, 0x1000 + (i % 0x100), 1, 2]);
    const b = synthetic(syms, strtab);
    const t0 = Date.now();
    expect(() => parseElf('nonul.so', b)).toThrow(new RethookError('nonul.so: damaged ELF file: 20000 symbols lie outside its segments or string table (skipped)'));
    const elf = parseElf('nonul.so', b, { tolerant: true });
    expect(elf.functions).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(timeBound(2000));
  });

  test('20,000 symbols pointing into one 3 MB name: each is longer than any pattern, skipped without being built', () => {
    const strtab = Buffer.alloc(3 * 2 ** 20, 0x41);
    strtab[strtab.length - 1] = 0;
    const syms: [number, number, number, number][] = Array.from({ length: 20000 }, (_, i) => [i, 0x1000, 1, 2]);
    const t0 = Date.now();
    const elf = parseElf('long.so', synthetic(syms, strtab), { tolerant: true });
    expect(elf.functions).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(timeBound(2000));
  });

  test('20,000 symbols naming suffixes of one 8,000-byte name: refused once the names cost far more than the table holds', () => {
    const strtab = Buffer.alloc(8001, 0x41);
    strtab[8000] = 0;
    const syms: [number, number, number, number][] = Array.from({ length: 20000 }, (_, i) => [i % 8000, 0x1000, 1, 2]);
    const t0 = Date.now();
    expect(() => parseElf('suffixes.so', synthetic(syms, strtab))).toThrow(/^suffixes\.so: damaged ELF file: its string table is reused beyond reason by its symbols/);
    expect(Date.now() - t0).toBeLessThan(timeBound(2000));
  });

  test('a name offset past the table, or a name running off its end, is skipped', () => {
    const elf = parseElf('off.so', synthetic([[1, 0x1010, 1, 2], [1000, 0x1020, 1, 2], [5, 0x1030, 1, 2]], Buffer.from('\0foo\0bar')), { tolerant: true });
    expect(elf.functions.map((f) => f.name)).toEqual(['foo']);
    expect(elf.damage).toBe('off.so: damaged ELF file: 2 symbols lie outside its segments or string table (skipped)');
  });
});

describe('symbols must lie in their segments', () => {
  test('a function outside every executable segment (in data, or nowhere) is refused; one running past its segment is cut at its end', () => {
    const strtab = Buffer.from('\0code\0indata\0nowhere\0long\0');
    const elf = parseElf('segs.so', synthetic([[1, 0x1010, 16, 2], [6, 0x3010, 16, 2], [13, 0x900000, 16, 2], [21, 0x1ff0, 0x100, 2]], strtab), { tolerant: true });
    expect(elf.functions).toEqual([{ name: 'code', value: 0x1010, size: 16 }, { name: 'long', value: 0x1ff0, size: 0x10 }]);
    expect(elf.damage).toMatch(/^segs\.so: damaged ELF file: 3 symbols lie outside/);
    expect(() => parseElf('segs.so', synthetic([[13, 0x900000, 16, 2]], strtab))).toThrow(RethookError);
  });
});

describe('sonames and the dynamic segment', () => {
  test('DT_SONAME is read: a library whose file name differs from its soname', () => {
    expect(readElf(path.join(hostile.OUT, 'libsoname.so.0.27.6')).soname).toBe('libsoname.so.27');
    expect(readElf(path.join(OUT, 'libplugin.so')).soname).toBeNull();
    expect(readElf(path.join(OUT, 'calls.O0')).soname).toBeNull();
  });

  test('the C library this process runs has soname libc.so.6', () => {
    const file = /\s(\/\S*\/libc\.so\.6)$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'))![1];
    expect(readElf(file).soname).toBe('libc.so.6');
  });

  test('section headers out of the file: the dynamic symbols, the interpreter and the entry still come from the program headers', () => {
    const good = readElf(path.join(OUT, 'libplugin.so'));
    const b = fs.readFileSync(path.join(OUT, 'libplugin.so'));
    b.writeBigUInt64LE(0xffff_0000n, 40);
    expect(() => parseElf('lib.so', b)).toThrow(/^lib\.so: damaged ELF file: the section headers out of bounds/);
    const elf = parseElf('lib.so', b, { tolerant: true });
    expect(elf.damage).toMatch(/only its dynamic symbols are read$/);
    const dynsym = execFileSync('readelf', ['-W', '--dyn-syms', path.join(OUT, 'libplugin.so')], { encoding: 'utf8' });
    expect(dynsym).toMatch(/FUNC\s+GLOBAL\s+DEFAULT\s+\d+ plugin_twice/);
    expect(elf.functions.find((f) => f.name === 'plugin_twice')).toEqual(good.functions.find((f) => f.name === 'plugin_twice'));
    expect({ entry: elf.entry, interp: elf.interp, firstLoadVaddr: elf.firstLoadVaddr }).toEqual({ entry: good.entry, interp: good.interp, firstLoadVaddr: good.firstLoadVaddr });
  });

  test('valid files have no damage noted', () => {
    for (const f of ['calls.O0', 'calls.O2', 'calls_static.O2', 'cxxnames.O2', 'libplugin.so']) expect([f, readElf(path.join(OUT, f)).damage]).toEqual([f, null]);
  });
});

describe('only regular files are read, never blocking', () => {
  test('a FIFO, a directory and /dev/zero are refused at once with a one-line RethookError naming them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-fifo-'));
    try {
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      for (const f of [fifo, dir, '/dev/zero']) expect(() => readElf(f)).toThrow(new RethookError(`${f} is not a regular file`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
