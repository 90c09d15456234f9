// Modules mapped into a tracee and function lookup by name, glob and scope.
import * as path from 'path';
import { ElfFile, readElf } from './elf';
import { Mapping } from './procfs';
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
  private fns: FunctionSymbol[] | null = null;
  constructor(
    readonly path: string,
    readonly elf: ElfFile,
    /** Load bias: runtime address = link-time address + bias. */
    readonly bias: number,
    readonly start: number,
    readonly end: number,
  ) {
    this.name = path.startsWith('[') ? path : pathBasename(path);
  }

  functions(): FunctionSymbol[] {
    if (this.fns) return this.fns;
    // A `.cold` part of a function split by the compiler is entered by a jump,
    // never called: it has no return address to hook.
    const raw = this.elf.functions.filter((f) => !/\.cold(\.\d+)?$/.test(f.name));
    const mangled = raw.filter((s) => s.name.startsWith('_Z')).map((s) => s.name);
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

  object(name: string): number | null {
    const s = this.elf.objects.find((o) => o.name === name);
    return s ? s.value + this.bias : null;
  }

  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }
}

function pathBasename(p: string): string {
  return path.basename(p.replace(/ \(deleted\)$/, ''));
}

function stripVersion(n: string): string {
  const at = n.indexOf('@');
  return at > 0 ? n.slice(0, at) : n;
}

/** Group file-backed mappings into modules with their load bias. */
export function modulesFromMaps(maps: Mapping[], known: Map<string, Module>): Module[] {
  const byPath = new Map<string, Mapping[]>();
  for (const m of maps) {
    if (!m.path.startsWith('/') || m.inode === 0) continue;
    let list = byPath.get(m.path);
    if (!list) byPath.set(m.path, (list = []));
    list.push(m);
  }
  const out: Module[] = [];
  for (const [p, list] of byPath) {
    const start = Math.min(...list.map((m) => m.start));
    const end = Math.max(...list.map((m) => m.end));
    const prev = known.get(p);
    if (prev && prev.start === start) {
      out.push(prev);
      continue;
    }
    let elf: ElfFile;
    try {
      elf = readElf(p);
    } catch {
      continue; // not an ELF file we can read (a data file mapped by the program)
    }
    const first = list.filter((m) => m.offset === 0).map((m) => m.start);
    const base = first.length ? Math.min(...first) : start;
    const bias = elf.type === 'exec' ? 0 : base - elf.firstLoadVaddr;
    out.push(new Module(p, elf, bias, start, end));
  }
  return out;
}
