// The System V x86-64 ABI's aggregates: each eightbyte of a small one (16
// bytes at most) is INTEGER or SSE, and it goes in registers whole or on the
// stack; bigger ones, and those holding a long double, go in memory.
import type { CType } from '../types/model';
import { CallAbi, eightbytes, isAggregate, isFloat, Part, scalars } from './call-abi';

/** INTEGER or SSE for each eightbyte of a small aggregate; null when it goes in memory. */
function classes(t: CType): ('int' | 'sse')[] | null {
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

export const sysvCalls: CallAbi = {
  stackBase: 8,
  secondReturnArg: 2,
  wideFloatInMemory: true,
  aggregateReturnedInMemory: (t) => !classes(t),
  aggregateArg(t, size, at) {
    const cls = classes(t);
    if (cls) {
      const needI = cls.filter((c) => c === 'int').length, needF = cls.length - needI;
      if (at.ni + needI <= at.nint && at.nf + needF <= at.nfp)
        return cls.map((c, i) => ({ src: c === 'int' ? 'int' : 'fp', reg: c === 'int' ? at.ni++ : at.nf++, bytes: Math.min(8, size - i * 8) }) as Part);
    }
    return at.onStack(size);
  },
  aggregateReturn(t, size) {
    const cls = classes(t)!;
    let i = 0, f = 0;
    return eightbytes(size, (k, bytes) => ({ src: cls[k] === 'int' ? 'int' : 'fp', reg: cls[k] === 'int' ? i++ : f++, bytes }) as Part);
  },
};
