// methods/: what puts a session together (Tracer.spawn, Tracer.attach) and the event stream over it: above both the engine and the modes, which it hands the session (the engine knows no mode).
// Tracer.attach: seize a running process and every thread of it.
import * as fs from 'fs';
import { seizeAll } from '../engine/attach';
import { detachAll } from '../engine/detach';
import { guardExit } from '../engine/ending';
import { startGuardian } from '../engine/guardian';
import { Session } from '../engine/session';
import { drain } from '../engine/stop-loop';
import { RethookError } from '../errors';
import { fastMode } from '../fast/mode';
import { NativeTracer } from '../native';
import { validateAttach } from '../options';

/** Resolves with every thread stopped (held until run()). */
export async function attachSession(pid: number, options: unknown): Promise<Session> {
  const o = validateAttach(pid, options);
  if (!fs.existsSync(`/proc/${pid}`)) throw new RethookError(`no process ${pid}`, 'ENOPROCESS');
  if (pid === process.pid) throw new RethookError('a process cannot trace itself', 'ENOPROCESS');
  let session: Session | null = null;
  const nat = new NativeTracer(() => session && drain(session));
  const s = (session = new Session(nat, pid, { defaultMaxActive: o.maxActive, followForks: o.followForks, detachOnInterrupt: false, attached: true }, [fastMode]));
  guardExit(s);
  s.guardian = startGuardian(pid);
  nat.setActive(true);
  try {
    await seizeAll(s, pid);
  } catch (e) {
    detachAll(s);
    s.finish({ pid, code: null, signal: null, detached: true });
    throw e;
  }
  return s;
}
