// Where a function's arguments and return value are: integer and pointer
// registers, floating-point registers (xmm0-7 / v0-7), the stack, or memory a
// register points to. What the architectures share is here (scalars in order,
// C++ classes by invisible reference, the hidden result pointer); what each
// says about aggregates and its registers is its own (arch/: callAbi).
import { callAbi, returnAbi } from '../arch';
import type { Location } from '../arch';
import { isAggregate } from '../arch/call-abi';
import { arch } from '../native';
import type { CType, Signature } from './model';

export type { Location, Part } from '../arch';

const NINT = arch.args.length;
const NFP = 8;

function scalarClass(t: CType): 'int' | 'sse' | 'mem' {
  if (t.k === 'float') return t.s > 8 && callAbi.wideFloatInMemory ? 'mem' : 'sse';
  if (isAggregate(t)) return 'mem';
  return 'int';
}

/**
 * Whether a value of type `t` is returned in memory, through the hidden
 * result pointer: a C++ class not trivially copyable (any size), or an
 * aggregate the architecture returns in memory (too big, or so classified).
 */
export function returnsInMemory(t: CType | null): boolean {
  if (!t || !isAggregate(t)) return false;
  return t.nt === true || callAbi.aggregateReturnedInMemory(t);
}

/** Where each parameter of `sig` is at the function's first instruction. */
export function locateArgs(sig: Signature): Location[] {
  let stack = callAbi.stackBase;
  const at = {
    // The hidden result pointer comes first where it takes an argument register (arch/).
    ni: returnAbi.resultShiftsArgs && returnsInMemory(sig.ret) ? 1 : 0,
    nf: 0,
    nint: NINT,
    nfp: NFP,
    onStack(bytes: number): Location {
      const loc: Location = [{ src: 'stack', offset: stack, bytes }];
      stack += Math.max(8, Math.ceil(bytes / 8) * 8);
      return loc;
    },
  };
  return sig.params.map(({ type: t }) => {
    const size = t.s > 0 ? t.s : 8;
    if (isAggregate(t)) {
      // Itanium C++ ABI: a class not trivially copyable is passed by invisible reference (a pointer).
      if (t.nt) {
        if (at.ni < NINT) return [{ src: 'byref', reg: at.ni++, bytes: size }];
        at.onStack(8); // the pointer, on the stack: not followed
        return [{ src: 'none', bytes: size }];
      }
      return callAbi.aggregateArg(t, size, at);
    }
    const c = scalarClass(t);
    if (c === 'int') return at.ni < NINT ? [{ src: 'int', reg: at.ni++, bytes: Math.min(size, 8) }] : at.onStack(Math.min(size, 8));
    if (c === 'sse') return at.nf < NFP ? [{ src: 'fp', reg: at.nf++, bytes: size }] : at.onStack(size);
    return at.onStack(size);
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
  if (isAggregate(t)) return callAbi.aggregateReturn(t, size);
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
export const SECOND_RETURN_ARG = callAbi.secondReturnArg;
