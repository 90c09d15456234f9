// Branches from elsewhere in an object into a function's first bytes. The
// planner sees one function; other code may jump into its displaced bytes
// (glibc's __mempcpy_evex_unaligned_erms ends with a jmp to
// __memmove_evex_unaligned_erms+3, past its first instruction), and such a
// jump would land in the middle of the patch. Every function of the object
// (by its symbols and its call frame information) is decoded once, when fast
// mode first patches in it, and its direct branches are kept sorted by target.
import { fast } from '../native';
import type { Module } from '../symbols/modules';
import type { Proc } from '../engine/traced';

interface ObjectBranches {
  /** [target, source, ...] sorted by target. */
  branches: Float64Array;
  /** The functions' [start, end) (symbols and CFI), sorted by start. */
  ranges: [number, number][];
  /** Functions that could not be decoded to their end. */
  partial: number;
}

/** The most bytes of one executable segment read at once. */
const MAX_SEGMENT = 512 * 1024 * 1024;

const seen = new WeakMap<Module, ObjectBranches>();

function objectBranches(proc: Proc, mod: Module): ObjectBranches {
  let ob = seen.get(mod);
  if (ob) return ob;
  const read = (a: number, n: number) => proc.mem.read(a, n);
  const starts = new Map<number, number>();
  for (const r of mod.codeRanges(read)) starts.set(r.start, r.end);
  for (const f of mod.functions()) if (f.size > 0 && !f.ifunc && !starts.has(f.address)) starts.set(f.address, f.address + f.size);
  const ranges = [...starts].sort((a, b) => a[0] - b[0]);
  const parts: Float64Array[] = [];
  let partial = 0;
  for (const seg of mod.elf.segments) {
    if (!seg.executable) continue;
    const lo = seg.vaddr + mod.bias, hi = lo + Math.min(seg.memsz, MAX_SEGMENT);
    const inside = ranges.filter(([s, e]) => s >= lo && e <= hi);
    if (!inside.length) continue;
    const code = proc.mem.read(lo, hi - lo);
    if (!code) {
      partial += inside.length;
      continue;
    }
    const r = fast.branches(lo, code, Float64Array.from(inside.flat()));
    parts.push(r.branches);
    partial += r.partial;
  }
  const all = parts.length === 1 ? parts[0] : mergeByTarget(parts);
  ob = { branches: all, ranges, partial };
  seen.set(mod, ob);
  return ob;
}

function mergeByTarget(parts: Float64Array[]): Float64Array {
  const pairs: [number, number][] = [];
  for (const p of parts) for (let i = 0; i < p.length; i += 2) pairs.push([p[i], p[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  return Float64Array.from(pairs.flat());
}

/** The branches of `mod`'s code whose targets lie in [lo, hi), as [source, target, ...] (the planner's FastContext). */
export function branchesNear(proc: Proc, mod: Module, lo: number, hi: number): Float64Array {
  const b = objectBranches(proc, mod).branches;
  let a = 0, z = b.length / 2;
  while (a < z) {
    const mid = (a + z) >>> 1;
    if (b[2 * mid] < lo) a = mid + 1;
    else z = mid;
  }
  const out: number[] = [];
  for (let i = a; i < b.length / 2 && b[2 * i] < hi; i++) out.push(b[2 * i + 1], b[2 * i]);
  return Float64Array.from(out);
}

/** The most padding bytes before a function given to the planner (a jmp rel8 reaches 128 back). */
const MAX_PADDING = 128;

/**
 * The bytes between the end of the function before `fn` and `fn`, when no
 * function holds them (alignment padding) and they are few, else undefined.
 */
export function paddingBefore(proc: Proc, mod: Module, fn: number): Buffer | undefined {
  const r = objectBranches(proc, mod).ranges;
  let a = 0, z = r.length;
  while (a < z) {
    const mid = (a + z) >>> 1;
    if (r[mid][0] < fn) a = mid + 1;
    else z = mid;
  }
  if (a === 0) return undefined;
  const end = Math.max(...r.slice(Math.max(0, a - 8), a).map(([, e]) => e)); // a few before: nested or overlapping ranges
  if (end > fn || fn - end > MAX_PADDING || end === fn) return undefined;
  return proc.mem.read(end, fn - end) ?? undefined;
}

/** `name+0xoff` when a sized symbol holds `addr`, else `object+0xoff` (as linked, objdump's numbering). */
export function codeName(mod: Module, addr: number): string {
  const f = mod.functions().find((g) => g.size > 0 && !g.ifunc && addr >= g.address && addr < g.address + g.size);
  return f ? `${f.name}+0x${(addr - f.address).toString(16)}` : `${mod.name}+0x${(addr - mod.bias).toString(16)}`;
}
