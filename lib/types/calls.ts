// A call's typed view, between the engine and the contexts: its arguments
// and its return value (which signature a call has is the engine's to say:
// engine/typed-call.ts).
import { SECOND_RETURN_ARG } from './abi';
import type { Signature, TypedCall, TypedValue } from './model';
import { CallRegisters, readArgs, readReturn } from './values';

/** What reading a call's values needs of the thread stopped in its handler. */
export interface ValueHost {
  read(addr: number | bigint, len: number): Buffer | null;
  /** xmm0-7 / v0-7 now (at a return). */
  fpRegs(): Buffer | null;
  /** The integer argument registers now (at a return: the second return register is among them). */
  intRegs(): readonly bigint[];
}

/** The arguments: read once (at entry, or at the exit when nobody asked at entry) and kept. */
export function callValues(t: TypedCall, args: readonly bigint[], sp: number, host: ValueHost): TypedValue[] {
  if (!t.values) {
    const regs: CallRegisters = { ints: args, fp: () => t.fp ?? null, sp, read: host.read };
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
  };
  return readReturn(ret, regs);
}
