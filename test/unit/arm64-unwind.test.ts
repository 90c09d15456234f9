// arm64's return ABI puts real return addresses back for an unwinder by
// scanning each hooked call's frame for our address (lib/arch/arm64.ts). A
// call entered by a tail jump shares its caller's frame: the frame is still
// scanned, for the caller. Pure: a stack of words in a Map, no ptrace.
import { linkRegisterAbi } from '../../lib/arch/arm64';
import type { RethookNode } from '../../lib/rethook';
import type { TraceeMemory } from '../../lib/tracee/memory';
import type { Registers } from '../../lib/tracee/registers';

const THUNK = 0x2f03e4;

function stack(words: Record<number, number>): { mem: TraceeMemory; at: (a: number) => number } {
  const m = new Map<number, bigint>(Object.entries(words).map(([a, v]) => [Number(a), BigInt(v)]));
  const mem = {
    read(addr: number | bigint, len: number): Buffer {
      const b = Buffer.alloc(len);
      for (let o = 0; o < len; o += 8) b.writeBigUInt64LE(m.get(Number(addr) + o) ?? 0n, o);
      return b;
    },
    readWord: (a: number) => Number(m.get(a) ?? 0n),
    writeWord: (a: number, v: number | bigint) => (m.set(a, BigInt(v)), true),
  } as unknown as TraceeMemory;
  return { mem, at: (a) => Number(m.get(a) ?? 0n) };
}

const node = (frame: number, realRet: number, chained: boolean): RethookNode =>
  ({ frame, realRet, chained, restored: false, mode: 'trampoline' }) as unknown as RethookNode;

const regs = (sp: number): Registers => ({ sp, words: new Array<bigint>(64).fill(0n) }) as unknown as Registers;

test('a tail-called function\'s saved return address (its caller\'s frame, shared) is put back for the unwinder, and hooked again after the catch', () => {
  // outer's frame at 0x640 (its frame record saved x30 at 0x608); hop entered at sp 0x600 and tail-jumped into
  // thrower (same sp), whose prologue saved x30 at 0x5d8 and whose stub left a copy at 0x5f0.
  const { mem, at } = stack({ 0x608: THUNK, 0x630: THUNK, 0x5d8: THUNK, 0x5f0: THUNK });
  const nodes = [node(0x640, 0x400be8, false), node(0x600, 0x400b9c, false), node(0x600, 0x400b9c, true)];
  linkRegisterAbi.unhijackForUnwind(regs(0x5a0), mem, nodes, THUNK);
  expect([0x5d8, 0x5f0, 0x608, 0x630].map(at)).toEqual([0x400b9c, 0x400b9c, 0x400be8, 0x400be8]);
  linkRegisterAbi.rehijackAfterCatch(mem, nodes, THUNK);
  expect([0x5d8, 0x5f0, 0x608, 0x630].map(at)).toEqual([THUNK, THUNK, THUNK, THUNK]);
});
