// /proc/PID/maps parsing and the search for a free gap near an address, on
// synthetic mapping lists (and on this process for readMaps).
import * as fs from 'fs';
import { findGap, Mapping, readMaps } from '../../lib/symbols/procfs';

const PAGE = 4096;
const MiB = 0x100000;

function map(start: number, end: number, path = ''): Mapping {
  return { start, end, perms: 'r-xp', offset: 0, dev: 0, inode: path.startsWith('/') ? 1 : 0, path };
}

/** [r, r+size) overlaps no mapping. */
function isFree(maps: Mapping[], r: number, size: number): boolean {
  return maps.every((m) => r + size <= m.start || r >= m.end);
}

describe('findGap', () => {
  const exe = map(0x55_0000_0000, 0x55_0010_0000, '/usr/bin/prog');
  const heap = map(0x55_0100_0000, 0x55_0200_0000, '[heap]');
  const libc = map(0x7f_0000_0000, 0x7f_0020_0000, '/usr/lib/libc.so.6');
  const stack = map(0x7fff_f000_0000, 0x7fff_f002_1000, '[stack]');
  const vsyscall = map(0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000, '[vsyscall]');
  const maps = [exe, heap, libc, stack, vsyscall];

  test('inside a wide gap the address asked for is the answer', () => {
    const near = 0x60_0000_0000;
    expect(findGap(maps, near, 2 ** 31, PAGE)).toBe(near);
  });

  test('an address not on a page boundary gives a page-aligned free address within a page of it', () => {
    const near = 0x60_0000_0123;
    const r = findGap(maps, near, 2 ** 31, 2 * PAGE)!;
    expect(r % PAGE).toBe(0);
    expect(Math.abs(r - near)).toBeLessThan(PAGE);
    expect(isFree(maps, r, 2 * PAGE)).toBe(true);
  });

  test('next to a mapping it picks the nearest free place, in the nearest gap, clear of the mapping', () => {
    // Near the end of the executable: the gap between it and the heap is nearer than the one below it.
    const near = exe.end;
    const r = findGap(maps, near, 2 ** 31, PAGE)!;
    expect(r % PAGE).toBe(0);
    expect(r).toBeGreaterThanOrEqual(exe.end);
    expect(r + PAGE).toBeLessThanOrEqual(heap.start);
    expect(r - exe.end).toBeLessThanOrEqual(MiB); // nearest: at most the guard gap away
    expect(isFree(maps, r, PAGE)).toBe(true);
    // Near the start of the executable, the gap below it is nearer.
    const below = findGap(maps, exe.start, 2 ** 31, PAGE)!;
    expect(below + PAGE).toBeLessThanOrEqual(exe.start);
    expect(exe.start - (below + PAGE)).toBeLessThanOrEqual(MiB);
  });

  test('the result lies within reach of the address asked for and is free', () => {
    for (const [near, reach, size] of [
      [libc.start, 2 ** 31, PAGE],
      [libc.end, 2 ** 24, 16 * PAGE],
      [heap.end, 2 ** 26, MiB],
      [exe.start, 2 ** 31, PAGE],
    ]) {
      const r = findGap(maps, near, reach, size);
      expect(r).not.toBeNull();
      expect(r!).toBeGreaterThanOrEqual(near - reach);
      expect(r! + size).toBeLessThanOrEqual(near + reach);
      expect(isFree(maps, r!, size)).toBe(true);
    }
  });

  test('none when every gap within reach is too small', () => {
    // Mappings 64 KiB apart around `near`; the wide gaps are out of reach.
    const tight = [map(0x4000_0000, 0x4001_0000), map(0x4002_0000, 0x4003_0000), map(0x4004_0000, 0x4005_0000), map(0x7000_0000_0000, 0x7000_0001_0000)];
    expect(findGap(tight, 0x4002_0000, 0x30000, PAGE)).toBeNull();
    // With more reach, a free place beyond them.
    const r = findGap(tight, 0x4002_0000, 2 ** 31, PAGE)!;
    expect(r).not.toBeNull();
    expect(isFree(tight, r, PAGE)).toBe(true);
  });

  test('none when the address space is full', () => {
    const full = [map(0x10000, 0x5000_0000), map(0x5000_0000, 0x7fff_f000_0000), map(0x7fff_f000_0000, 0x7fff_f002_1000, '[stack]')];
    expect(findGap(full, 0x5000_0000, 2 ** 31, PAGE)).toBeNull();
  });

  test('none when the size asked for is larger than any gap', () => {
    const small = [map(0x10000, 0x4000_0000), map(0x4100_0000, 0x7fff_f002_1000)];
    expect(findGap(small, 0x4000_0000, 2 ** 40, 0x100_0000)).toBeNull();
  });

  test('never above the highest user mapping (a kernel-half [vsyscall] does not count)', () => {
    const r = findGap(maps, stack.end, 2 ** 40, PAGE)!;
    expect(r).not.toBeNull();
    expect(r + PAGE).toBeLessThanOrEqual(stack.start);
    expect(isFree(maps, r, PAGE)).toBe(true);
  });

  test('never below the first 64 KiB', () => {
    const low = [map(0x800_0000, 0x900_0000), map(0x7fff_f000_0000, 0x7fff_f002_1000)];
    const r = findGap(low, 0, 2 ** 31, PAGE)!;
    expect(r).toBeGreaterThanOrEqual(0x10000);
    expect(isFree(low, r, PAGE)).toBe(true);
  });

  test('the order of the mapping list does not matter', () => {
    const shuffled = [stack, exe, vsyscall, libc, heap];
    for (const near of [exe.end, libc.start, heap.end]) expect(findGap(shuffled, near, 2 ** 31, PAGE)).toBe(findGap(maps, near, 2 ** 31, PAGE));
  });
});

describe('readMaps', () => {
  test("parses this process's maps: every line, with the executable and the stack", () => {
    const lines = fs.readFileSync('/proc/self/maps', 'latin1').trimEnd().split('\n');
    const maps = readMaps(process.pid);
    // Same count give or take the mappings that came and went between the two reads.
    expect(Math.abs(maps.length - lines.length)).toBeLessThan(lines.length / 10 + 5);
    for (const m of maps) {
      expect(m.start).toBeLessThan(m.end);
      expect(m.perms).toMatch(/^[r-][w-][x-][ps]$/);
    }
    const exe = fs.realpathSync(process.execPath);
    const text = maps.find((m) => m.path === exe && m.perms.includes('x'));
    expect(text).toBeDefined();
    expect(text!.inode).toBe(fs.statSync(exe).ino);
    expect(maps.some((m) => m.path === '[stack]')).toBe(true);
    // The first line, parsed by hand.
    const [range, perms, offset, , inode] = lines[0].split(/\s+/);
    const first = maps.find((m) => m.start === parseInt(range.split('-')[0], 16))!;
    expect(first).toMatchObject({ end: parseInt(range.split('-')[1], 16), perms, offset: parseInt(offset, 16), inode: Number(inode) });
  });
});
