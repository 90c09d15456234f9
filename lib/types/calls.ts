// A call's typed view, between the engine and the contexts: which signature
// a call has (taken at its entry, with the floating-point argument registers
// when it needs them), its arguments and its return value.
import type { NativeTracer } from '../native';
import type { Hook } from '../hook';
import type { Site } from '../tracee/process';
import { returnAbi } from '../arch';
import type { Registers } from '../tracee/registers';
import { returnsInMemory, SECOND_RETURN_ARG } from './abi';
import type { Signature, TypedCall, TypedValue } from './model';
import { defaultSignature } from './signatures';
import { argsNeedFp, CallRegisters, readArgs, readReturn } from './values';

const siteSignatures = new WeakMap<Site, Signature | null>();

/** The typed view of a call of `site` for `hook` entering now on thread `tid`, stopped with `regs` loaded (null: no signature known). */
export function typedCallAt(nat: NativeTracer, tid: number, site: Site, hook: Hook, regs: Registers): TypedCall | null {
  const fn = site.fn;
  if (!fn) return null;
  let base = siteSignatures.get(site);
  const sig = hook.signatureFor(fn, () => {
    if (base === undefined) siteSignatures.set(site, (base = defaultSignature(nat, fn)));
    return base;
  });
  if (!sig) return null;
  const call: TypedCall = { sig };
  if (argsNeedFp(sig)) call.fp = nat.fpArgs(tid);
  if (returnsInMemory(sig.ret)) call.result = returnAbi.resultAddress(regs);
  return call;
}

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
