import type { Backtrace } from './context';
import { NativeTracer } from './native';
import type { ThreadState } from './traced-process';
/**
 * The function, its real return address, then the frame-pointer chain from
 * the caller's frame ([fp] = caller's fp, [fp + 8] = return address), every
 * trampoline replaced by the real return address it stands for (the kernel's
 * rethook_find_ret_addr). `regs` are the thread's registers.
 */
export declare function walkBacktrace(nat: NativeTracer, regs: BigUint64Array, th: ThreadState, fnAddr: number, returnAddress: number): Backtrace;
