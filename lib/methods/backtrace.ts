// Tracer.backtrace: the call stack of the thread stopped in a handler now.
import type { Backtrace } from '../context';
import { walkBacktrace } from '../engine/backtrace';
import type { Session } from '../engine/session';
import { RethookError } from '../errors';

export function backtraceOf(s: Session, tid: number): Backtrace {
  const th = s.table.thread(tid);
  const call = s.current.call;
  if (!th || !call || tid !== s.current.tid) throw new RethookError(`thread ${tid} is not stopped in a handler`, 'ESTATE');
  return walkBacktrace(s.regs, th.proc.mem, th, call[0], call[1]);
}
