// What a handler's context may do, for the one thread stopped in it: read
// memory, change the return value, resolve a redirect target, walk the stack.
// Kept out of the public Tracer so that its internals are not API.
import type { ContextHost } from '../context';
import { RethookError } from '../errors';
import type { ThreadState } from './traced';
import { unwindBacktrace } from './backtrace';
import { resolveFunction } from './planting';
import type { Session } from './session';

export function contextHost(s: Session, th: ThreadState): ContextHost {
  const { proc, tid } = th;
  const stopped = () => {
    if (s.current.tid !== tid || s.status) throw new RethookError(`thread ${tid} is not stopped in a handler`, 'ESTATE');
  };
  return {
    stoppedAtCall: true,
    readMemory: (addr, length) => proc.mem.readExactly(addr, length),
    read: (addr, length) => proc.mem.read(addr, length),
    fpRegs: () => s.nat.fpArgs(tid),
    intRegs: () => s.regs.args(),
    readCString: (addr, max) => proc.mem.readCString(addr, max),
    setReturnValue(value) {
      stopped();
      s.regs.retval = value;
    },
    fpRetval() {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(s.nat.fpRetval(tid));
      return b.readDoubleLE(0);
    },
    setFpRetval(value) {
      stopped();
      const b = Buffer.alloc(8);
      b.writeDoubleLE(value);
      s.nat.setFpRetval(tid, b.readBigUInt64LE(0));
    },
    resolveFunction: (target) => resolveFunction(s, proc, target),
    backtrace(fnAddr, returnAddress) {
      stopped();
      return unwindBacktrace(s, th, fnAddr, returnAddress);
    },
  };
}
