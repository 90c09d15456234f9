// What Ctrl-C and SIGTERM do to `rethook trace`/`record`, in one place:
//   - attaching: they give up (nothing was changed in the process yet);
//   - attached: they detach, never ending the process (one that came while
//     the hooks were planted detaches as soon as they are);
//   - started with --detach-on-exit: Ctrl-C reaches the program too, where
//     the tracer swallows it and detaches; SIGTERM detaches;
//   - started: Ctrl-C reaches the program too (same process group): it
//     decides, and a second one ends it; SIGTERM is passed on to it, or,
//     once it has exited, to its followed children still traced.
// One listener per signal from before the fork or the attach to the end, so
// that no signal ever falls between two of them; none for a signal our
// caller ignored (nohup): it stays ignored (tracee/caller-signals.ts).
import * as fs from 'fs';
import { onSignal } from '../tracee/caller-signals';
import type { Tracer } from '../tracer';

type Policy = () => void;

export class Interrupts {
  private onInt: Policy;
  private onTerm: Policy;
  private early = false;

  /** `attaching`: the pid we are attaching to (null: the program is being started). */
  constructor(attaching: number | null) {
    this.onInt = this.onTerm = () => void (this.early = true);
    if (attaching !== null) {
      this.onInt = this.onTerm = () => {
        process.stderr.write(`rethook: gave up attaching to process ${attaching}\n`);
        process.exit(1); // the exit guard lets go of every thread seized so far
      };
    }
    onSignal('SIGINT', () => this.onInt());
    if (attaching !== null) onSignal('SIGTERM', () => this.onTerm());
  }

  /** Attached (or not yet hooked): a signal now is noted and acted on once `hooked` is called. */
  attached(): void {
    this.onInt = this.onTerm = () => void (this.early = true);
  }

  /** Hooked: from now on the policies above; `live` are the traced processes not seen to exit. */
  hooked(tracer: Tracer, how: 'attached' | 'detach-on-exit' | 'started', live: ReadonlySet<number>): void {
    if (how === 'attached') {
      this.onInt = this.onTerm = () => void tracer.detach();
    } else if (how === 'detach-on-exit') {
      // A SIGINT sent to us alone (not to the group) detaches a moment later.
      this.onInt = () => void setTimeout(() => void tracer.detach(), 200);
      onSignal('SIGTERM', () => void tracer.detach());
    } else {
      let interrupts = 0;
      this.onInt = () => {
        if (++interrupts > 1) tracer.kill();
      };
      onSignal('SIGTERM', () => {
        const to = live.has(tracer.pid) ? [tracer.pid] : [...live];
        // No one left to pass it on to: it is ours (nothing we trace is running).
        if (!to.length) process.exit(128 + 15);
        for (const pid of to) signalIfThere(pid, 'SIGTERM');
      });
      // One that came while it started may have come before its fork: it
      // gets one now (still stopped, it has not run; a second merges with it).
      if (this.early) {
        this.early = false;
        interrupts++;
        signalIfThere(tracer.pid, 'SIGINT');
      }
    }
    if (this.early) this.onInt();
  }
}

/** Attach, saying so after a moment when threads take long to stop (blocked in vfork, say); Ctrl-C meanwhile gives up. */
export async function attachResponsively(tracer: typeof Tracer, pid: number, o: { maxActive: number; followForks: boolean }, interrupts: Interrupts): Promise<Tracer> {
  const slow = setTimeout(() => process.stderr.write(`rethook: waiting for process ${pid} to stop: ${whyNotStopped(pid)}\n`), 500);
  try {
    return await tracer.attach(pid, o);
  } finally {
    clearTimeout(slow);
    interrupts.attached();
  }
}

/** Send `sig` to `pid`, which may have ended meanwhile (ESRCH: there is no one to tell). */
export function signalIfThere(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Why threads of `pid` take long to stop (read from /proc). */
function whyNotStopped(pid: number): string {
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const wchan = fs.readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8');
      if (/vfork|kernel_clone/.test(wchan)) return `thread ${t} is blocked in vfork until its child execs or exits (Ctrl-C gives up)`;
    }
  } catch {
    /* gone meanwhile, or not readable */
  }
  return 'a thread is blocked in the kernel (Ctrl-C gives up)';
}
