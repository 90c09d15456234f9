// Backtraces of a thread stopped in a handler (see Tracer.backtrace): by the
// call frame information of each object (.eh_frame / .debug_frame, through
// libdw in the addon), which needs no frame pointers; the frame-pointer walk
// below only when the unwinder cannot start at all.
import type { Backtrace, BacktraceFrame } from '../context';
import { RethookError } from '../errors';
import { hex, TraceeMemory } from '../tracee/memory';
import type { Proc, ThreadState } from './traced';
import type { Registers } from '../tracee/registers';
import type { Session } from './session';

const MAX_FRAMES = 256;

/** A number that changes when the process's objects change (dlopen, dlclose, exec): the unwinder reads its maps again. */
export function moduleGeneration(proc: Proc): number {
  let h = proc.modules.size;
  for (const m of proc.modules.values()) h = (Math.imul(h, 31) + (m.start / 4096) + m.inode) >>> 0;
  return h;
}

/**
 * The function, where it returns to, and on out, unwound by CFI from the
 * thread's registers: at the entry of the call, from its first instruction;
 * at its exit, from the real return address with the registers as the
 * function left them. Return addresses replaced by the trampoline are put
 * back (innermost call first) as the unwinder reads them. Frames carry
 * `source` (`kvstore.c:21`) when debug information has it.
 */
export function unwindBacktrace(s: Session, th: ThreadState, fnAddr: number, returnAddress: number): Backtrace {
  const proc = th.proc;
  const atEntry = s.current.trap === fnAddr;
  const outer = th.stack.nodes.filter((n) => !n.chained && n.mode === 'trampoline').reverse().map((n) => n.realRet);
  let u: ReturnType<Session['nat']['unwind']>;
  try {
    u = s.nat.unwind(proc.pid, th.tid, atEntry ? fnAddr : returnAddress, proc.pages.trampoline, outer, moduleGeneration(proc), MAX_FRAMES);
  } catch {
    return walkBacktrace(s.regs, proc.mem, th, fnAddr, returnAddress);
  }
  if (!u.frames.length) return walkBacktrace(s.regs, proc.mem, th, fnAddr, returnAddress);
  const frames: BacktraceFrame[] = u.frames.map(([pc, name, off, file, line]) => {
    const f: BacktraceFrame = { address: pc, symbol: frameSymbol(proc, pc, name, off) };
    if (file && line) f.source = `${file}:${line}`;
    return f;
  });
  if (!atEntry) {
    const f: BacktraceFrame = { address: fnAddr, symbol: proc.symbolize(fnAddr) };
    const m = [...proc.modules.values()].find((x) => x.contains(fnAddr));
    const src = m && frames[0]?.source ? s.nat.debugSourceLine(m.path, fnAddr - m.bias) : null;
    if (src) f.source = src;
    frames.unshift(f);
  }
  if (!u.reliable) {
    // An object the unwinder could not read (a path it cannot open): the
    // frame-pointer chain may still vouch for the stack.
    const fp = walkBacktrace(s.regs, proc.mem, th, fnAddr, returnAddress);
    if (fp.reliable) return fp;
  }
  return { frames, reliable: u.reliable };
}

/** `module!function+0xoff`: from the object's symbols when one contains pc, else the debug information's, else `module+0xoff`. */
function frameSymbol(proc: Proc, pc: number, name: string | null, off: number): string {
  if (proc.functionNameAt(pc) !== null || !name) return proc.symbolize(pc);
  const m = [...proc.modules.values()].find((x) => x.contains(pc));
  return `${m ? m.name + '!' : ''}${name}+${hex(off)}`;
}

/**
 * Without CFI: the function, its real return address, then the frame-pointer chain from
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

/** Tracer.backtrace: the call stack of the thread stopped in a handler now. */
export function backtraceOf(s: Session, tid: number): Backtrace {
  const th = s.table.thread(tid);
  const call = s.current.call;
  if (!th || !call || tid !== s.current.tid) throw new RethookError(`thread ${tid} is not stopped in a handler`, 'ESTATE');
  return unwindBacktrace(s, th, call[0], call[1]);
}
