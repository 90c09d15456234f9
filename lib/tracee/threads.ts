// The one table of traced processes and threads. It alone adds and removes
// them, and keeps the addon's list (the threads it waits for) in step, so the
// three views (native, per process, all threads) can never disagree.
import { NativeTracer, StopKind } from '../native';
import { ShadowStack } from '../rethook';
import { Proc, ThreadState } from './process';

export class ThreadTable {
  private readonly procs = new Map<number, Proc>();
  private readonly threads = new Map<number, ThreadState>();

  constructor(private readonly nat: NativeTracer) {}

  thread(tid: number): ThreadState | undefined {
    return this.threads.get(tid);
  }

  process(pid: number): Proc | undefined {
    return this.procs.get(pid);
  }

  allThreads(): ThreadState[] {
    return [...this.threads.values()];
  }

  allProcesses(): Proc[] {
    return [...this.procs.values()];
  }

  get threadCount(): number {
    return this.threads.size;
  }

  /** A process to trace (its memory opened by the addon); add its threads next. */
  addProcess(pid: number): Proc {
    this.nat.addProcess(pid);
    const proc = new Proc(this.nat, pid);
    this.procs.set(pid, proc);
    return proc;
  }

  addThread(proc: Proc, tid: number): ThreadState {
    const th: ThreadState = { tid, proc, stack: new ShadowStack() };
    proc.threads.set(tid, th);
    this.threads.set(tid, th);
    this.nat.addThread(tid, proc.pid);
    return th;
  }

  /** The thread is gone or detached: no longer waited for. Its nodes are the caller's to flush first. */
  removeThread(tid: number): void {
    const th = this.threads.get(tid);
    if (th) th.proc.threads.delete(tid);
    this.threads.delete(tid);
    this.nat.removeThread(tid);
  }

  /** Forget a process and every thread of it. */
  dropProcess(proc: Proc): void {
    for (const tid of [...proc.threads.keys()]) this.removeThread(tid);
    this.procs.delete(proc.pid);
    this.nat.dropProcess(proc.pid);
  }

}
