// Tracer.spawn: start a program under ptrace and set up its image.
import { ptraceCode, RethookError } from '../errors';
import { guardExit } from '../engine/ending';
import { startImage } from '../engine/images';
import { Session } from '../engine/session';
import { drain, programDying } from '../engine/stop-loop';
import { NativeTracer } from '../native';
import { validateSpawn } from '../options';
import { resolveProgram } from '../symbols/program';
import { killSession } from './kill';

/**
 * Node resets every signal disposition it inherits (SIG_IGN included) and
 * ignores SIGPIPE and SIGXFSZ itself, so what our caller ignored is lost by
 * the time this runs. bin/rethook.js (a shell line before Node starts) passes
 * its SigIgn mask in this variable; the program starts with those signals
 * ignored, as a shell's exec would leave them (nohup, trap '' HUP), and every
 * other one default. The variable is not passed on to the program.
 */
const CALLER_SIGIGN = 'RETHOOK_CALLER_SIGIGN';

function callerIgnoredSignals(): bigint {
  const v = process.env[CALLER_SIGIGN];
  return v && /^[0-9a-fA-F]{1,16}$/.test(v) ? BigInt('0x' + v) : 0n;
}

/**
 * Resolves once the dynamic linker has mapped the program's libraries and
 * before any of the program's code (library constructors included) has run,
 * with the program's thread held until run().
 */
export async function spawnSession(file: string, args: readonly string[], options: unknown): Promise<Session> {
  const o = validateSpawn(args, options);
  const program = resolveProgram(file, o.env.PATH ?? process.env.PATH);
  const envp = Object.entries(o.env)
    .filter(([k, v]) => v !== undefined && k !== CALLER_SIGIGN)
    .map(([k, v]) => `${k}=${v}`);
  let session: Session | null = null;
  const nat = new NativeTracer(() => session && drain(session));
  let pid: number;
  try {
    pid = nat.spawn(program, [file, ...args], envp, o.cwd, o.stdio, callerIgnoredSignals());
  } catch (e) {
    nat.close();
    throw new RethookError(`cannot execute ${file}: ${(e as Error).message}`, ptraceCode((e as Error).message, 'EEXEC'), { cause: e });
  }
  const s = (session = new Session(nat, pid, {
    defaultMaxActive: o.maxActive, followForks: o.followForks, detachOnInterrupt: o.detachOnInterrupt, attached: false,
  }));
  const started = new Promise<void>((resolve, reject) => (s.startupWaiter = { resolve, reject }));
  started.catch(() => undefined); // awaited below, unless setting up failed first
  guardExit(s);
  nat.setActive(true);
  try {
    const proc = s.table.addProcess(pid);
    s.table.addThread(proc, pid);
    try {
      startImage(s, proc, pid);
    } catch (e) {
      // Killed while we set it up: its end comes through the stop loop next.
      if (!programDying(s, pid)) throw e;
    }
    drain(s);
    await started;
  } catch (e) {
    killSession(s);
    // The program ended before it ran its own code (killed, say): the error carries how.
    if (s.mainStatus && e instanceof RethookError) Object.assign(e, { status: s.mainStatus });
    throw e;
  }
  return s;
}
