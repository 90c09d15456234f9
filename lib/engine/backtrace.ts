// Backtraces of a thread stopped in a handler (see Tracer.backtrace).
import type { Backtrace } from '../context';
import type { TraceeMemory } from '../tracee/memory';
import type { ThreadState } from '../tracee/process';
import type { Registers } from '../tracee/registers';

/**
 * The function, its real return address, then the frame-pointer chain from
 * the caller's frame ([fp] = caller's fp, [fp + 8] = return address), every
 * trampoline replaced by the real return address it stands for (the kernel's
 * rethook_find_ret_addr). `regs` are the thread's registers.
 */
export function walkBacktrace(regs: Registers, mem: TraceeMemory, th: ThreadState, fnAddr: number, returnAddress: number): Backtrace {
  const proc = th.proc;
  const tramp = proc.pages.trampoline;
  const outer = th.stack.nodes.filter((n) => !n.chained).reverse(); // innermost first
  let next = 0;
  const addrs = [fnAddr, returnAddress];
  let reliable = true;
  let fp = regs.framePointer;
  const sp = regs.sp;
  // prev starts just below sp: arm64 frame records sit at the bottom of their frame, so the first fp may equal sp.
  for (let prev = sp - 1; addrs.length < 256; ) {
    if (fp === 0) break; // the outermost frame (glibc's _start clears rbp)
    if (fp <= prev || fp % 8 !== 0 || (th.stack.range && !th.stack.onOwnStack(fp))) {
      reliable = false; // not a frame-pointer chain (or not one we can follow)
      break;
    }
    const pair = mem.read(fp, 16);
    if (!pair) {
      reliable = false;
      break;
    }
    let ret = Number(pair.readBigUInt64LE(8));
    if (ret === tramp) {
      const n = outer[next++];
      if (!n) {
        reliable = false;
        break;
      }
      ret = n.realRet;
    }
    if (ret === 0) break;
    if (!proc.inSomeModule(ret)) {
      reliable = false;
      break;
    }
    addrs.push(ret);
    // main's caller (the C library's start code) keeps no frame pointer: main's frame is the last one to follow.
    if (proc.functionNameAt(addrs[addrs.length - 2]) === 'main') break;
    prev = fp;
    fp = Number(pair.readBigUInt64LE(0));
  }
  return { frames: addrs.map((a) => ({ address: a, symbol: proc.symbolize(a) })), reliable };
}
