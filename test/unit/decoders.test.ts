// The instruction decoders as byte tables (after frida-gum's relocator tests):
// test/unit/decoders/harness.cc links the pure x86-64 and arm64 decoders into
// one host program, so both are tested on either host. Every expected value
// below is worked out from the instruction's encoding, not read back from the
// decoder.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'test', 'fixtures', 'bin');
const HARNESS = path.join(BIN, 'decoder-harness');

interface Plan {
  kind: 'emulate' | 'out-of-line' | 'refused';
  length: number;
  needsSlot: boolean;
  reason: string;
  emulation?: Record<string, unknown>;
  slot?: string;
  slotError?: string;
}

beforeAll(() => {
  fs.mkdirSync(BIN, { recursive: true });
  execFileSync('g++', [
    '-std=c++20', '-O1', '-Wall', '-Wextra', '-o', HARNESS,
    path.join(ROOT, 'test', 'unit', 'decoders', 'harness.cc'),
    path.join(ROOT, 'native', 'arch', 'x86_64_decode.cc'),
    path.join(ROOT, 'native', 'arch', 'arm64_decode.cc'),
  ], { stdio: 'inherit' });
}, 120000);

function plan(arch: 'x86_64' | 'arm64', addr: number, bytes: string, slot?: number): Plan {
  const line = `${arch} ${addr.toString(16)} ${bytes}${slot === undefined ? '' : ` ${slot.toString(16)}`}\n`;
  return JSON.parse(execFileSync(HARNESS, { input: line, encoding: 'utf8' }).trim());
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** x86-64: bytes as written in the instruction stream. */
const x86 = (bytes: string, slot?: number, addr = 0x401000): Plan => plan('x86_64', addr, bytes.replace(/ /g, ''), slot);

/** arm64: one instruction word, stored little-endian. */
function a64(word: number, slot?: number, addr = 0x400000): Plan {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(word >>> 0);
  return plan('arm64', addr, b.toString('hex'), slot);
}

/** Little-endian bytes of arm64 words, as a hex string. */
function words(...ws: number[]): string {
  const b = Buffer.alloc(4 * ws.length);
  ws.forEach((w, i) => b.writeUInt32LE(w >>> 0, 4 * i));
  return b.toString('hex');
}

describe('the x86-64 decoder', () => {
  test('endbr64 and nop are emulated by advancing rip', () => {
    expect(x86('f3 0f 1e fa')).toMatchObject({ kind: 'emulate', length: 4, needsSlot: false, emulation: { op: 'advance' } });
    expect(x86('90')).toMatchObject({ kind: 'emulate', length: 1, emulation: { op: 'advance' } });
    expect(x86('0f 1f 44 00 00')).toMatchObject({ kind: 'emulate', length: 5, emulation: { op: 'advance' } });
  });

  test('push rbp and push r12 (REX.B) are emulated with the encoded register number', () => {
    expect(x86('55')).toMatchObject({ kind: 'emulate', length: 1, emulation: { op: 'push', reg: 5 } });
    expect(x86('41 54')).toMatchObject({ kind: 'emulate', length: 2, emulation: { op: 'push', reg: 12 } });
  });

  test('mov %rsp,%rbp is emulated in both of its encodings', () => {
    expect(x86('48 89 e5')).toMatchObject({ kind: 'emulate', length: 3, emulation: { op: 'mov-rsp-rbp' } });
    expect(x86('48 8b ec')).toMatchObject({ kind: 'emulate', length: 3, emulation: { op: 'mov-rsp-rbp' } });
  });

  test('jmp rel8 and rel32 go to the next instruction plus the displacement', () => {
    expect(x86('eb 10')).toMatchObject({ kind: 'emulate', length: 2, emulation: { op: 'jmp', target: hex(0x401002 + 0x10) } });
    expect(x86('eb fe')).toMatchObject({ emulation: { op: 'jmp', target: hex(0x401000) } });
    expect(x86('e9 00 01 00 00')).toMatchObject({ length: 5, emulation: { op: 'jmp', target: hex(0x401005 + 0x100) } });
    expect(x86('e9 fb ff ff ff')).toMatchObject({ length: 5, emulation: { op: 'jmp', target: hex(0x401000) } });
  });

  test('call rel32 is emulated with its absolute target', () => {
    expect(x86('e8 10 00 00 00')).toMatchObject({ kind: 'emulate', length: 5, emulation: { op: 'call', target: hex(0x401015) } });
  });

  test('jcc rel8 and rel32 keep their condition code and target', () => {
    expect(x86('74 05')).toMatchObject({ kind: 'emulate', length: 2, emulation: { op: 'jcc', cond: 4, target: hex(0x401007) } });
    expect(x86('7f f0')).toMatchObject({ length: 2, emulation: { op: 'jcc', cond: 15, target: hex(0x401002 - 16) } });
    expect(x86('0f 85 00 02 00 00')).toMatchObject({ length: 6, emulation: { op: 'jcc', cond: 5, target: hex(0x401006 + 0x200) } });
  });

  test('ret is emulated', () => {
    expect(x86('c3')).toMatchObject({ kind: 'emulate', length: 1, emulation: { op: 'ret' } });
  });

  test('a RIP-relative mov runs out of line with its displacement re-based to the slot and a jmp back', () => {
    // mov 0x10(%rip),%rax at 0x401000 reads 0x401017. From a slot at 0x402000
    // the displacement is 0x401017 - 0x402007 = -0xff0; the jmp back at
    // 0x402007 ends at 0x40200c and goes to 0x401007: rel32 -0x1005.
    const p = x86('48 8b 05 10 00 00 00', 0x402000);
    expect(p).toMatchObject({ kind: 'out-of-line', length: 7, needsSlot: true });
    expect(p.slot).toBe('488b05' + '10f0ffff' + 'e9' + 'fbefffff');
  });

  test('a RIP-relative operand that a far slot cannot reach is refused at slot time', () => {
    const p = x86('48 8b 05 10 00 00 00', 0x401000 + 0x100000000);
    expect(p.slotError).toMatch(/RIP-relative operand out of reach/);
  });

  test('VEX instructions run out of line, a RIP-relative one re-based', () => {
    // vmovdqa %xmm1,%xmm0 (VEX.128.66.0F 6F /r): 4 bytes, copied as is.
    expect(x86('c5 f9 6f c1', 0x402000)).toMatchObject({ kind: 'out-of-line', length: 4, slot: 'c5f96fc1' + 'e9' + 'fbefffff' });
    // vbroadcastss 0x100(%rip),%xmm0 (VEX.128.66.0F38.W0 18 /r): 9 bytes,
    // displacement 0x100 - 0x1000 from a slot 0x1000 further on.
    expect(x86('c4 e2 79 18 05 00 01 00 00', 0x402000)).toMatchObject({
      kind: 'out-of-line', length: 9, slot: 'c4e2791805' + '00f1ffff' + 'e9' + 'fbefffff',
    });
  });

  test('loop and jrcxz are refused', () => {
    expect(x86('e2 fe')).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/relative branch/) });
    expect(x86('e3 10')).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/relative branch/) });
  });

  test('undecodable bytes are refused with a reason', () => {
    expect(x86('06')).toMatchObject({ kind: 'refused', reason: 'opcode invalid in 64-bit mode' });
    expect(x86('e8 00')).toMatchObject({ kind: 'refused', reason: 'truncated instruction' });
  });
});

