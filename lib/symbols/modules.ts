// Modules mapped into a tracee and function lookup by name, glob and scope.
import * as path from 'path';
import * as fs from 'fs';
import { ElfFile, readElf } from './elf';
import { CodeRange, codeRanges } from './eh-frame';
import { Mapping } from './procfs';
import { RethookError } from '../errors';
import { demangle } from '../native';

export interface FunctionSymbol {
  /** Display name: demangled for C++. */
  name: string;
  rawName: string;
  address: number;
  size: number;
  module: Module;
  /** An IFUNC: `address` is its resolver; the implementation is asked for at hook time. */
  ifunc?: boolean;
}

export class Module {
  readonly name: string;
  /** DT_SONAME (`libexiv2.so.27` for the file `libexiv2.so.0.27.6`), or null. */
  readonly soname: string | null;
  /** Device and inode of the file mapped (from the maps line). */
  dev = 0;
  inode = 0;
  private fns: FunctionSymbol[] | null = null;
  /** One function per address (its public name among aliases), sorted by address. */
  private index: FunctionSymbol[] | null = null;
  /** Sized function symbols by address, and for each the one reaching furthest up to it (enclosing()). */
  private spans: { all: { name: string; address: number; size: number }[]; reach: { name: string; address: number; size: number }[] } | null = null;
  constructor(
    readonly path: string,
    readonly elf: ElfFile,
    /** Load bias: runtime address = link-time address + bias. */
    readonly bias: number,
    readonly start: number,
    readonly end: number,
  ) {
    this.name = path.startsWith('[') ? path : pathBasename(path);
    this.soname = elf.soname;
  }

  /**
   * The functions' extents by the object's call frame information (every
   * function with CFI, named or not), read once from its loaded image through
   * `read` (the tracee's memory); [] without .eh_frame_hdr.
   */
  codeRanges(read: (addr: number, len: number) => Buffer | null): CodeRange[] {
    if (this.cfiRanges) return this.cfiRanges;
    const h = this.elf.ehFrameHdr;
    const segmentEnd = (addr: number): number | null => {
      const s = this.elf.segments.find((g) => addr >= g.vaddr + this.bias && addr < g.vaddr + this.bias + g.memsz);
      return s ? s.vaddr + this.bias + s.memsz : null;
    };
    this.cfiRanges = h ? codeRanges(read, { addr: h.vaddr + this.bias, size: h.size }, segmentEnd, this.bias) : [];
    return this.cfiRanges;
  }
  private cfiRanges: CodeRange[] | null = null;

  /** Damage found in the object (a one-line message naming it), or null. */
  get damage(): string | null {
    return this.elf.damage;
  }

  functions(): FunctionSymbol[] {
    if (this.fns) return this.fns;
    // A `.cold` part of a function split by the compiler is entered by a jump,
    // never called: it has no return address to hook.
    const raw = this.elf.functions.filter((f) => !/\.cold(\.\d+)?$/.test(f.name));
    const mangled = raw.filter((s) => s.name.startsWith('_Z') || s.name.startsWith('_R')).map((s) => s.name);
    const dm = new Map<string, string>();
    if (mangled.length) demangle(mangled).forEach((d, i) => dm.set(mangled[i], d));
    this.fns = raw.map((s) => ({
      name: dm.get(s.name) ?? stripVersion(s.name),
      rawName: s.name,
      address: s.value + this.bias,
      size: s.size,
      module: this,
      ifunc: s.ifunc,
    }));
    return this.fns;
  }

  /**
   * The function containing `addr` or starting below it (nearest), named by
   * its public name among aliases (`free`, not `__libc_free`).
   */
  nearestBelow(addr: number): FunctionSymbol | null {
    if (!this.index) {
      const best = new Map<number, FunctionSymbol>();
      for (const f of this.functions()) {
        const b = best.get(f.address);
        if (!b || aliasRank(f.name) < aliasRank(b.name) || (aliasRank(f.name) === aliasRank(b.name) && f.size > b.size)) best.set(f.address, f);
      }
      this.index = [...best.values()].sort((a, b) => a.address - b.address);
    }
    const ix = this.index;
    let lo = 0, hi = ix.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ix[mid].address <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? ix[lo - 1] : null;
  }

  /**
   * The function symbol whose bytes hold `addr` past their first
   * ([start, start + size) with start < addr), or null. A symbol starting
   * there is no function start: a damaged or hostile symbol table planted it
   * in another function's body, where a hook would take whatever the stack
   * holds for a return address. Every symbol counts (`.cold` parts too).
   */
  enclosing(addr: number): { name: string; address: number; size: number } | null {
    if (!this.spans) {
      const all = this.elf.functions.filter((f) => f.size > 0).map((f) => ({ name: f.name, address: f.value + this.bias, size: f.size }));
      all.sort((a, b) => a.address - b.address);
      // reach[i]: of all[0..i], the one reaching furthest.
      const reach: typeof all = [];
      for (const f of all) {
        const before = reach[reach.length - 1];
        reach.push(before && before.address + before.size >= f.address + f.size ? before : f);
      }
      this.spans = { all, reach };
    }
    const { all, reach } = this.spans;
    let lo = 0, hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (all[mid].address < addr) lo = mid + 1;
      else hi = mid;
    }
    const best = lo > 0 ? reach[lo - 1] : null;
    if (!best || best.address + best.size <= addr) return null;
    return { ...best, name: /^_[ZR]/.test(best.name) ? demangle([best.name])[0] : stripVersion(best.name) };
  }

  object(name: string): number | null {
    const s = this.elf.objects.find((o) => o.name === name);
    return s ? s.value + this.bias : null;
  }

  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }
}

