// Pages injected into a tracee: the return trampoline, the syscall stub, and
// out-of-line slots for displaced instructions. A region is mapped r-x by an
// injected mmap, near the code it serves (slots branch back with a relative
// jump), and written through /proc/PID/mem.
import { arch, NativeTracer } from '../native';
import { findGap, readMaps } from '../symbols/procfs';
import { RethookError } from '../errors';

const REGION_SIZE = 64 * 1024;
const TRAMPOLINE_OFFSET = 0;
const STUB_OFFSET = 16;
const FIRST_SLOT = 64;
const PROT_READ = 1, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;

interface Region {
  base: number;
  next: number;
}

export class InjectedPages {
  private regions: Region[] = [];
  /** Address of the return trampoline (0 until the first region exists). */
  trampoline = 0;
  /** Address of "syscall; trap" (0 until the first region exists). */
  stub = 0;

  constructor(private readonly nat: NativeTracer, private readonly pid: number) {}

  /** Whether some region can hold a slot for code at `addr`. */
  hasRegionNear(addr: number): boolean {
    return this.regions.some((r) => this.reaches(r, addr));
  }

  /**
   * Map a region near `near` using stopped thread `tid`. The first region is
   * mapped by writing the syscall stub at the thread's pc (only safe while the
   * process has a single thread: right after exec).
   */
  mapRegion(tid: number, near: number): void {
    const gap = findGap(readMaps(this.pid), near, arch.slotReach - REGION_SIZE, REGION_SIZE);
    if (gap === null) throw new RethookError(`no free address space near 0x${near.toString(16)} for out-of-line slots`, 'EHOOK');
    const first = this.regions.length === 0;
    const args = [gap, REGION_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0];
    const res = this.nat.injectSyscall(tid, this.pid, first ? 0 : this.stub, first, arch.syscalls.mmap, args);
    const base = Number(BigInt.asIntN(64, res));
    if (base < 0 && base > -4096) throw new RethookError(`cannot map pages in process ${this.pid}: errno ${-base}`, 'EMEMORY');
    // MAP_FIXED_NOREPLACE gives exactly `gap` or an error; anything else means
    // another syscall ran in ours (or a kernel before 4.17 took it as a hint).
    if (base !== gap) throw new RethookError(`cannot map pages in process ${this.pid}: an injected mmap at 0x${gap.toString(16)} returned 0x${base.toString(16)}`, 'EMEMORY');
    const region: Region = { base, next: FIRST_SLOT };
    if (first) {
      this.write(base + TRAMPOLINE_OFFSET, arch.trampolineCode);
      this.write(base + STUB_OFFSET, arch.syscallStub);
      this.trampoline = base + TRAMPOLINE_OFFSET;
      this.nat.markTrampoline(this.pid, this.trampoline);
      this.stub = base + STUB_OFFSET;
    }
    this.regions.push(region);
  }

  /** A free slot within reach of `addr`, or 0 when every region near it is full or none exists. */
  takeSlot(addr: number): number {
    for (const r of this.regions) {
      if (this.reaches(r, addr) && r.next + arch.slotSize <= REGION_SIZE) {
        const s = r.base + r.next;
        r.next += arch.slotSize;
        return s;
      }
    }
    return 0;
  }

  /**
   * `size` bytes (16-aligned) within reach of `addr` (fast mode's stubs and
   * recorder), or 0 when every region near it is full or none exists.
   */
  takeBytes(addr: number, size: number): number {
    const len = (size + 15) & ~15;
    for (const r of this.regions) {
      r.next = (r.next + 15) & ~15;
      if (this.reaches(r, addr) && r.next + len <= REGION_SIZE) {
        const at = r.base + r.next;
        r.next += len;
        return at;
      }
    }
    return 0;
  }

  /** A forked child has the same pages at the same addresses. */
  copyFrom(other: InjectedPages): void {
    this.regions = other.regions.map((r) => ({ ...r }));
    this.trampoline = other.trampoline;
    this.stub = other.stub;
  }

  /** After exec the address space is new. */
  reset(): void {
    this.regions = [];
    this.trampoline = 0;
    this.stub = 0;
  }

  private reaches(r: Region, addr: number): boolean {
    return Math.abs(r.base - addr) + REGION_SIZE < arch.slotReach;
  }

  private write(addr: number, code: Buffer): void {
    if (!this.nat.write(this.pid, addr, code)) throw new RethookError(`cannot write injected code in process ${this.pid}`, 'EMEMORY');
  }
}
