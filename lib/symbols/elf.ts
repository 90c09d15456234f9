// (Over 400 lines on purpose: every bounds check sits next to the parsing it
// guards, so that no offset is read unchecked; split, they would drift apart.)
//
// Just enough ELF64 to find functions: the header, the program headers, the
// dynamic segment (soname, and symbols when the section headers are damaged),
// and the symbols of .symtab (or .dynsym when the file is stripped).
//
// The input is not trusted: a file is read with bounded positional reads
// (never whole), every offset and size is checked against the file and the
// section that holds it, and any damage is a RethookError naming the file.
// Damage to the section headers alone is not fatal: the program headers and
// the dynamic segment still place the object and find its dynamic symbols,
// and the damage is kept in `ElfFile.damage` for the caller to report.
import * as fs from 'fs';
import { RethookError } from '../errors';
import { decodeName } from './text';

export interface ElfSymbol {
  name: string;
  /** Address as linked (add the module's load bias). */
  value: number;
  size: number;
  /** STT_GNU_IFUNC: `value` is a resolver that returns the implementation. */
  ifunc?: boolean;
}

export interface ElfSegment {
  vaddr: number;
  memsz: number;
  executable: boolean;
}

export interface ElfFile {
  path: string;
  type: 'exec' | 'dyn';
  entry: number;
  /** Lowest PT_LOAD virtual address, page-aligned down. */
  firstLoadVaddr: number;
  interp: string | null;
  /** DT_SONAME, when the object has one. */
  soname: string | null;
  /** PT_LOAD segments as linked. */
  segments: ElfSegment[];
  functions: ElfSymbol[];
  /** Defined data objects (for _r_debug and the like). */
  objects: ElfSymbol[];
  /** Damage that did not stop the reading (one line naming the file), or null. */
  damage: string | null;
  /** It has a .symtab (local functions); false for a stripped object (only .dynsym). */
  symtab?: boolean;
  /** PT_GNU_EH_FRAME: where .eh_frame_hdr is (as linked), the index of the call frame information (eh-frame.ts). */
  ehFrameHdr?: { vaddr: number; size: number };
}

/** Limits on what one object may make us read and keep. */
const MAX_SECTION = 512 * 1024 * 1024;
/** A symbol name longer than this is skipped (no pattern is longer: patterns.ts). */
export const MAX_NAME = 8192;
const MAX_INTERP = 4096;

const ELF_MAGIC = '\x7fELF';
const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_GNU_EH_FRAME = 0x6474e550, PF_X = 1;
const SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_DYNSYM = 11;
const DT_NULL = 0, DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6, DT_STRSZ = 10, DT_SYMENT = 11, DT_SONAME = 14, DT_GNU_HASH = 0x6ffffef5;
const SHN_UNDEF = 0, SHN_LORESERVE = 0xff00;
const STT_OBJECT = 1, STT_FUNC = 2, STT_GNU_IFUNC = 10;
const SYM_SIZE = 24;

/** Where an object's bytes come from: bounded reads at a position. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; the caller has checked the range. */
  read(offset: number, length: number): Buffer;
}

export class BufferSource implements ByteSource {
  constructor(private readonly b: Buffer) {}
  get size(): number {
    return this.b.length;
  }
  read(offset: number, length: number): Buffer {
    return this.b.subarray(offset, offset + length);
  }
}

/** Positional reads on an open file descriptor (fs.readSync at a position): never the whole file. */
export class FdSource implements ByteSource {
  constructor(private readonly fd: number, readonly size: number) {}
  read(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, b, done, length - done, offset + done);
      if (n <= 0) throw new Damage(`cannot read ${length} bytes at offset ${offset} (the file shrank?)`);
      done += n;
    }
    return b;
  }
}

/** Damage found while parsing: becomes a RethookError naming the file. */
class Damage extends Error {}

const cache = new Map<string, { size: number; mtimeMs: number; elf: ElfFile }>();

