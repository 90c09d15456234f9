// A call's typed view, between the engine and the contexts: its arguments
// and its return value (which signature a call has is the engine's to say:
// engine/typed-call.ts).
import { SECOND_RETURN_ARG } from './abi';
import type { Signature, TypedCall, TypedValue } from './model';
import { CallRegisters, isWritableString, readArgs, readReturn } from './values';

/** What reading a call's values needs of the thread stopped in its handler. */
export interface ValueHost {
  read(addr: number | bigint, len: number): Buffer | null;
  /** xmm0-7 / v0-7 now (at a return). */
  fpRegs(): Buffer | null;
  /** The integer argument registers now (at a return: the second return register is among them). */
  intRegs(): readonly bigint[];
  /**
   * True when the thread is stopped at the call or its return (trap mode):
   * memory read now is what the call sees. Fast mode reads it later.
   */
  stoppedAtCall?: boolean;
}

/** The arguments: read once (at entry, or at the exit when nobody asked at entry) and kept. */
export function callValues(t: TypedCall, args: readonly bigint[], sp: number, host: ValueHost): TypedValue[] {
  if (!t.values) {
    const regs: CallRegisters = { ints: args, fp: () => t.fp ?? null, sp, read: host.read, stringMax: t.sig!.stringMax };
    t.values = readArgs(t.sig!, regs);
  }
  return t.values;
}

/** The return value (null when the signature does not give its type). */
export function returnValue(t: TypedCall, retval: bigint, host: ValueHost): TypedValue | null {
  const ret = t.sig?.ret;
  if (!ret) return null;
  let fp: Buffer | null | undefined;
  const two = (ret.k === 'struct' || ret.k === 'union') && ret.s > 8;
  const regs: CallRegisters = {
    ints: two ? [retval, host.intRegs()[SECOND_RETURN_ARG] ?? 0n] : [retval],
    fp: () => (fp === undefined ? (fp = host.fpRegs()) : fp),
    sp: 0,
    read: host.read,
    result: t.result,
    stringMax: t.sig?.stringMax,
  };
  return readReturn(ret, regs);
}

/**
 * The arguments the call may have written through (`char *`, not const),
 * read again now, at its return: what snprintf put in its buffer. Their
 * pointers are the entry's (`args`). [] when the function has none.
 */
export function filledValues(t: TypedCall, args: readonly bigint[], sp: number, host: ValueHost): TypedValue[] {
  const sig = t.sig!;
  const which = writableParams(sig);
  if (!which.length) return NONE;
  const now = readArgs(sig, { ints: args, fp: () => t.fp ?? null, sp, read: host.read, stringMax: sig.stringMax });
  return which.map((i) => now[i]);
}

const NONE: TypedValue[] = Object.freeze([]) as unknown as TypedValue[];
/** The indexes of a signature's writable string parameters, found once per signature (this runs at every return). */
const writable = new WeakMap<Signature, number[]>();
function writableParams(sig: Signature): number[] {
  let w = writable.get(sig);
  if (!w) writable.set(sig, (w = sig.params.flatMap((p, i) => (isWritableString(p.type) ? [i] : []))));
  return w;
}
