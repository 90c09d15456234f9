// Which signature a call has, taken at its entry (with the floating-point
// argument registers when it needs them): the hook's own types over what
// the program's debug information and the built-in prototypes give.
import { returnAbi } from '../arch';
import type { Hook } from '../hook';
import type { NativeTracer } from '../native';
import type { Site } from './traced';
import type { Registers } from '../tracee/registers';
import { returnsInMemory } from '../types/abi';
import type { Signature, TypedCall } from '../types/model';
import { defaultSignature } from '../types/signatures';
import { argsNeedFp } from '../types/values';

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
