// arm64: the return address is the link register (x30) on entry, so the
// hijack is a register write; `ret` pops nothing. Once the function's
// prologue has saved x30 (a frame record, `stp x29, x30, ...`), the hijacked
// copy is in its frame, somewhere between the next inner frame (or the
// thread's sp) and its own entry sp: found by scanning those words. A copy
// signed by pointer authentication (paciasp) is not recognized (docs/limits.md).
import { arch } from '../native';
import type { RethookNode } from '../rethook';
import type { TraceeMemory } from '../tracee/memory';
import type { Registers } from '../tracee/registers';
import type { CalibrationCode, ReturnAbi } from './return-abi';

const LR = arch.returnAddressReg;
/** Go's internal ABI keeps the current goroutine in x28. */
const X28 = 28;
/** AAPCS64's indirect result location register: the arguments keep x0-x7. */
const X8 = 8;
/** Most stack searched for a saved hijacked return address between two frames. */
const MAX_FRAME_SCAN = 1 << 20;
/** How far below a suspect frame its saved x30 is looked for. */
const FRAME_EVIDENCE_SCAN = 4096;
/** Where unhijackForUnwind found each node's saved copies (the catch puts the trampoline back there). */
const savedAt = new WeakMap<RethookNode, number[]>();

function linkRegister(regs: Registers): number {
  return Number(regs.words[LR]);
}

function setLinkRegister(regs: Registers, v: number): void {
  regs.words[LR] = BigInt(v);
}

/**
 * For each node (`nodes` outermost first; visited innermost first) not
 * entered by a tail call and `want`ed, the addresses
 * of the words holding `tramp` in its frame, nearest the frame first: the
 * stack between the next inner frame (innermost: `sp`) and the node's entry sp.
 */
function scanSavedCopies(mem: TraceeMemory, sp: number, nodes: readonly RethookNode[], tramp: number,
  want: (n: RethookNode) => boolean, visit: (n: RethookNode, slots: number[]) => void): void {
  const t = BigInt(tramp);
  let low = sp;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.chained && want(n) && n.frame > low) {
      const len = Math.min(n.frame - low, MAX_FRAME_SCAN) & ~7;
      const base = n.frame - len;
      const words = mem.read(base, len);
      const slots: number[] = [];
      for (let off = len - 8; words && off >= 0; off -= 8) if (words.readBigUInt64LE(off) === t) slots.push(base + off);
      visit(n, slots);
    }
    // A node entered by a tail call shares its caller's frame: that frame is scanned for the caller (next), from the same low.
    if (!n.chained) low = Math.max(low, n.frame);
  }
}

export const linkRegisterAbi: ReturnAbi = {
  returnPops: 0,

  returnAddress: (regs) => linkRegister(regs),

  hijack(regs, _mem, tramp) {
    setLinkRegister(regs, tramp);
    return true;
  },

  resumeAt(regs, to) {
    regs.pc = to;
    setLinkRegister(regs, to);
  },

  goroutine: (regs) => regs.words[X28],

  // AAPCS64 6.9: a result in memory goes where x8 points at the call; x8 is
  // not an argument register and the callee need not keep it (read at entry).
  resultShiftsArgs: false,
  resultAddress: (regs) => regs.words[X8],

  restore(thread, mem, nodes, tramp) {
    if (!nodes.length || !thread.load()) return;
    const regs = thread.regs;
    if (linkRegister(regs) === tramp) {
      setLinkRegister(regs, nodes[nodes.length - 1].realRet);
      thread.store();
    }
    scanSavedCopies(mem, regs.sp, nodes, tramp, () => true, (n, slots) => {
      for (const a of slots) mem.writeWord(a, n.realRet);
    });
  },

  unhijackForUnwind(regs, mem, nodes, tramp) {
    if (nodes.length && linkRegister(regs) === tramp) setLinkRegister(regs, nodes[nodes.length - 1].realRet);
    // Every copy in the frame, not only the nearest: the prologue saved one,
    // and fast mode's arm64 stub leaves another in a word the frame covers
    // (it hands x30 back through the stack). At -O0 that one lies above the
    // frame record and is found first: restoring only it left the unwinder
    // our address (no frame description: std::terminate). Every copy is put
    // back after the catch, so the frame is as it was.
    scanSavedCopies(mem, regs.sp, nodes, tramp, (n) => !n.restored, (n, slots) => {
      if (!slots.length) return;
      for (const at of slots) mem.writeWord(at, n.realRet);
      savedAt.set(n, slots);
    });
    for (const n of nodes) if (!n.chained) n.restored = true;
  },

  // A call still in flight below sp has its (hijacked) x30 saved in its own
  // frame record, within the frame's lowest words: not found there, the
  // frame was reused. A leaf never calls out, so is never such a candidate.
  frameGone(mem, n, tramp) {
    if (n.chained) return null;
    const len = Math.min(FRAME_EVIDENCE_SCAN, n.frame) & ~7;
    const words = mem.read(n.frame - len, len);
    if (!words) return true;
    const want = BigInt(n.mode === 'site' ? n.realRet : tramp);
    for (let off = len - 8; off >= 0; off -= 8) if (words.readBigUInt64LE(off) === want) return false;
    return true;
  },

  rehijackAfterCatch(mem, nodes, tramp) {
    for (const n of nodes) {
      if (!n.restored) continue;
      n.restored = false;
      const slots = savedAt.get(n) ?? [];
      savedAt.delete(n);
      for (const at of slots) if (mem.readWord(at) === n.realRet) mem.writeWord(at, tramp);
    }
  },
};

/**
 * Why code at `addr` beginning with `bytes` cannot be a function's start, or
 * null: every instruction is 4 bytes, 4-aligned; a zero word is udf #0 (padding).
 */
export function arm64NotAFunctionStart(addr: number, bytes: Buffer): string | null {
  if (addr % 4 !== 0) return 'its address is not a multiple of 4, where no arm64 instruction starts';
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0) return 'its first word is zero (udf #0, padding), no function starts so';
  return null;
}

/** mov x19, #n; loop: bl g; subs x19, x19, #1; b.ne loop; exit(0); g: (frame) bl f (frame) ret; f: ret. */
export function arm64CalibrationCode(n: number): CalibrationCode {
  const words = [
    0xd2800000 | (n << 5) | 19, // mov x19, #n
    0x94000006, //                loop: bl g
    0xf1000673, //                subs x19, x19, #1
    0x54ffffc1, //                b.ne loop
    0xd2800000 | (93 << 5) | 8, // mov x8, #SYS_exit
    0xd2800000, //                mov x0, #0
    0xd4000001, //                svc #0
    0xa9bf7bfd, //                g: stp x29, x30, [sp, #-16]!
    0x94000003, //                bl f
    0xa8c17bfd, //                ldp x29, x30, [sp], #16
    0xd65f03c0, //                ret
    0xd65f03c0, //                f: ret
  ];
  const code = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => code.writeUInt32LE(w >>> 0, i * 4));
  return { machine: 183, code, fOffset: 44, fSize: 4, gOffset: 28, gSize: 16 };
}
