// /proc/PID parsing: memory maps and the auxiliary vector.
import * as fs from 'fs';

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  offset: number;
  inode: number;
  path: string;
}

export function readMaps(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: parseInt(m[1], 16),
      end: parseInt(m[2], 16),
      perms: m[3],
      offset: parseInt(m[4], 16),
      inode: Number(m[5]),
      path: m[6],
    });
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
