"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.restoreReturnAddresses = restoreReturnAddresses;
exports.unhijackForUnwind = unhijackForUnwind;
exports.rehijackAfterCatch = rehijackAfterCatch;
// Where hijacked return addresses live, and putting the real ones back (or
// the trampoline again). On x86-64 a node's slot is [frame]; where the return
// address is a register at entry (arm64's x30), it is that register or
// wherever the prologue saved it.
const native_1 = require("./native");
/** Most stack searched for a saved hijacked return address between two frames. */
const MAX_FRAME_SCAN = 1 << 20;
/** Write the real return addresses of `nodes` (outermost first) back into stopped thread `tid` of process `pid`. */
function restoreReturnAddresses(nat, regs, pid, tid, nodes, tramp) {
    if (native_1.arch.returnAddressReg >= 0) {
        if (nodes.length)
            restoreSavedReturns(nat, regs, pid, tid, nodes.slice().reverse(), tramp);
        return;
    }
    for (const n of nodes) {
        if (n.chained)
            continue;
        const cur = nat.readU64(pid, n.frame);
        if (cur !== null && Number(cur) === tramp)
            nat.writeU64(pid, n.frame, n.realRet);
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
function restoreSavedReturns(nat, regs, pid, tid, nodes, trampoline) {
    if (!nat.loadRegs(tid))
        return;
    const tramp = BigInt(trampoline);
    const reg = native_1.arch.returnAddressReg;
    if (regs[reg] === tramp) {
        regs[reg] = BigInt(nodes[0].realRet);
        nat.storeRegs(tid);
    }
    let low = Number(regs[native_1.arch.sp]);
    for (const n of nodes) {
        if (!n.chained && n.frame > low) {
            const len = Math.min(n.frame - low, MAX_FRAME_SCAN) & ~7;
            const base = n.frame - len;
            const words = nat.read(pid, base, len);
            for (let off = 0; words && off + 8 <= len; off += 8)
                if (words.readBigUInt64LE(off) === tramp)
                    nat.writeU64(pid, base + off, n.realRet);
        }
        low = Math.max(low, n.frame);
    }
}
/**
 * Before an unwinder walks the stack (x86-64): the real return addresses go
 * back in every slot that holds the trampoline; the nodes stay, marked
 * restored, until the catch.
 */
function unhijackForUnwind(nat, pid, nodes, tramp) {
    if (native_1.arch.returnAddressReg >= 0)
        return; // arm64: not yet (see README)
    for (const n of nodes) {
        if (n.chained || n.restored)
            continue;
        const cur = nat.readU64(pid, n.frame);
        if (cur !== null && Number(cur) === tramp)
            nat.writeU64(pid, n.frame, n.realRet);
        n.restored = true;
    }
}
/** After a catch: the surviving restored nodes get the trampoline back. */
function rehijackAfterCatch(nat, pid, nodes, tramp) {
    for (const n of nodes) {
        if (!n.restored)
            continue;
        n.restored = false;
        if (n.chained || native_1.arch.returnAddressReg >= 0)
            continue;
        const cur = nat.readU64(pid, n.frame);
        if (cur !== null && Number(cur) === n.realRet)
            nat.writeU64(pid, n.frame, tramp);
    }
}
