// Where a function's arguments and return value are, by the calling
// convention of the architecture (the System V x86-64 ABI; AAPCS64 on
// arm64): integer and pointer registers, floating-point registers (xmm0-7 /
// v0-7), the stack, or memory a register points to. The one place in lib/types
// that knows the architecture (chosen once, from the addon's arch table).
import { returnAbi } from '../arch';
import { arch } from '../native';
import type { CType, Signature } from './model';

/** Bytes of a value, in order: the low `bytes` of a register, or memory. */
export type Part =
  | { src: 'int'; reg: number; bytes: number }
  | { src: 'fp'; reg: number; bytes: number }
  | { src: 'stack'; offset: number; bytes: number }
  /** A struct passed or returned in memory, its address in integer register `reg`. */
  | { src: 'byref'; reg: number; bytes: number }
  /** A result returned in memory, at the address its caller passed (TypedCall.result). */
  | { src: 'result'; bytes: number }
  /** Not available (a struct returned through memory whose address is gone). */
  | { src: 'none'; bytes: number };

export type Location = Part[];

const X86 = arch.name === 'x86_64';
const NINT = arch.args.length;
const NFP = 8;
/** At a function's first instruction, the first stack argument is past the return address on x86-64. */
const STACK_BASE = X86 ? 8 : 0;

/** The members of a struct flattened to scalars with their offsets (nested structs included). */
function scalars(t: CType, base = 0, out: { o: number; t: CType }[] = []): { o: number; t: CType }[] {
  if ((t.k === 'struct' || t.k === 'union') && t.m) for (const m of t.m) scalars(m.t, base + m.o, out);
  else out.push({ o: base, t });
  return out;
}

const isFloat = (t: CType) => t.k === 'float' && (t.s === 4 || t.s === 8);
const isAggregate = (t: CType) => t.k === 'struct' || t.k === 'union' || t.k === 'array';

/** x86-64: INTEGER or SSE for each eightbyte of a small aggregate; null when it goes in memory. */
function x86Classes(t: CType): ('int' | 'sse')[] | null {
  if (!isAggregate(t) || t.s > 16 || t.s <= 0 || !t.m) return null;
  const n = Math.ceil(t.s / 8);
  const cls: ('int' | 'sse' | null)[] = new Array(n).fill(null);
  for (const sc of scalars(t)) {
    const i = Math.floor(sc.o / 8);
    if (i >= n) continue;
    if (sc.t.k === 'float' && sc.t.s > 8) return null; // long double: memory
    const c = isFloat(sc.t) ? 'sse' : 'int';
    cls[i] = cls[i] === 'int' || c === 'int' ? 'int' : 'sse';
  }
  return cls.map((c) => c ?? 'sse');
}

/** arm64: a homogeneous floating-point aggregate (1 to 4 members of one float type): its member size. */
function hfaMember(t: CType): number | null {
  if (!isAggregate(t) || !t.m) return null;
  const sc = scalars(t);
  if (sc.length < 1 || sc.length > 4 || !sc.every((x) => isFloat(x.t) && x.t.s === sc[0].t.s)) return null;
  return sc[0].t.s;
}

function scalarClass(t: CType): 'int' | 'sse' | 'mem' {
  if (t.k === 'float') return t.s <= 8 ? 'sse' : X86 ? 'mem' : 'sse';
  if (isAggregate(t)) return 'mem';
  return 'int';
}

/**
 * Whether a value of type `t` is returned in memory, through the hidden
 * result pointer: a C++ class not trivially copyable (any size), or an
 * aggregate too big for the return registers (x86-64: more than 16 bytes,
 * or what classifies as MEMORY; arm64: more than 16 bytes, not a
 * floating-point aggregate).
 */
export function returnsInMemory(t: CType | null): boolean {
  if (!t || !isAggregate(t)) return false;
  if (t.nt) return true;
  if (X86) return !x86Classes(t);
  return !hfaMember(t) && (t.s > 16 || t.s <= 0);
}