describe('the arm64 decoder', () => {
  test('nop and bti c are emulated by advancing pc', () => {
    expect(a64(0xd503201f)).toMatchObject({ kind: 'emulate', length: 4, needsSlot: false, emulation: { op: 'advance' } });
    expect(a64(0xd503245f)).toMatchObject({ kind: 'emulate', length: 4, emulation: { op: 'advance' } });
  });

  test('stp x29, x30, [sp, #-16]! decodes its pre-index fields', () => {
    expect(a64(0xa9bf7bfd)).toMatchObject({
      kind: 'emulate', emulation: { op: 'stp', rt: 29, rt2: 30, rn: 31, imm: -16, index: 'pre' },
    });
  });

  test('stp with an offset and with post-index decode their addressing', () => {
    // stp x19, x20, [sp, #16]: 0xa9000000 | imm7 2 << 15 | 20 << 10 | 31 << 5 | 19
    expect(a64(0xa90153f3)).toMatchObject({ emulation: { op: 'stp', rt: 19, rt2: 20, rn: 31, imm: 16, index: 'offset' } });
    // stp x29, x30, [sp], #16: 0xa8800000 | 2 << 15 | 30 << 10 | 31 << 5 | 29
    expect(a64(0xa8817bfd)).toMatchObject({ emulation: { op: 'stp', rt: 29, rt2: 30, rn: 31, imm: 16, index: 'post' } });
  });

  test('add and sub immediate (mov x29, sp among them) are emulated', () => {
    expect(a64(0x910003fd)).toMatchObject({ kind: 'emulate', emulation: { op: 'add-sub-imm', rd: 29, rn: 31, imm: 0, sf: true } });
    // sub sp, sp, #0x20
    expect(a64(0xd10083ff)).toMatchObject({ emulation: { op: 'add-sub-imm', rd: 31, rn: 31, imm: -0x20, sf: true } });
    // add x0, x1, #1, lsl #12
    expect(a64(0x91400420)).toMatchObject({ emulation: { op: 'add-sub-imm', rd: 0, rn: 1, imm: 4096, sf: true } });
    // add w0, w1, #4
    expect(a64(0x11001020)).toMatchObject({ emulation: { op: 'add-sub-imm', rd: 0, rn: 1, imm: 4, sf: false } });
  });

  test('adr sets its register to pc plus the 21-bit offset', () => {
    // adr x0, #+0x10: immhi 4, immlo 0
    expect(a64(0x10000080)).toMatchObject({ kind: 'emulate', emulation: { op: 'set-reg', rd: 0, target: hex(0x400010) } });
    // adr x1, #-4: immhi 0x7ffff, immlo 0
    expect(a64(0x10ffffe1)).toMatchObject({ emulation: { op: 'set-reg', rd: 1, target: hex(0x3ffffc) } });
    // adr x2, #+3: immlo 3
    expect(a64(0x70000002)).toMatchObject({ emulation: { op: 'set-reg', rd: 2, target: hex(0x400003) } });
  });

  test('adrp sets its register to pc\'s page plus whole pages', () => {
    // adrp x0, +2 pages, at 0x400abc: 0x400000 + 0x2000
    expect(a64(0xd0000000, undefined, 0x400abc)).toMatchObject({ emulation: { op: 'set-reg', rd: 0, target: hex(0x402000) } });
    // adrp x3, -1 page: immlo 3, immhi 0x7ffff
    expect(a64(0xf0ffffe3, undefined, 0x400abc)).toMatchObject({ emulation: { op: 'set-reg', rd: 3, target: hex(0x3ff000) } });
  });

  test('ldr literal into W, X and ldrsw is emulated with the literal\'s address', () => {
    // ldr w1, #+8
    expect(a64(0x18000041)).toMatchObject({ kind: 'emulate', emulation: { op: 'ldr-literal', rt: 1, literal: 'w', target: hex(0x400008) } });
    // ldr x2, #-8
    expect(a64(0x58ffffc2)).toMatchObject({ emulation: { op: 'ldr-literal', rt: 2, literal: 'x', target: hex(0x3ffff8) } });
    // ldrsw x3, #+0x100
    expect(a64(0x98000803)).toMatchObject({ emulation: { op: 'ldr-literal', rt: 3, literal: 'sw', target: hex(0x400100) } });
  });

  test('ldr literal into d0 runs out of line as adrp/add/ldr through x16, then b back', () => {
    // ldr d0, #+0x10 reads 0x400010. Slot at 0x500000: adrp x16 is -0x100
    // pages, add x16, x16, #0x10, ldr d0, [x16], b from 0x50000c to 0x400004
    // (-0x100008 bytes: imm26 = -0x40002 & 0x3ffffff = 0x3fbfffe).
    const p = a64(0x5c000080, 0x500000);
    expect(p).toMatchObject({ kind: 'out-of-line', needsSlot: true });
    expect(p.slot).toBe(words(0x90fff810, 0x91004210, 0xfd400200, 0x17fbfffe));
  });

  test('b and bl go to pc plus the 26-bit offset', () => {
    expect(a64(0x14000040)).toMatchObject({ kind: 'emulate', emulation: { op: 'b', target: hex(0x400100) } });
    expect(a64(0x17ffffff)).toMatchObject({ emulation: { op: 'b', target: hex(0x3ffffc) } });
    expect(a64(0x94000002)).toMatchObject({ emulation: { op: 'bl', target: hex(0x400008) } });
  });

  test('b.cond keeps its condition and target', () => {
    // b.ne #+0x20
    expect(a64(0x54000101)).toMatchObject({ kind: 'emulate', emulation: { op: 'b-cond', cond: 1, target: hex(0x400020) } });
    // b.ge #-8
    expect(a64(0x54ffffca)).toMatchObject({ emulation: { op: 'b-cond', cond: 10, target: hex(0x3ffff8) } });
  });

  test('cbz and cbnz keep their register, width and sense', () => {
    // cbz x0, #+0x10
    expect(a64(0xb4000080)).toMatchObject({ emulation: { op: 'cbz', rt: 0, sf: true, nonzero: false, target: hex(0x400010) } });
    // cbnz w5, #-4
    expect(a64(0x35ffffe5)).toMatchObject({ emulation: { op: 'cbz', rt: 5, sf: false, nonzero: true, target: hex(0x3ffffc) } });
  });

  test('tbz and tbnz keep their register, bit number (b5:b40) and sense', () => {
    // tbz w3, #3, #+0x10
    expect(a64(0x36180083)).toMatchObject({ emulation: { op: 'tbz', rt: 3, bit: 3, nonzero: false, target: hex(0x400010) } });
    // tbnz x7, #40, #+8
    expect(a64(0xb7400047)).toMatchObject({ emulation: { op: 'tbz', rt: 7, bit: 40, nonzero: true, target: hex(0x400008) } });
  });

  test('paciasp runs out of line and its slot ends with a b back', () => {
    // Slot at 0x400100: the instruction, then b from 0x400104 to 0x400004 (-0x100).
    const p = a64(0xd503233f, 0x400100);
    expect(p).toMatchObject({ kind: 'out-of-line', length: 4, needsSlot: true });
    expect(p.slot).toBe(words(0xd503233f, 0x17ffffc0));
    // 252 MiB away: beyond b's +-128 MiB.
    expect(a64(0xd503233f, 0x10000000).slotError).toMatch(/out of reach/);
  });

  test('ldxr is refused (a trap between it and its store breaks the exclusive monitor)', () => {
    expect(a64(0xc85f7c20)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/exclusive/) });
  });

  test('brk and udf are refused', () => {
    expect(a64(0xd4200000)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/breakpoint/) });
    expect(a64(0x00000000)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/undefined/) });
  });

  test('a misaligned address is refused', () => {
    expect(a64(0xd503201f, undefined, 0x400002)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/aligned/) });
  });
});
