// Tracer.spawn: start a program under ptrace and set up its image.
import { RethookError } from '../errors';
import { guardExit } from '../engine/ending';
import { startImage } from '../engine/images';
import { Session } from '../engine/session';
import { drain } from '../engine/stop-loop';
import { NativeTracer } from '../native';
import { validateSpawn } from '../options';
import { resolveProgram } from '../symbols/program';
import { killSession } from './kill';

/**
 * Resolves once the dynamic linker has mapped the program's libraries and
 * before any of the program's code (library constructors included) has run,
 * with the program's thread held until run().
 */
export async function spawnSession(file: string, args: readonly string[], options: unknown): Promise<Session> {
  const o = validateSpawn(args, options);
  const program = resolveProgram(file, o.env.PATH ?? process.env.PATH);
  const envp = Object.entries(o.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  let session: Session | null = null;
  const nat = new NativeTracer(() => session && drain(session));
  let pid: number;
  try {
    pid = nat.spawn(program, [file, ...args], envp, o.cwd, o.stdio);
  } catch (e) {
    nat.close();
    throw new RethookError(`cannot execute ${file}: ${(e as Error).message}`);
  }
  const s = (session = new Session(nat, pid, {
    defaultMaxActive: o.maxActive, followForks: o.followForks, detachOnInterrupt: o.detachOnInterrupt, attached: false,
  }));
  const started = new Promise<void>((resolve, reject) => (s.startupWaiter = { resolve, reject }));
  guardExit(s);
  nat.setActive(true);
  try {
    const proc = s.table.addProcess(pid);
    s.table.addThread(proc, pid);
    startImage(s, proc, pid);
    drain(s);
    await started;
  } catch (e) {
    killSession(s);
    throw e;
  }
  return s;
}