/** Where each parameter of `sig` is at the function's first instruction. */
export function locateArgs(sig: Signature): Location[] {
  // The hidden result pointer comes first where it takes an argument register (arch/).
  let ni = returnAbi.resultShiftsArgs && returnsInMemory(sig.ret) ? 1 : 0;
  let nf = 0, stack = STACK_BASE;
  const onStack = (bytes: number): Location => {
    const loc: Location = [{ src: 'stack', offset: stack, bytes }];
    stack += Math.max(8, Math.ceil(bytes / 8) * 8);
    return loc;
  };
  return sig.params.map(({ type: t }) => {
    const size = t.s > 0 ? t.s : 8;
    if (isAggregate(t)) {
      // Itanium C++ ABI: a class not trivially copyable is passed by invisible reference (a pointer).
      if (t.nt) {
        if (ni < NINT) return [{ src: 'byref', reg: ni++, bytes: size }];
        onStack(8); // the pointer, on the stack: not followed
        return [{ src: 'none', bytes: size }];
      }
      if (X86) {
        const cls = x86Classes(t);
        if (cls) {
          const needI = cls.filter((c) => c === 'int').length, needF = cls.length - needI;
          if (ni + needI <= NINT && nf + needF <= NFP)
            return cls.map((c, i) => ({ src: c === 'int' ? 'int' : 'fp', reg: c === 'int' ? ni++ : nf++, bytes: Math.min(8, size - i * 8) }) as Part);
        }
        return onStack(size);
      }
      const hfa = hfaMember(t);
      if (hfa) {
        const n = Math.round(size / hfa);
        if (nf + n <= NFP) return Array.from({ length: n }, () => ({ src: 'fp', reg: nf++, bytes: hfa }) as Part);
        nf = NFP;
        return onStack(size);
      }
      if (size > 16) return ni < NINT ? [{ src: 'byref', reg: ni++, bytes: size }] : [{ src: 'none', bytes: size }];
      const words = Math.ceil(size / 8);
      if (ni + words <= NINT) return Array.from({ length: words }, (_, i) => ({ src: 'int', reg: ni++, bytes: Math.min(8, size - i * 8) }) as Part);
      ni = NINT;
      return onStack(size);
    }
    const c = scalarClass(t);
    if (c === 'int') return ni < NINT ? [{ src: 'int', reg: ni++, bytes: Math.min(size, 8) }] : onStack(Math.min(size, 8));
    if (c === 'sse') return nf < NFP ? [{ src: 'fp', reg: nf++, bytes: size }] : onStack(size);
    return onStack(size);
  });
}

/**
 * Where the return value is once the function returned. Integer registers
 * are numbered 0 (rax / x0) and 1 (rdx / x1); floating-point ones from 0.
 */
export function locateReturn(t: CType): Location {
  const size = t.s > 0 ? t.s : 8;
  if (t.k === 'void') return [];
  if (returnsInMemory(t)) return [{ src: 'result', bytes: size }];
  if (isAggregate(t)) {
    if (X86) {
      const cls = x86Classes(t)!;
      let i = 0, f = 0;
      return cls.map((c, k) => ({ src: c === 'int' ? 'int' : 'fp', reg: c === 'int' ? i++ : f++, bytes: Math.min(8, size - k * 8) }) as Part);
    }
    const hfa = hfaMember(t);
    if (hfa) return Array.from({ length: Math.round(size / hfa) }, (_, k) => ({ src: 'fp', reg: k, bytes: hfa }) as Part);
    return Array.from({ length: Math.ceil(size / 8) }, (_, k) => ({ src: 'int', reg: k, bytes: Math.min(8, size - k * 8) }) as Part);
  }
  const c = scalarClass(t);
  if (c === 'sse') return [{ src: 'fp', reg: 0, bytes: size }];
  if (c === 'mem') return [{ src: 'none', bytes: size }]; // x87 long double in st0: not read
  return [{ src: 'int', reg: 0, bytes: Math.min(size, 8) }];
}

/** Whether any of these locations needs the floating-point registers. */
export function usesFp(locs: Location[]): boolean {
  return locs.some((l) => l.some((p) => p.src === 'fp'));
}

/** Index into Registers.args() of the second integer return register (rdx / x1). */
export const SECOND_RETURN_ARG = X86 ? 2 : 1;
