// A tracee's memory, read and written through /proc/PID/mem by the addon.
// Reads that fail return null: an address the program can unmap at any time
// is never a reason to fail the tracer by itself.
import { RethookError } from '../errors';
import type { NativeTracer } from '../native';

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

export class TraceeMemory {
  constructor(private readonly nat: NativeTracer, readonly pid: number) {}

  read(addr: number | bigint, length: number): Buffer | null {
    return this.nat.read(this.pid, addr, length);
  }

  write(addr: number | bigint, data: Buffer): boolean {
    return this.nat.write(this.pid, addr, data);
  }

  /** A 64-bit word as a number (user-space addresses fit in 53 bits), or null. */
  readWord(addr: number): number | null {
    const v = this.nat.readU64(this.pid, addr);
    return v === null ? null : Number(v);
  }

  writeWord(addr: number, value: number | bigint): boolean {
    return this.nat.writeU64(this.pid, addr, value);
  }

  /** `length` bytes or a RethookError naming the address. */
  readExactly(addr: number | bigint, length: number): Buffer {
    const b = this.read(addr, length);
    if (!b) throw new RethookError(`cannot read ${length} bytes at ${hex(addr)} in process ${this.pid}`, 'EMEMORY');
    return b;
  }

  /** A NUL-terminated string of at most `max` bytes, read a page at a time. */
  readCString(addr: number | bigint, max = 4096): string {
    let a = BigInt(addr);
    const parts: Buffer[] = [];
    let total = 0;
    while (total < max) {
      // Never read across a page boundary in one go: the next page may be unmapped.
      const chunk = Math.min(max - total, 4096 - Number(a & 4095n));
      const b = this.read(a, chunk);
      if (!b) {
        if (total === 0) throw new RethookError(`cannot read a string at ${hex(addr)} in process ${this.pid}`, 'EMEMORY');
        break;
      }
      const z = b.indexOf(0);
      if (z >= 0) {
        parts.push(b.subarray(0, z));
        break;
      }
      parts.push(b);
      total += chunk;
      a += BigInt(chunk);
    }
    return Buffer.concat(parts).toString('utf8');
  }
}
