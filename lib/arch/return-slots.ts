// Where hijacked return addresses live, and putting the real ones back (or
// the trampoline again). On x86-64 a node's slot is [frame]; where the return
// address is a register at entry (arm64's x30), it is that register or
// wherever the prologue saved it.
import { arch, NativeTracer } from '../native';
import type { RethookNode } from '../rethook';

/** Most stack searched for a saved hijacked return address between two frames. */
const MAX_FRAME_SCAN = 1 << 20;

/** Write the real return addresses of `nodes` (outermost first) back into stopped thread `tid` of process `pid`. */
export function restoreReturnAddresses(nat: NativeTracer, regs: BigUint64Array, pid: number, tid: number, nodes: readonly RethookNode[], tramp: number): void {
  if (arch.returnAddressReg >= 0) {
    if (nodes.length) restoreSavedReturns(nat, regs, pid, tid, nodes.slice().reverse(), tramp);
    return;
  }
  for (const n of nodes) {
    if (n.chained) continue;
    const cur = nat.readU64(pid, n.frame);
    if (cur !== null && Number(cur) === tramp) nat.writeU64(pid, n.frame, n.realRet);
  }
}

/**
 * Where the return address is a register at entry (arm64's x30), a hijacked
 * one is in that register still, or wherever the function's prologue saved
 * it: in its frame, between the next inner frame (or the thread's sp) and
 * its own. Put the real ones back in stopped thread `tid` of `pid`; `nodes`
 * innermost first. A copy signed by pointer authentication (paciasp) is not
 * recognized: that call still returns into the trampoline. Loads the
 * thread's registers into `regs`.
 */
function restoreSavedReturns(nat: NativeTracer, regs: BigUint64Array, pid: number, tid: number, nodes: RethookNode[], trampoline: number): void {
  if (!nat.loadRegs(tid)) return;
  const tramp = BigInt(trampoline);
  const reg = arch.returnAddressReg;
  if (regs[reg] === tramp) {
    regs[reg] = BigInt(nodes[0].realRet);
    nat.storeRegs(tid);
  }
  let low = Number(regs[arch.sp]);
  for (const n of nodes) {
    if (!n.chained && n.frame > low) {
      const len = Math.min(n.frame - low, MAX_FRAME_SCAN) & ~7;
      const base = n.frame - len;
      const words = nat.read(pid, base, len);
      for (let off = 0; words && off + 8 <= len; off += 8)
        if (words.readBigUInt64LE(off) === tramp) nat.writeU64(pid, base + off, n.realRet);
    }
    low = Math.max(low, n.frame);
  }
}

/** arm64: where unhijackForUnwind found each node's saved return address (the catch puts the trampoline back there). */
const savedAt = new WeakMap<RethookNode, number>();

/**
 * Before an unwinder walks the stack: the real return addresses go back in
 * every slot that holds the trampoline; the nodes stay, marked restored,
 * until the catch. `regs`: the thread's registers (arm64: its link register
 * and sp, from where the saved copies are searched as on detach).
 */
export function unhijackForUnwind(nat: NativeTracer, pid: number, nodes: readonly RethookNode[], tramp: number, regs: BigUint64Array): void {
  if (arch.returnAddressReg >= 0) {
    const reg = arch.returnAddressReg;
    const t = BigInt(tramp);
    if (nodes.length && regs[reg] === t) regs[reg] = BigInt(nodes[nodes.length - 1].realRet);
    let low = Number(regs[arch.sp]);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (!n.chained && !n.restored && n.frame > low) {
        const len = Math.min(n.frame - low, MAX_FRAME_SCAN) & ~7;
        const base = n.frame - len;
        const words = nat.read(pid, base, len);
        for (let off = len - 8; words && off >= 0; off -= 8) {
          if (words.readBigUInt64LE(off) !== t) continue;
          nat.writeU64(pid, base + off, n.realRet);
          savedAt.set(n, base + off);
          break; // the prologue's copy nearest the frame: one per call
        }
      }
      if (!n.chained) n.restored = true;
      low = Math.max(low, n.frame);
    }
    return;
  }
  for (const n of nodes) {
    if (n.chained || n.restored) continue;
    const cur = nat.readU64(pid, n.frame);
    if (cur !== null && Number(cur) === tramp) nat.writeU64(pid, n.frame, n.realRet);
    n.restored = true;
  }
}

/** After a catch: the surviving restored nodes get the trampoline back. */
export function rehijackAfterCatch(nat: NativeTracer, pid: number, nodes: readonly RethookNode[], tramp: number): void {
  for (const n of nodes) {
    if (!n.restored) continue;
    n.restored = false;
    if (arch.returnAddressReg >= 0) {
      const at = savedAt.get(n);
      savedAt.delete(n);
      if (at !== undefined && Number(nat.readU64(pid, at)) === n.realRet) nat.writeU64(pid, at, tramp);
      continue;
    }
    if (n.chained) continue;
    const cur = nat.readU64(pid, n.frame);
    if (cur !== null && Number(cur) === n.realRet) nat.writeU64(pid, n.frame, tramp);
  }
}