/** Open a path for reading without blocking (a FIFO or a device never blocks us) and without side effects on a tty. */
export function openNonBlocking(path: string): number {
  return fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
}

export interface ReadOptions {
  /** Names the file in errors (default: the path opened). */
  display?: string;
  /** Device and inode the file must have (the one a maps line names). */
  expect?: { dev: number; ino: number };
  /**
   * Damage the program headers survive (section headers, symbols) is kept in
   * `damage` and what could be read is returned; by default any damage throws.
   */
  tolerant?: boolean;
}

/**
 * Read the ELF object at `path` (a regular file only; never read whole, never
 * blocking). Damage is a one-line RethookError naming the file.
 */
export function readElf(path: string, opts: ReadOptions = {}): ElfFile {
  const display = opts.display ?? path;
  let fd: number;
  try {
    fd = openNonBlocking(path);
  } catch (e) {
    throw new RethookError(`cannot read ${display}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'EELF');
  }
  try {
    return readElfFd(fd, { ...opts, display });
  } finally {
    fs.closeSync(fd);
  }
}

/** Read the ELF object open at `fd` (see readElf). */
export function readElfFd(fd: number, opts: ReadOptions = {}): ElfFile {
  const elf = readTolerant(fd, opts.display ?? `fd ${fd}`, opts.expect);
  if (elf.damage && !opts.tolerant) throw new RethookError(elf.damage, 'EELF');
  return elf;
}

function readTolerant(fd: number, display: string, expect?: { dev: number; ino: number }): ElfFile {
  const st = fs.fstatSync(fd);
  if (!st.isFile()) throw new RethookError(`${display} is not a regular file`, 'EELF');
  if (expect && (st.ino !== expect.ino || st.dev !== expect.dev))
    throw new RethookError(`${display} is not the file mapped (device or inode differ)`, 'EELF');
  const key = `${st.dev}:${st.ino}`;
  const hit = cache.get(key);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.elf.path === display ? hit.elf : { ...hit.elf, path: display };
  const elf = parseElfFrom(display, new FdSource(fd, st.size));
  cache.set(key, { size: st.size, mtimeMs: st.mtimeMs, elf });
  return elf;
}

export function isElf(path: string): boolean {
  try {
    const fd = openNonBlocking(path);
    try {
      if (!fs.fstatSync(fd).isFile()) return false;
      const b = Buffer.alloc(4);
      return fs.readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === ELF_MAGIC;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Parse an ELF file held in memory (the fuzz tests use this); options as readElf's. */
export function parseElf(path: string, b: Buffer, opts: { tolerant?: boolean } = {}): ElfFile {
  const elf = parseElfFrom(path, new BufferSource(b));
  if (elf.damage && !opts.tolerant) throw new RethookError(elf.damage, 'EELF');
  return elf;
}

export function parseElfFrom(path: string, src: ByteSource): ElfFile {
  try {
    return parse(path, src);
  } catch (e) {
    if (e instanceof RethookError) throw e;
    if (e instanceof Damage) throw new RethookError(`${path}: damaged ELF file: ${e.message}`, 'EELF');
    // Anything else (a RangeError from a check we missed) is damage too, never a crash; the fuzz tests look for "unchecked".
    throw new RethookError(`${path}: damaged ELF file (unchecked: ${(e as Error)?.name}): ${(e as Error)?.message ?? e}`, 'EELF');
  }
}

/** A range of the file, checked to lie inside it. */
function region(src: ByteSource, offset: number, size: number, what: string, max = MAX_SECTION): Buffer {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > src.size)
    throw new Damage(`${what} out of bounds (offset ${offset}, size ${size}; the file has ${src.size} bytes)`);
  if (size > max) throw new Damage(`${what} is too large (${size} bytes)`);
  return src.read(offset, size);
}

/** A little-endian u64 as a number, or damage when it does not fit one exactly. */
function u64(b: Buffer, o: number, what: string): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Damage(`${what} is out of range (0x${v.toString(16)})`);
  return Number(v);
}

// The symbol table is read before the program may run (every library, at
// every start): its fields are read byte by byte, not with Buffer's methods
// or BigInt, which cost far more in code not yet optimized.

/** A little-endian u32 at `o` (in bounds: the caller checked). */
function le32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}

/** A u64 as a number, or -1 when out of range (for fields whose damage only loses one item). */
function u64OrBad(b: Uint8Array, o: number): number {
  const hi = le32(b, o + 4);
  // Above 2^53 - 1 exactly when the high word is 2^21 or more.
  return hi > 0x1fffff ? -1 : hi * 0x100000000 + le32(b, o);
}

const indexOfByte = Uint8Array.prototype.indexOf;

/**
 * A string table: names are read within its bounds only, each NUL found by a
 * binary search in the list of NUL positions made in one pass (a table
 * without NULs costs one pass, not one scan per name).
 */
class StringTable {
  private nuls: Int32Array;
  private budget: number;
  constructor(private readonly b: Buffer) {
    let count = 0;
    for (let i = indexOfByte.call(b, 0); i >= 0; i = indexOfByte.call(b, 0, i + 1)) count++;
    this.nuls = new Int32Array(count);
    let k = 0;
    for (let i = indexOfByte.call(b, 0); i >= 0; i = indexOfByte.call(b, 0, i + 1)) this.nuls[k++] = i;
    // Names may share tails, but not without bound: what names may cost in all.
    this.budget = 8 * b.length + (1 << 20);
  }

  /** The name at `off`, or null when it is out of the table, unterminated, or too long. */
  name(off: number): string | null {
    if (off < 0 || off >= this.b.length) return null;
    const n = this.nuls;
    let lo = 0, hi = n.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (n[mid] < off) lo = mid + 1;
      else hi = mid;
    }
    if (lo === n.length) return null;
    const end = n[lo];
    if (end - off > MAX_NAME) return null;
    this.budget -= end - off;
    if (this.budget < 0) throw new Damage('its string table is reused beyond reason by its symbols');
    return decodeName(this.b, off, end);
  }
}

interface Section { type: number; offset: number; size: number; link: number; entsize: number }

function parse(path: string, src: ByteSource): ElfFile {
  if (src.size < 64) throw new RethookError(`${path} is not an ELF file`, 'EELF');
  const h = src.read(0, 64);
  if (h.toString('latin1', 0, 4) !== ELF_MAGIC) throw new RethookError(`${path} is not an ELF file`, 'EELF');
  if (h[4] !== 2 || h[5] !== 1) throw new RethookError(`${path} is not a 64-bit little-endian ELF file`, 'EELF');
  const etype = h.readUInt16LE(16);
  if (etype !== 2 && etype !== 3) throw new RethookError(`${path} is not an executable or shared object`, 'EELF');
  const entry = u64OrBad(h, 24);
  const phoff = u64(h, 32, 'the program header offset');
  const shoff = u64OrBad(h, 40);
  const phentsize = h.readUInt16LE(54);
  const phnum = h.readUInt16LE(56);
  const shentsize = h.readUInt16LE(58);
  let shnum = h.readUInt16LE(60);

  // Program headers: without them the object cannot be placed (fatal).
  if (phnum === 0) throw new Damage('it has no program headers');
  if (phentsize < 56) throw new Damage(`its program header size is ${phentsize}`);
  const ph = region(src, phoff, phnum * phentsize, 'the program headers');
  const segments: (ElfSegment & { offset: number; filesz: number })[] = [];
  let interp: string | null = null;
  let dynamic: { offset: number; size: number } | null = null;
  let ehFrameHdr: { vaddr: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const ptype = ph.readUInt32LE(o);
    if (ptype === PT_LOAD) {
      const vaddr = u64(ph, o + 16, 'a segment address');
      const memsz = u64(ph, o + 40, 'a segment size');
      if (vaddr + memsz > Number.MAX_SAFE_INTEGER) throw new Damage(`a segment (0x${vaddr.toString(16)}, ${memsz} bytes) is out of range`);
      segments.push({ vaddr, memsz, executable: (ph.readUInt32LE(o + 4) & PF_X) !== 0, offset: u64(ph, o + 8, 'a segment offset'), filesz: u64(ph, o + 32, 'a segment size') });
    } else if (ptype === PT_INTERP) {
      const b = region(src, u64(ph, o + 8, 'PT_INTERP'), u64(ph, o + 32, 'PT_INTERP'), 'PT_INTERP', MAX_INTERP);
      const nul = b.indexOf(0);
      interp = decodeName(b, 0, nul < 0 ? b.length : nul);
    } else if (ptype === PT_DYNAMIC) {
      dynamic = { offset: u64(ph, o + 8, 'PT_DYNAMIC'), size: u64(ph, o + 32, 'PT_DYNAMIC') };
    } else if (ptype === PT_GNU_EH_FRAME) {
      ehFrameHdr = { vaddr: u64(ph, o + 16, 'PT_GNU_EH_FRAME'), size: u64(ph, o + 40, 'PT_GNU_EH_FRAME') };
    }
  }
  if (!segments.length) throw new Damage('it has no loadable segment');
  const firstLoad = Math.min(...segments.map((s) => s.vaddr));

  /** File offset of a linked address, within one segment's file image for `len` bytes. */
  const fileOffset = (vaddr: number, len: number): number | null => {
    for (const s of segments) {
      if (vaddr >= s.vaddr && vaddr + len <= s.vaddr + s.filesz) return s.offset + (vaddr - s.vaddr);
    }
    return null;
  };

  // The dynamic segment: the soname, and where .dynsym is without section headers.
  const dyn = new Map<number, number>();
  let damage: string | null = null;
  const note = (what: string) => {
    if (!damage) damage = `${path}: damaged ELF file: ${what}`;
  };
  if (dynamic) {
    try {
      const d = region(src, dynamic.offset, Math.min(dynamic.size, 16 * 4096), 'the dynamic segment');
      for (let o = 0; o + 16 <= d.length; o += 16) {
        const tag = d.readBigInt64LE(o);
        if (tag === BigInt(DT_NULL)) break;
        const t = Number(tag);
        if (!dyn.has(t) && (t === DT_HASH || t === DT_STRTAB || t === DT_SYMTAB || t === DT_STRSZ || t === DT_SYMENT || t === DT_SONAME || t === DT_GNU_HASH))
          dyn.set(t, u64OrBad(d, o + 8));
      }
    } catch (e) {
      if (!(e instanceof Damage)) throw e;
      note(e.message);
    }
  }
  // String tables by file range: .dynstr serves DT_SONAME and .dynsym, read and indexed once.
  const stringTables = new Map<string, StringTable>();
  const stringTable = (off: number, size: number, what: string): StringTable => {
    const key = `${off}:${size}`;
    let t = stringTables.get(key);
    if (!t) stringTables.set(key, (t = new StringTable(region(src, off, size, what))));
    return t;
  };
  const dynStrings = (): StringTable | null => {
    const addr = dyn.get(DT_STRTAB), size = dyn.get(DT_STRSZ);
    if (addr === undefined || size === undefined || addr < 0 || size < 0) return null;
    // A PIE's or a library's addresses are relative to 0; an executable's are absolute: both are link-time addresses.
    const off = fileOffset(addr, size);
    if (off === null) throw new Damage('DT_STRTAB lies outside the file image');
    return stringTable(off, size, 'DT_STRTAB');
  };
  let soname: string | null = null;
  const sonameOff = dyn.get(DT_SONAME);
  if (sonameOff !== undefined) {
    try {
      soname = dynStrings()?.name(sonameOff) ?? null;
      if (soname === null) note('DT_SONAME lies outside its string table');
    } catch (e) {
      if (!(e instanceof Damage)) throw e;
      note(e.message);
    }
  }

  const functions: ElfSymbol[] = [];
  const objects: ElfSymbol[] = [];
  const exec = segments.filter((s) => s.executable);
  let refusedSymbols = 0;
  /** Read `count` symbols of `entsize` bytes from `table`, names from `strings`. */
  const readSymbols = (table: Buffer, entsize: number, strings: StringTable) => {
    for (let o = 0; o + SYM_SIZE <= table.length; o += entsize) {
      const info = table[o + 4];
      const shndx = table[o + 6] | (table[o + 7] << 8);
      const type = info & 0xf;
      const isFunc = type === STT_FUNC || type === STT_GNU_IFUNC;
      if ((!isFunc && type !== STT_OBJECT) || shndx === SHN_UNDEF || (isFunc && shndx >= SHN_LORESERVE)) continue; // defined only
      const value = u64OrBad(table, o + 8);
      if (value <= 0) continue;
      let size = u64OrBad(table, o + 16);
      // A function must lie in an executable segment (a damaged value would plant int3 in data or mid-nowhere);
      // an object in some segment.
      // (An object may sit at a segment's very end: __TMC_END__, end markers.)
      const seg = segmentAt(isFunc ? exec : segments, value, !isFunc);
      if (!seg) {
        // An end marker, not damage: Go's linker gives the end of the text
        // (`runtime.etext`) a zero-size function symbol just past its last byte.
        if (!(isFunc && size === 0 && exec.some((s) => value === s.vaddr + s.memsz))) refusedSymbols++;
        continue;
      }
      if (size < 0 || value + size > seg.vaddr + seg.memsz) {
        refusedSymbols++;
        size = seg.vaddr + seg.memsz - value;
      }
      const name = strings.name(le32(table, o));
      if (name === null) {
        refusedSymbols++;
        continue;
      }
      const sym: ElfSymbol = { name, value, size };
      if (type === STT_GNU_IFUNC) sym.ifunc = true;
      (isFunc ? functions : objects).push(sym);
    }
  };

  // Section headers: .symtab, else .dynsym. Damage here is noted, and the dynamic segment used instead.
  let fromSections = false;
  let hasSymtab = false;
  try {
    if (shoff > 0 || shnum > 0) {
      if (shoff <= 0) throw new Damage('the section header offset is out of range');
      if (shentsize < 64) throw new Damage(`its section header size is ${shentsize}`);
      if (shnum === 0) {
        // More than 0xff00 sections: the count is in the first header's sh_size.
        const first = region(src, shoff, 64, 'the section headers');
        shnum = u64(first, 32, 'the section count');
        if (shnum > 1 << 20) throw new Damage(`it claims ${shnum} sections`);
      }
      const sh = region(src, shoff, shnum * shentsize, 'the section headers');
      const sections: Section[] = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        sections.push({ type: sh.readUInt32LE(o + 4), offset: u64OrBad(sh, o + 24), size: u64OrBad(sh, o + 32), link: sh.readUInt32LE(o + 40), entsize: u64OrBad(sh, o + 56) });
      }
      hasSymtab = sections.some((s) => s.type === SHT_SYMTAB);
      const symtab = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
      if (symtab) {
        if (symtab.entsize < SYM_SIZE) throw new Damage(`its symbol table entry size is ${symtab.entsize}`);
        const strtab = sections[symtab.link];
        if (!strtab || strtab.type !== SHT_STRTAB) throw new Damage(`its symbol table links to section ${symtab.link}, not a string table`);
        const table = region(src, symtab.offset, symtab.size, 'the symbol table');
        const strings = stringTable(strtab.offset, strtab.size, 'the string table');
        readSymbols(table, symtab.entsize, strings);
        fromSections = true;
      }
    }
  } catch (e) {
    if (!(e instanceof Damage)) throw e;
    functions.length = 0;
    objects.length = 0;
    note(`${e.message}; only its dynamic symbols are read`);
  }

  if (!fromSections && dyn.has(DT_SYMTAB)) {
    try {
      const strings = dynStrings();
      const count = dynamicSymbolCount(src, dyn, fileOffset);
      const entsize = dyn.get(DT_SYMENT) ?? SYM_SIZE;
      if (entsize < SYM_SIZE) throw new Damage(`DT_SYMENT is ${entsize}`);
      const addr = dyn.get(DT_SYMTAB)!;
      const off = count > 0 ? fileOffset(addr, count * entsize) : null;
      if (strings && count > 0) {
        if (off === null) throw new Damage('DT_SYMTAB lies outside the file image');
        readSymbols(region(src, off, count * entsize, 'the dynamic symbol table'), entsize, strings);
      }
    } catch (e) {
      if (!(e instanceof Damage)) throw e;
      note(e.message);
    }
  }
  if (refusedSymbols && !damage) note(`${refusedSymbols} symbols lie outside its segments or string table (skipped)`);

  return {
    path,
    type: etype === 2 ? 'exec' : 'dyn',
    entry: Math.max(entry, 0),
    firstLoadVaddr: Math.floor(firstLoad / 4096) * 4096,
    interp,
    soname,
    segments: segments.map(({ vaddr, memsz, executable }) => ({ vaddr, memsz, executable })),
    functions,
    objects,
    damage,
    symtab: hasSymtab,
    ehFrameHdr,
  };
}

/** The segment holding `value` (or ending at it, when `atEnd`), or undefined. */
function segmentAt<S extends ElfSegment>(segs: S[], value: number, atEnd: boolean): S | undefined {
  for (const s of segs) if (value >= s.vaddr && (value < s.vaddr + s.memsz || (atEnd && value === s.vaddr + s.memsz))) return s;
  return undefined;
}

/** How many entries .dynsym has, from DT_HASH (nchain) or DT_GNU_HASH (the highest index in its chains). */
function dynamicSymbolCount(src: ByteSource, dyn: Map<number, number>, fileOffset: (a: number, n: number) => number | null): number {
  const MAX_SYMS = 1 << 22;
  const hash = dyn.get(DT_HASH);
  if (hash !== undefined && hash >= 0) {
    const off = fileOffset(hash, 8);
    if (off === null) throw new Damage('DT_HASH lies outside the file image');
    const nchain = region(src, off, 8, 'DT_HASH').readUInt32LE(4);
    if (nchain > MAX_SYMS) throw new Damage(`DT_HASH claims ${nchain} symbols`);
    return nchain;
  }
  const gnu = dyn.get(DT_GNU_HASH);
  if (gnu === undefined || gnu < 0) return 0;
  const off = fileOffset(gnu, 16);
  if (off === null) throw new Damage('DT_GNU_HASH lies outside the file image');
  const hdr = region(src, off, 16, 'DT_GNU_HASH');
  const nbuckets = hdr.readUInt32LE(0), symoffset = hdr.readUInt32LE(4), bloomSize = hdr.readUInt32LE(8);
  if (nbuckets > MAX_SYMS || bloomSize > MAX_SYMS) throw new Damage('DT_GNU_HASH is out of range');
  const bucketsOff = off + 16 + bloomSize * 8;
  const buckets = region(src, bucketsOff, nbuckets * 4, 'the GNU hash buckets');
  let max = 0;
  for (let i = 0; i < nbuckets; i++) max = Math.max(max, buckets.readUInt32LE(i * 4));
  if (max < symoffset) return symoffset;
  // Walk the last chain to its end (the entry with the low bit set).
  const chainOff = bucketsOff + nbuckets * 4;
  for (let i = max; i < MAX_SYMS; i++) {
    const c = region(src, chainOff + (i - symoffset) * 4, 4, 'the GNU hash chains').readUInt32LE(0);
    if (c & 1) return i + 1;
  }
  throw new Damage('the GNU hash chains do not end');
}
