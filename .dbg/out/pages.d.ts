import { NativeTracer } from './native';
export declare class InjectedPages {
    private readonly nat;
    private readonly pid;
    private regions;
    /** Address of the return trampoline (0 until the first region exists). */
    trampoline: number;
    /** Address of "syscall; trap" (0 until the first region exists). */
    stub: number;
    constructor(nat: NativeTracer, pid: number);
    /** Whether some region can hold a slot for code at `addr`. */
    hasRegionNear(addr: number): boolean;
    /**
     * Map a region near `near` using stopped thread `tid`. The first region is
     * mapped by writing the syscall stub at the thread's pc (only safe while the
     * process has a single thread: right after exec).
     */
    mapRegion(tid: number, near: number): void;
    /** A free slot within reach of `addr`, or 0 when every region near it is full or none exists. */
    takeSlot(addr: number): number;
    /** A forked child has the same pages at the same addresses. */
    copyFrom(other: InjectedPages): void;
    /** After exec the address space is new. */
    reset(): void;
    private reaches;
    private write;
}
