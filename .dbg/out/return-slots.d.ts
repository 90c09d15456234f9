import { NativeTracer } from './native';
import type { RethookNode } from './rethook';
/** Write the real return addresses of `nodes` (outermost first) back into stopped thread `tid` of process `pid`. */
export declare function restoreReturnAddresses(nat: NativeTracer, regs: BigUint64Array, pid: number, tid: number, nodes: readonly RethookNode[], tramp: number): void;
/**
 * Before an unwinder walks the stack (x86-64): the real return addresses go
 * back in every slot that holds the trampoline; the nodes stay, marked
 * restored, until the catch.
 */
export declare function unhijackForUnwind(nat: NativeTracer, pid: number, nodes: readonly RethookNode[], tramp: number): void;
/** After a catch: the surviving restored nodes get the trampoline back. */
export declare function rehijackAfterCatch(nat: NativeTracer, pid: number, nodes: readonly RethookNode[], tramp: number): void;
