// methods/: what puts a session together (Tracer.spawn, Tracer.attach) and the event stream over it: above both the engine and the modes, which it hands the session (the engine knows no mode).
// Tracer.spawn: start a program under ptrace and set up its image.
import { ptraceCode, RethookError } from '../errors';
import { guardExit } from '../engine/ending';
import { startImage } from '../engine/images';
import { Session } from '../engine/session';
import { drain, killSession, programDying } from '../engine/stop-loop';
import * as fs from 'fs';
import * as net from 'net';
import type { Readable, Writable } from 'stream';
import { NativeTracer, pipe } from '../native';
import { StdioOption, validateSpawn } from '../options';
import { resolveProgram, signalName } from '../symbols/program';
import { fastMode } from '../fast/mode';
// The program starts with the signals our caller ignored ignored, as a
// shell's exec would leave them (nohup, trap '' HUP), and every other one
// default (tracee/caller-signals.ts). The variable is not passed on to it.
import { CALLER_SIGIGN, callerIgnoredSignals } from '../tracee/caller-signals';


/** The ends of the program's stdio on our side, for 'pipe' (else null). */
export interface StdioStreams {
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
}

/**
 * The file descriptors the program gets as 0, 1, 2 (-1: ours, inherited),
 * with what to do once it has them (or failed to start): close the child's
 * ends and /dev/null here, and make streams of our ends of the pipes.
 */
function openStdio(stdio: StdioOption[]): { fds: number[]; spawned(): void; started(): StdioStreams; failed(): void } {
  const childEnds: number[] = [];
  const ourEnds: (number | null)[] = [null, null, null];
  const fds: number[] = [];
  try {
    stdio.forEach((opt, i) => {
      if (opt === 'inherit') fds.push(-1);
      else if (typeof opt === 'number') fds.push(opt);
      else if (opt === 'ignore') {
        const fd = fs.openSync('/dev/null', i === 0 ? 'r' : 'w');
        childEnds.push(fd);
        fds.push(fd);
      } else {
        const [r, w] = pipe();
        const child = i === 0 ? r : w;
        childEnds.push(child);
        ourEnds[i] = i === 0 ? w : r;
        fds.push(child);
      }
    });
  } catch (e) {
    for (const fd of [...childEnds, ...ourEnds]) if (fd !== null) fs.closeSync(fd);
    throw e;
  }
  // Once the program has them (or failed to start), the child's ends are closed here: its exit is then our EOF.
  const closeChildEnds = () => childEnds.splice(0).forEach((fd) => fs.closeSync(fd));
  return {
    fds,
    spawned: closeChildEnds,
    started() {
      // net.Socket on a pipe's fd: a libuv pipe handle, non-blocking, as child_process's streams are.
      const stream = (i: number) => (ourEnds[i] === null ? null : new net.Socket({ fd: ourEnds[i]!, readable: i !== 0, writable: i === 0 }));
      const stdin = stream(0);
      stdin?.on('error', () => undefined); // EPIPE once the program is gone: as child_process, not fatal
      return { stdin, stdout: stream(1), stderr: stream(2) };
    },
    failed() {
      closeChildEnds();
      for (const fd of ourEnds) if (fd !== null) fs.closeSync(fd);
    },
  };
}

/**
 * Resolves once the dynamic linker has mapped the program's libraries and
 * before any of the program's code (library constructors included) has run,
 * with the program's thread held until run().
 */
export async function spawnSession(file: string, args: readonly string[], options: unknown): Promise<{ session: Session; stdio: StdioStreams }> {
  const o = validateSpawn(args, options);
  const program = resolveProgram(file, o.env.PATH ?? process.env.PATH);
  const envp = Object.entries(o.env)
    .filter(([k, v]) => v !== undefined && k !== CALLER_SIGIGN)
    .map(([k, v]) => `${k}=${v}`);
  const io = openStdio(o.stdio);
  let session: Session | null = null;
  const nat = new NativeTracer(() => session && drain(session));
  let pid: number;
  try {
    pid = nat.spawn(program, [file, ...args], envp, o.cwd, io.fds, callerIgnoredSignals());
    io.spawned();
  } catch (e) {
    nat.close();
    io.failed();
    const died = e as { diedPid?: number; waitStatus?: number };
    if (died.diedPid !== undefined && died.waitStatus !== undefined) {
      // Killed (by someone else) between our fork and its exec: that is how the program ended, not an error of exec's.
      const w = died.waitStatus;
      const status = (w & 0x7f) !== 0
        ? { pid: died.diedPid, code: null, signal: signalName(w & 0x7f), detached: false }
        : { pid: died.diedPid, code: (w >> 8) & 0xff, signal: null, detached: false };
      const how = status.signal ? `was killed by ${status.signal}` : `exited with ${status.code}`;
      throw Object.assign(new RethookError(`process ${died.diedPid} ${how} before it executed ${file}`, 'EEXEC', { cause: e }), { status });
    }
    throw new RethookError(`cannot execute ${file}: ${(e as Error).message}`, ptraceCode((e as Error).message, 'EEXEC'), { cause: e });
  }
  const s = (session = new Session(nat, pid, {
    defaultMaxActive: o.maxActive, followForks: o.followForks, detachOnInterrupt: o.detachOnInterrupt, attached: false,
  }, [fastMode]));
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
    io.failed();
    killSession(s);
    // The program ended before it ran its own code (killed, say): the error carries how.
    if (s.mainStatus && e instanceof RethookError) Object.assign(e, { status: s.mainStatus });
    throw e;
  }
  return { session: s, stdio: io.started() };
}
