// AAPCS64's aggregates: a homogeneous floating-point aggregate (1 to 4
// members of one float type) goes in vector registers; others of 16 bytes or
// less in integer registers; bigger ones by reference (a pointer in an
// argument register), and are returned through x8.
import type { CType } from '../types/model';
import { CallAbi, eightbytes, isAggregate, isFloat, Part, scalars } from './call-abi';

/** A homogeneous floating-point aggregate: its member size (null: not one). */
function hfaMember(t: CType): number | null {
  if (!isAggregate(t) || !t.m) return null;
  const sc = scalars(t);
  if (sc.length < 1 || sc.length > 4 || !sc.every((x) => isFloat(x.t) && x.t.s === sc[0].t.s)) return null;
  return sc[0].t.s;
}

export const aapcs64Calls: CallAbi = {
  stackBase: 0,
  secondReturnArg: 1,
  wideFloatInMemory: false,
  aggregateReturnedInMemory: (t) => !hfaMember(t) && (t.s > 16 || t.s <= 0),
  aggregateArg(t, size, at) {
    const hfa = hfaMember(t);
    if (hfa) {
      const n = Math.round(size / hfa);
      if (at.nf + n <= at.nfp) return Array.from({ length: n }, () => ({ src: 'fp', reg: at.nf++, bytes: hfa }) as Part);
      at.nf = at.nfp;
      return at.onStack(size);
    }
    if (size > 16) return at.ni < at.nint ? [{ src: 'byref', reg: at.ni++, bytes: size }] : [{ src: 'none', bytes: size }];
    const words = Math.ceil(size / 8);
    if (at.ni + words <= at.nint) return eightbytes(size, (_, bytes) => ({ src: 'int', reg: at.ni++, bytes }));
    at.ni = at.nint;
    return at.onStack(size);
  },
  aggregateReturn(t, size) {
    const hfa = hfaMember(t);
    if (hfa) return Array.from({ length: Math.round(size / hfa) }, (_, k) => ({ src: 'fp', reg: k, bytes: hfa }) as Part);
    return eightbytes(size, (k, bytes) => ({ src: 'int', reg: k, bytes }));
  },
};
