// Functions' extents from .eh_frame_hdr and the FDEs (lib/symbols/eh-frame.ts),
// on real objects checked against readelf's FDE list, and on damaged bytes,
// which end the parse without an exception.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import { codeRanges, rangeAt } from '../../lib/symbols/eh-frame';
import { readElf } from '../../lib/symbols/elf';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { buildOnly, OUT } = require('../build-fixtures');

beforeAll(() => buildOnly(['calls.O2']));

/** An object's file read as if loaded at its link addresses (bias 0): vaddr -> file offset by its PT_LOAD segments. */
function asLoaded(file: string) {
  const bytes = fs.readFileSync(file);
  const ph = execFileSync('readelf', ['-W', '-l', file], { encoding: 'utf8' });
  const loads = [...ph.matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/gm)].map((m) => ({
    offset: parseInt(m[1], 16), vaddr: parseInt(m[2], 16), filesz: parseInt(m[3], 16), memsz: parseInt(m[4], 16),
  }));
  const read = (addr: number, len: number): Buffer | null => {
    const s = loads.find((l) => addr >= l.vaddr && addr + len <= l.vaddr + l.filesz);
    return s ? bytes.subarray(s.offset + addr - s.vaddr, s.offset + addr - s.vaddr + len) : null;
  };
  const segmentEnd = (addr: number) => {
    const s = loads.find((l) => addr >= l.vaddr && addr < l.vaddr + l.filesz);
    return s ? s.vaddr + s.filesz : null;
  };
  return { read, segmentEnd };
}

/** readelf's FDEs: [start, end) each. */
function readelfFdes(file: string): [number, number][] {
  // Its exit status is not 0 when it warns (a debug link it cannot follow): the listing is there all the same.
  const out = spawnSync('readelf', ['-W', '--debug-dump=frames', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).stdout;
  return [...out.matchAll(/ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/g)].map((m): [number, number] => [parseInt(m[1], 16), parseInt(m[2], 16)]).sort((a, b) => a[0] - b[0]);
}

describe('function extents from the call frame information', () => {
  test.each([
    ['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6'],
    ['libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6'],
    ['the calls fixture', `${OUT}/calls.O2`],
  ].filter(([, f]) => fs.existsSync(f)))('%s: every FDE that .eh_frame_hdr indexes, as readelf lists them', (_name, file) => {
    const elf = readElf(file);
    expect(elf.ehFrameHdr).toBeDefined();
    const { read, segmentEnd } = asLoaded(file);
    const ranges = codeRanges(read, { addr: elf.ehFrameHdr!.vaddr, size: elf.ehFrameHdr!.size }, segmentEnd, 0);
    const fdes = readelfFdes(file).filter(([s, e]) => e > s);
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.map((r) => [r.start, r.end])).toEqual(fdes);
    const mid = ranges[ranges.length >> 1];
    expect(rangeAt(ranges, mid.start)).toEqual(mid);
    expect(rangeAt(ranges, mid.start + 1)).toBeNull();
  });

  test('damaged bytes end the parse with what was read, never an exception', () => {
    const file = `${OUT}/calls.O2`;
    const elf = readElf(file);
    const { read, segmentEnd } = asLoaded(file);
    const hdr = { addr: elf.ehFrameHdr!.vaddr, size: elf.ehFrameHdr!.size };
    const good = read(hdr.addr, hdr.size)!;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let i = 0; i < 300; i++) {
      const bad = Buffer.from(good.subarray(0, Math.max(4, rand() % good.length)));
      for (let k = 0; k < 1 + (rand() % 8); k++) bad[rand() % bad.length] = rand() & 0xff;
      // .eh_frame as it is, or garbage.
      const mangled = (addr: number, len: number) => (addr === hdr.addr ? bad : i % 2 ? read(addr, len) : Buffer.alloc(Math.min(len, 4096), rand() & 0xff));
      expect(() => codeRanges(mangled, { addr: hdr.addr, size: bad.length }, segmentEnd, 0)).not.toThrow();
    }
    expect(codeRanges(() => null, hdr, segmentEnd, 0)).toEqual([]);
  });
});
