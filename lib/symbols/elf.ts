// Just enough ELF64 to find functions: header, program headers, and the
// symbols of .symtab (or .dynsym when the file is stripped).
import * as fs from 'fs';
import { RethookError } from '../errors';

export interface ElfSymbol {
  name: string;
  /** Address as linked (add the module's load bias). */
  value: number;
  size: number;
  /** STT_GNU_IFUNC: `value` is a resolver that returns the implementation. */
  ifunc?: boolean;
}

export interface ElfFile {
  path: string;
  type: 'exec' | 'dyn';
  entry: number;
  /** Lowest PT_LOAD virtual address, page-aligned down. */
  firstLoadVaddr: number;
  interp: string | null;
  functions: ElfSymbol[];
  /** Defined data objects (for _r_debug and the like). */
  objects: ElfSymbol[];
}

const cache = new Map<string, { mtimeMs: number; elf: ElfFile }>();

export function readElf(path: string): ElfFile {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new RethookError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.elf;
  const elf = parseElf(path, fs.readFileSync(path));
  cache.set(path, { mtimeMs: st.mtimeMs, elf });
  return elf;
}

export function isElf(path: string): boolean {
  try {
    const fd = fs.openSync(path, 'r');
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 0);
    fs.closeSync(fd);
    return b.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

export function parseElf(path: string, b: Buffer): ElfFile {
  if (b.length < 64 || b.toString('latin1', 0, 4) !== '\x7fELF') throw new RethookError(`${path} is not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1) throw new RethookError(`${path} is not a 64-bit little-endian ELF file`);
  const u64 = (o: number) => Number(b.readBigUInt64LE(o));
  const etype = b.readUInt16LE(16);
  if (etype !== 2 && etype !== 3) throw new RethookError(`${path} is not an executable or shared object`);
  const entry = u64(24);
  const phoff = u64(32);
  const shoff = u64(40);
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);

  let firstLoad = Infinity;
  let interp: string | null = null;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const ptype = b.readUInt32LE(o);
    if (ptype === 1) firstLoad = Math.min(firstLoad, u64(o + 16));
    if (ptype === 3) interp = b.toString('latin1', u64(o + 8), u64(o + 8) + u64(o + 32)).replace(/\0.*$/s, '');
  }

  interface Section { type: number; offset: number; size: number; link: number; entsize: number }
  const sections: Section[] = [];
  for (let i = 0; i < shnum && shoff; i++) {
    const o = shoff + i * shentsize;
    sections.push({ type: b.readUInt32LE(o + 4), offset: u64(o + 24), size: u64(o + 32), link: b.readUInt32LE(o + 40), entsize: u64(o + 56) });
  }
  const symtab = sections.find((s) => s.type === 2) ?? sections.find((s) => s.type === 11);
  const functions: ElfSymbol[] = [];
  const objects: ElfSymbol[] = [];
  if (symtab && symtab.entsize) {
    const strtab = sections[symtab.link];
    for (let o = symtab.offset; o + 24 <= symtab.offset + symtab.size; o += symtab.entsize) {
      const info = b[o + 4];
      const shndx = b.readUInt16LE(o + 6);
      const type = info & 0xf;
      const isFunc = type === 2 || type === 10; // FUNC or IFUNC
      if ((!isFunc && type !== 1) || shndx === 0) continue; // defined only
      const value = u64(o + 8);
      if (!value) continue;
      const nameOff = strtab.offset + b.readUInt32LE(o);
      const end = b.indexOf(0, nameOff);
      const sym: ElfSymbol = { name: b.toString('latin1', nameOff, end), value, size: u64(o + 16) };
      if (type === 10) sym.ifunc = true;
      (isFunc ? functions : objects).push(sym);
    }
  }
  return {
    path,
    type: etype === 2 ? 'exec' : 'dyn',
    entry,
    firstLoadVaddr: firstLoad === Infinity ? 0 : Math.floor(firstLoad / 4096) * 4096,
    interp,
    functions,
    objects,
  };
}
