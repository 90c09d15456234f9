// /proc/PID parsing: memory maps and the auxiliary vector.
import * as fs from 'fs';
import { decodeName } from './text';

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  offset: number;
  /** The device of the file mapped (st_dev as Linux encodes it: what fs.Stats.dev says), 0 for none. */
  dev: number;
  inode: number;
  /** The path as the kernel shows it: `\012` in it decoded to a newline, ` (deleted)` kept. */
  path: string;
  /** The process whose maps these are (to open the file mapped through /proc/PID/map_files). */
  pid?: number;
}

/** major:minor as fs.Stats.dev gives a device (glibc's makedev). */
export function encodeDev(major: number, minor: number): number {
  return (major & 0xfff) * 0x100 + (minor & 0xff) + Math.floor(minor / 0x100) * 0x100000 + Math.floor(major / 0x1000) * 0x100000000000;
}

// start-end perms offset major:minor inode, then (padded) the path, which may hold spaces.
const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)(?: +(.*))?$/;

/** One line of /proc/PID/maps, or null. */
export function parseMapsLine(line: string): Mapping | null {
  const m = MAPS_LINE.exec(line);
  if (!m) return null;
  return {
    start: parseInt(m[1], 16),
    end: parseInt(m[2], 16),
    perms: m[3],
    offset: parseInt(m[4], 16),
    dev: encodeDev(parseInt(m[5], 16), parseInt(m[6], 16)),
    inode: Number(m[7]),
    // The kernel shows a newline in a path as \012 (and nothing else escaped).
    path: (m[8] ?? '').replace(/\\012/g, '\n'),
  };
}

export function readMaps(pid: number): Mapping[] {
  const out: Mapping[] = [];
  const raw = fs.readFileSync(`/proc/${pid}/maps`);
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(10, start);
    if (end < 0) end = raw.length;
    const m = parseMapsLine(decodeName(raw, start, end));
    if (m) {
      m.pid = pid;
      out.push(m);
    }
    start = end + 1;
  }
  return out;
}

/** Largest free gap within [lo, hi) of at least `size` bytes, nearest to `near`. */
export function findGap(maps: Mapping[], near: number, reach: number, size: number): number | null {
  const sorted = [...maps].sort((a, b) => a.start - b.start);
  const lo = Math.max(0x10000, near - reach);
  // The top of user space is the end of the highest user mapping (the stack:
  // 2^47 on x86-64, 2^48 on arm64), never a kernel-half one ([vsyscall]).
  const top = Math.max(0, ...sorted.filter((m) => m.start < 2 ** 63).map((m) => m.end));
  const hi = Math.min(top, near + reach);
  let best: number | null = null;
  let prevEnd = 0x10000;
  const consider = (gapStart: number, gapEnd: number) => {
    const s = Math.max(gapStart, lo);
    const e = Math.min(gapEnd, hi);
    if (e - s < size) return;
    // The candidate in [s, e-size] closest to near, page-aligned.
    let c = Math.min(Math.max(near, s), e - size);
    c = Math.floor(c / 4096) * 4096;
    if (c < s) c += 4096;
    if (c + size > e) return;
    if (best === null || Math.abs(c - near) < Math.abs(best - near)) best = c;
  };
  for (const m of sorted) {
    // Leave a page free between regions: stacks and heaps grow into gaps.
    if (m.start > prevEnd) consider(prevEnd + 0x100000, m.start - 0x100000);
    prevEnd = Math.max(prevEnd, m.end);
  }
  return best;
}

/** The command line of process `pid` ([] once it is gone). */
export function commandOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** The file process `pid` executes ('' once it is gone). */
export function exeOf(pid: number): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}
