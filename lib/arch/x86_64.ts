// x86-64: the return address is the word at [sp] on entry; `ret` pops it.
// A node's slot is therefore exactly [frame], for every call not entered by
// a tail call (a chained node shares its caller's slot).
import type { RethookNode } from '../rethook';
import type { TraceeMemory } from '../tracee/memory';
import type { CalibrationCode, ReturnAbi } from './return-abi';

/** Put `to` in each node's slot that holds `from`; `mark` sets the node's restored flag. */
function swapSlots(mem: TraceeMemory, nodes: readonly RethookNode[], from: (n: RethookNode) => number, to: (n: RethookNode) => number): void {
  for (const n of nodes) {
    if (n.chained) continue;
    if (mem.readWord(n.frame) === from(n)) mem.writeWord(n.frame, to(n));
  }
}

/** r14 in user_regs_struct order (r15, r14, ...): Go's ABIInternal keeps g there. */
const R14 = 1;

export const stackSlotAbi: ReturnAbi = {
  returnPops: 8,

  returnAddress: (regs, mem) => mem.readWord(regs.sp),

  hijack: (regs, mem, tramp) => mem.writeWord(regs.sp, tramp),

  resumeAt(regs, to) {
    regs.pc = to;
  },

  goroutine: (regs) => regs.words[R14],

  // System V x86-64 ABI 3.2.3: the caller passes the result's address in
  // %rdi "as if it were the first argument" (and the callee returns it in %rax).
  resultShiftsArgs: true,
  resultAddress: (regs) => regs.args()[0],

  restore(_thread, mem, nodes, tramp) {
    swapSlots(mem, nodes, () => tramp, (n) => n.realRet);
  },

  unhijackForUnwind(_regs, mem, nodes, tramp) {
    swapSlots(mem, nodes.filter((n) => !n.restored), () => tramp, (n) => n.realRet);
    for (const n of nodes) if (!n.chained) n.restored = true;
  },

  frameGone(mem, n, tramp) {
    if (n.chained) return null; // its slot is its tail caller's
    return mem.readWord(n.frame) !== (n.mode === 'site' ? n.realRet : tramp);
  },

  rehijackAfterCatch(mem, nodes, tramp) {
    const back = nodes.filter((n) => n.restored);
    for (const n of back) n.restored = false;
    swapSlots(mem, back, (n) => n.realRet, () => tramp);
  },
};

/**
 * Why code beginning with `bytes` cannot be a function's start, or null.
 * The planners refuse what does not decode; this is what decodes but is
 * padding: int3 (gcc's and lld's filler between functions) and zeros.
 */
export function x86NotAFunctionStart(_addr: number, bytes: Buffer): string | null {
  if (bytes[0] === 0xcc) return 'its first byte is int3 (padding or a breakpoint), no function starts so';
  if (bytes.length >= 2 && bytes[0] === 0 && bytes[1] === 0) return 'its first bytes are zeros (padding), no function starts so';
  return null;
}

/** mov ecx, n; loop: push rcx; call f; pop rcx; dec ecx; jnz loop; exit(0); f: ret. */
export function x86CalibrationCode(n: number): CalibrationCode {
  const code = Buffer.from([
    0xb9, n & 0xff, (n >> 8) & 0xff, 0, 0, // mov ecx, n
    0x51, //                         loop: push rcx
    0xe8, 14, 0, 0, 0, //             call g
    0x59, //                         pop rcx
    0xff, 0xc9, //                   dec ecx
    0x75, 0xf5, //                   jnz loop
    0xb8, 60, 0, 0, 0, //            mov eax, SYS_exit
    0x31, 0xff, //                   xor edi, edi
    0x0f, 0x05, //                   syscall
    0xe8, 1, 0, 0, 0, //              g: call f
    0xc3, //                         ret
    0xc3, //                         f: ret
  ]);
  return { machine: 62, code, fOffset: 31, fSize: 1, gOffset: 25, gSize: 6 };
}
