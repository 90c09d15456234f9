// The tracer's round trip, measured at start-up. Every duration rethook
// measures runs from the moment the tracer lets a call go (after its entry
// stop) to the moment it sees the return: it includes a resume, the stop at
// the return and the tracer waking up to it. To know how much, we trace a
// program whose hooked function does nothing (`ret`): a tiny static ELF
// written here (no compiler needed; its machine code is the architecture's:
// arch/*.ts calibrationCode), calling it CALLS times. The median of
// those durations is the overhead; summaries subtract it from each duration.
// A caller pays more for each hooked call made inside it: the child's entry
// stop and its return's (the tracer's work at both is already left out:
// engine/return-hooks.ts). The same program measures that too: each of its
// calls of the empty function is made by a hooked caller that does nothing
// else, so the caller's duration less its child's is what one nested call
// adds (nestedNs); summaries take it off a call once per hooked call nested
// in it, at any depth.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { calibrationCode } from '../arch';
import { Tracer } from '../tracer';

const CALLS = 200;
const BASE = 0x400000;
const HEADERS = 64 + 56;

export const CALIBRATION_FUNCTION = 'rethook_calibrate_empty';
export const CALIBRATION_CALLER = 'rethook_calibrate_caller';

/** A static ELF executable: one loadable segment holding `text`, and a symbol table naming f and g. */
function elf(machine: number, text: Buffer, syms: { name: string; offset: number; size: number }[]): Buffer {
  const align8 = (n: number) => (n + 7) & ~7;
  const strtab = Buffer.from(`\0${syms.map((s) => s.name).join('\0')}\0`);
  const symtabSize = 24 * (1 + syms.length);
  const shstrtab = Buffer.from('\0.text\0.symtab\0.strtab\0.shstrtab\0');
  const symOff = align8(HEADERS + text.length);
  const strOff = symOff + symtabSize;
  const shstrOff = strOff + strtab.length;
  const shOff = align8(shstrOff + shstrtab.length);
  const b = Buffer.alloc(shOff + 5 * 64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(BASE + HEADERS), 24); // entry
  b.writeBigUInt64LE(64n, 32); // phoff
  b.writeBigUInt64LE(BigInt(shOff), 40); // shoff
  b.writeUInt16LE(64, 52); // ehsize
  b.writeUInt16LE(56, 54); // phentsize
  b.writeUInt16LE(1, 56); // phnum
  b.writeUInt16LE(64, 58); // shentsize
  b.writeUInt16LE(5, 60); // shnum
  b.writeUInt16LE(4, 62); // shstrndx
  const ph = 64;
  const loaded = HEADERS + text.length;
  b.writeUInt32LE(1, ph); // PT_LOAD
  b.writeUInt32LE(5, ph + 4); // R X
  b.writeBigUInt64LE(BigInt(BASE), ph + 16);
  b.writeBigUInt64LE(BigInt(BASE), ph + 24);
  b.writeBigUInt64LE(BigInt(loaded), ph + 32);
  b.writeBigUInt64LE(BigInt(loaded), ph + 40);
  b.writeBigUInt64LE(0x1000n, ph + 48);
  text.copy(b, HEADERS);
  // The symbols: [0] null, then each (GLOBAL FUNC in .text).
  let name = 1;
  syms.forEach((s, i) => {
    const o = symOff + 24 * (i + 1);
    b.writeUInt32LE(name, o);
    b.writeUInt8(0x12, o + 4);
    b.writeUInt16LE(1, o + 6);
    b.writeBigUInt64LE(BigInt(BASE + HEADERS + s.offset), o + 8);
    b.writeBigUInt64LE(BigInt(s.size), o + 16);
    name += Buffer.byteLength(s.name) + 1;
  });
  strtab.copy(b, strOff);
  shstrtab.copy(b, shstrOff);
  const sh = (i: number, name: number, type: number, flags: number, addr: number, off: number, size: number, link: number, info: number, align: number, entsize: number) => {
    const o = shOff + i * 64;
    b.writeUInt32LE(name, o);
    b.writeUInt32LE(type, o + 4);
    b.writeBigUInt64LE(BigInt(flags), o + 8);
    b.writeBigUInt64LE(BigInt(addr), o + 16);
    b.writeBigUInt64LE(BigInt(off), o + 24);
    b.writeBigUInt64LE(BigInt(size), o + 32);
    b.writeUInt32LE(link, o + 40);
    b.writeUInt32LE(info, o + 44);
    b.writeBigUInt64LE(BigInt(align), o + 48);
    b.writeBigUInt64LE(BigInt(entsize), o + 56);
  };
  sh(1, 1, 1, 6, BASE + HEADERS, HEADERS, text.length, 0, 0, 4, 0); // .text
  sh(2, 7, 2, 0, 0, symOff, symtabSize, 3, 1, 8, 24); // .symtab
  sh(3, 15, 3, 0, 0, strOff, strtab.length, 0, 0, 1, 0); // .strtab
  sh(4, 23, 3, 0, 0, shstrOff, shstrtab.length, 0, 0, 1, 0); // .shstrtab
  return b;
}

export interface Calibration {
  /** The median round trip, ns. */
  overheadNs: number;
  /** What a hooked call made inside a call adds to that call's duration, besides its own (median, ns). */
  nestedNs: number;
  /** All measured durations of the empty function, sorted (ns). */
  samples: number[];
}

/** Measure the tracer's round trip; null when it cannot be measured here (no temporary directory...). */
export async function calibrate(calls = CALLS): Promise<Calibration | null> {
  const c = calibrationCode(calls);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-calibrate-'));
  const file = path.join(dir, 'empty-calls');
  try {
    fs.writeFileSync(file, elf(c.machine, c.code, [
      { name: CALIBRATION_FUNCTION, offset: c.fOffset, size: c.fSize },
      { name: CALIBRATION_CALLER, offset: c.gOffset, size: c.gSize },
    ]), { mode: 0o755 });
    const devnull = fs.openSync('/dev/null', 'r+');
    const samples: number[] = [];
    const nested: number[] = [];
    try {
      const t = await Tracer.spawn(file, [], { stdio: [devnull, devnull, devnull], env: {} });
      try {
        t.hook([CALIBRATION_FUNCTION, CALIBRATION_CALLER], {
          onExit: (ctx) => {
            const d = Number(ctx.durationNs);
            // The caller's return comes right after its one child's: what it took beyond the child's.
            if (ctx.function === CALIBRATION_CALLER) nested.push(d - samples[samples.length - 1]);
            else samples.push(d);
          },
        });
      } catch (e) {
        t.kill();
        await t.run().catch(() => undefined);
        throw e;
      }
      const st = await t.run();
      if (st.code !== 0 || samples.length !== calls || nested.length !== calls) return null;
    } finally {
      fs.closeSync(devnull);
    }
    samples.sort((a, b) => a - b);
    nested.sort((a, b) => a - b);
    return { overheadNs: samples[Math.floor(samples.length / 2)], nestedNs: Math.max(0, nested[Math.floor(nested.length / 2)]), samples };
  } catch (e) {
    if (process.env.RETHOOK_DEBUG_CALIBRATE) console.error(e);
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