/**
 * How public a name looks, for choosing among aliases at one address (lower
 * first): fewer leading underscores (`close` before `__close` and
 * `__libc_close`), then the shorter (`free` before `cfree`), then by name.
 */
export function aliasRank(name: string): number {
  const under = /^_*/.exec(name)![0].length;
  return under * 1e6 + Math.min(name.length, 999) * 1e3;
}

/** Functions in order of preference among aliases (stable otherwise). */
export function byPublicName<T extends { name: string }>(fns: T[]): T[] {
  return fns.map((f, i) => ({ f, i })).sort((a, b) => aliasRank(a.f.name) - aliasRank(b.f.name) || a.i - b.i).map((x) => x.f);
}

function pathBasename(p: string): string {
  return path.basename(p.replace(/ \(deleted\)$/, ''));
}

function stripVersion(n: string): string {
  const at = n.indexOf('@');
  return at > 0 ? n.slice(0, at) : n;
}

/** An object that is not (or not entirely) a readable ELF file, for one-time reports. */
export const EMPTY_ELF = (p: string, damage: string): ElfFile => ({
  path: p, type: 'dyn', entry: 0, firstLoadVaddr: 0, interp: null, soname: null, segments: [], functions: [], objects: [], damage,
});

/**
 * The ELF object a mapping shows, read through /proc/PID/map_files/START-END
 * (the very file mapped, even in another mount namespace or deleted), else
 * through /proc/PID/root/PATH checked to be the same device and inode.
 * Only regular files are opened, never blocking (a FIFO or device at that
 * path is never read); null for a file that is not ELF at all (data).
 */
export function readMappedElf(m: Mapping): ElfFile | null {
  const display = m.path;
  const tries: { file: string; check: boolean }[] = [];
  if (m.pid) tries.push({ file: `/proc/${m.pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, check: false });
  const plain = m.path.replace(/ \(deleted\)$/, '');
  tries.push({ file: m.pid ? `/proc/${m.pid}/root${plain}` : plain, check: true });
  let lastError: RethookError | null = null;
  for (const t of tries) {
    let st: fs.Stats;
    try {
      st = fs.statSync(t.file); // follows the link: the file mapped itself
    } catch {
      continue;
    }
    if (!st.isFile()) return null; // /dev/zero, a device: not an object
    if (t.check && (st.ino !== m.inode || st.dev !== m.dev)) continue; // another file now lives at that path
    try {
      return readElf(t.file, { display, expect: t.check ? { dev: m.dev, ino: m.inode } : undefined, tolerant: true });
    } catch (e) {
      if (!(e instanceof RethookError)) throw e;
      if (/ is not an ELF file$| is not a regular file$/.test(e.message)) return null;
      lastError = e;
      if (!/^cannot read /.test(e.message)) break;
    }
  }
  if (lastError) throw lastError;
  return null;
}

/** Group file-backed mappings into modules with their load bias. */
export function modulesFromMaps(maps: Mapping[], known: Map<string, Module>): Module[] {
  const byFile = new Map<string, Mapping[]>();
  for (const m of maps) {
    if (!m.path.startsWith('/') || m.inode === 0) continue;
    const key = `${m.dev}:${m.inode}:${m.path}`;
    let list = byFile.get(key);
    if (!list) byFile.set(key, (list = []));
    list.push(m);
  }
  const out: Module[] = [];
  for (const list of byFile.values()) {
    const p = list[0].path;
    const start = Math.min(...list.map((m) => m.start));
    const end = Math.max(...list.map((m) => m.end));
    const prev = known.get(p);
    if (prev && prev.start === start && prev.inode === list[0].inode && prev.dev === list[0].dev) {
      out.push(prev);
      continue;
    }
    const atZero = list.filter((m) => m.offset === 0);
    const first = atZero.length ? atZero.reduce((a, b) => (a.start <= b.start ? a : b)) : list[0];
    let elf: ElfFile | null;
    try {
      elf = readMappedElf(first);
    } catch (e) {
      if (!(e instanceof RethookError)) throw e;
      // Damaged beyond use: an object with no symbols, kept so the damage is reported once and patterns can say why.
      elf = EMPTY_ELF(p, e.message);
    }
    if (!elf) continue; // not an ELF file (a data file mapped by the program)
    const bias = elf.type === 'exec' ? 0 : first.start - elf.firstLoadVaddr;
    const mod = new Module(p, elf, bias, start, end);
    mod.dev = list[0].dev;
    mod.inode = list[0].inode;
    out.push(mod);
  }
  return out;
}
