// The one table of traced processes and threads. It alone adds and removes
// them, and keeps the addon's list (the threads it waits for) in step, so the
// three views (native, per process, all threads) can never disagree.
import { NativeTracer, StopKind } from '../native';
import { ShadowStack } from '../rethook';
import { Proc, ThreadState } from './process';

export class ThreadTable<H = unknown> {
  private readonly procs = new Map<number, Proc<H>>();
  private readonly threads = new Map<number, ThreadState<H>>();

  constructor(private readonly nat: NativeTracer) {}

  thread(tid: number): ThreadState<H> | undefined {
    return this.threads.get(tid);
  }

  process(pid: number): Proc<H> | undefined {
    return this.procs.get(pid);
  }

  allThreads(): ThreadState<H>[] {
    return [...this.threads.values()];
  }

  allProcesses(): Proc<H>[] {
    return [...this.procs.values()];
  }

  get threadCount(): number {
    return this.threads.size;
  }

  /** A process to trace (its memory opened by the addon); add its threads next. */
  addProcess(pid: number): Proc<H> {
    this.nat.addProcess(pid);
    const proc = new Proc<H>(this.nat, pid);
    this.procs.set(pid, proc);
    return proc;
  }

  addThread(proc: Proc<H>, tid: number): ThreadState<H> {
    const th: ThreadState<H> = { tid, proc, stack: new ShadowStack(), heldNs: 0n };
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
  dropProcess(proc: Proc<H>): void {
    for (const tid of [...proc.threads.keys()]) this.removeThread(tid);
    this.procs.delete(proc.pid);
    this.nat.dropProcess(proc.pid);
  }

}
