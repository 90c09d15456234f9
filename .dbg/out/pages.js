"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.InjectedPages = void 0;
// Pages injected into a tracee: the return trampoline, the syscall stub, and
// out-of-line slots for displaced instructions. A region is mapped r-x by an
// injected mmap, near the code it serves (slots branch back with a relative
// jump), and written through /proc/PID/mem.
const native_1 = require("./native");
const procfs_1 = require("./procfs");
const errors_1 = require("./errors");
const REGION_SIZE = 64 * 1024;
const TRAMPOLINE_OFFSET = 0;
const STUB_OFFSET = 16;
const FIRST_SLOT = 64;
const PROT_READ = 1, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
class InjectedPages {
    nat;
    pid;
    regions = [];
    /** Address of the return trampoline (0 until the first region exists). */
    trampoline = 0;
    /** Address of "syscall; trap" (0 until the first region exists). */
    stub = 0;
    constructor(nat, pid) {
        this.nat = nat;
        this.pid = pid;
    }
    /** Whether some region can hold a slot for code at `addr`. */
    hasRegionNear(addr) {
        return this.regions.some((r) => this.reaches(r, addr));
    }
    /**
     * Map a region near `near` using stopped thread `tid`. The first region is
     * mapped by writing the syscall stub at the thread's pc (only safe while the
     * process has a single thread: right after exec).
     */
    mapRegion(tid, near) {
        const gap = (0, procfs_1.findGap)((0, procfs_1.readMaps)(this.pid), near, native_1.arch.slotReach - REGION_SIZE, REGION_SIZE);
        if (gap === null)
            throw new errors_1.RethookError(`no free address space near 0x${near.toString(16)} for out-of-line slots`);
        const first = this.regions.length === 0;
        const args = [gap, REGION_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0];
        const res = this.nat.injectSyscall(tid, this.pid, first ? 0 : this.stub, first, native_1.arch.syscalls.mmap, args);
        const base = Number(BigInt.asIntN(64, res));
        if (base < 0 && base > -4096)
            throw new errors_1.RethookError(`cannot map pages in process ${this.pid}: errno ${-base}`);
        const region = { base, next: FIRST_SLOT };
        if (first) {
            this.write(base + TRAMPOLINE_OFFSET, native_1.arch.trampolineCode);
            this.write(base + STUB_OFFSET, native_1.arch.syscallStub);
            this.trampoline = base + TRAMPOLINE_OFFSET;
            this.nat.markTrampoline(this.trampoline);
            this.stub = base + STUB_OFFSET;
        }
        this.regions.push(region);
    }
    /** A free slot within reach of `addr`, or 0 when every region near it is full or none exists. */
    takeSlot(addr) {
        for (const r of this.regions) {
            if (this.reaches(r, addr) && r.next + native_1.arch.slotSize <= REGION_SIZE) {
                const s = r.base + r.next;
                r.next += native_1.arch.slotSize;
                return s;
            }
        }
        return 0;
    }
    /** A forked child has the same pages at the same addresses. */
    copyFrom(other) {
        this.regions = other.regions.map((r) => ({ ...r }));
        this.trampoline = other.trampoline;
        this.stub = other.stub;
    }
    /** After exec the address space is new. */
    reset() {
        this.regions = [];
        this.trampoline = 0;
        this.stub = 0;
    }
    reaches(r, addr) {
        return Math.abs(r.base - addr) + REGION_SIZE < native_1.arch.slotReach;
    }
    write(addr, code) {
        if (!this.nat.write(this.pid, addr, code))
            throw new errors_1.RethookError(`cannot write injected code in process ${this.pid}`);
    }
}
exports.InjectedPages = InjectedPages;
