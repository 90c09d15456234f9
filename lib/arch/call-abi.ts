// Where a function's arguments and return value are: what an architecture's
// calling convention says about aggregates and the registers it has. The
// generic part (scalars in order, C++ classes by invisible reference, the
// hidden result pointer) is lib/types/abi.ts; each architecture supplies one
// CallAbi (arch/x86_64-calls.ts: the System V x86-64 ABI; arch/arm64-calls.ts:
// AAPCS64).
import type { CType } from '../types/model';

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

/** The argument registers left while a call's parameters are placed in order. */
export interface ArgCursor {
  /** Next integer / floating-point argument register. */
  ni: number;
  nf: number;
  readonly nint: number;
  readonly nfp: number;
  /** The next stack slot(s), for `bytes`. */
  onStack(bytes: number): Location;
}

export interface CallAbi {
  /** Where the first stack argument is at a function's first instruction (past the return address on x86-64). */
  readonly stackBase: number;
  /** Index into Registers.args() of the second integer return register (rdx / x1). */
  readonly secondReturnArg: number;
  /** A floating-point scalar wider than 8 bytes (long double) is passed and returned in memory (x87), not in a vector register. */
  readonly wideFloatInMemory: boolean;
  /** Whether an aggregate (trivially copyable) is returned in memory, through the hidden result pointer. */
  aggregateReturnedInMemory(t: CType): boolean;
  /** Where an aggregate parameter (trivially copyable) goes; `size` > 0. */
  aggregateArg(t: CType, size: number, at: ArgCursor): Location;
  /** Where an aggregate returned in registers is. */
  aggregateReturn(t: CType, size: number): Location;
}

/** The members of a struct flattened to scalars with their offsets (nested structs included). */
export function scalars(t: CType, base = 0, out: { o: number; t: CType }[] = []): { o: number; t: CType }[] {
  if ((t.k === 'struct' || t.k === 'union') && t.m) for (const m of t.m) scalars(m.t, base + m.o, out);
  else out.push({ o: base, t });
  return out;
}

export const isFloat = (t: CType) => t.k === 'float' && (t.s === 4 || t.s === 8);
export const isAggregate = (t: CType) => t.k === 'struct' || t.k === 'union' || t.k === 'array';

/** `n` consecutive eightbytes of a value of `size` bytes, as parts. */
export function eightbytes(size: number, part: (k: number, bytes: number) => Part): Location {
  return Array.from({ length: Math.ceil(size / 8) }, (_, k) => part(k, Math.min(8, size - k * 8)));
}
