// The guardian's JavaScript half: its native half
// (native/guardian/standby.c) saw the tracer die, checked by its pidfd that
// the pid still names the process, seized and interrupted every thread of it
// at once, and exec'd this with the threads still attached, the mirror at
// fd 3 and the pidfd at fd 4. Put back every original byte and real return
// address recorded in the mirror, move threads off our traps, let go.
import * as fs from 'fs';
import { returnAbi } from '../arch';
import { arch, Info, NativeTracer, pidfdAlive, StopKind } from '../native';
import type { RethookNode } from '../rethook';
import { TraceeMemory } from '../tracee/memory';
import { Registers, stoppedThread } from '../tracee/registers';
import { Mirror, MirroredNode, MirrorState } from './mirror';

const SIGTRAP = 5;
const STOP_DEADLINE_MS = 2000;

const MIRROR_FD = 3, PIDFD = 4;
// argv: TIDS (the threads the native half seized, comma-separated).
const [tidList] = process.argv.slice(2);
const mirror = Mirror.inherited(MIRROR_FD);

const logFile = process.env.RETHOOK_GUARDIAN_LOG;
function log(msg: string): void {
  if (logFile) fs.appendFileSync(logFile, `${Date.now() % 100000} ${msg}\n`);
}

function undo(pid: number, seized: number[]): void {
  log(`rescue ${pid}: seized ${seized.join(',')}`);
  const nat = new NativeTracer(() => undefined);
  const regs = new Registers(nat.regs);
  const mem = new TraceeMemory(nat, pid);
  nat.addProcess(pid);
  const tramp = mirror.trampoline;
  const bps = mirror.breakpoints();
  const ours = (a: number) => a === tramp || bps.some((b) => b.address === a);
  // Every thread stopped, each with the signal it must still get.
  const pending = new Map<number, number>();
  const stopped: number[] = [];
  for (const tid of seized) {
    nat.addThread(tid, pid);
    const end = Date.now() + STOP_DEADLINE_MS;
    for (;;) {
      const kind = nat.waitThread(tid, Math.max(1, end - Date.now()));
      log(`thread ${tid}: stop ${kind} at ${nat.info[Info.Addr].toString(16)} (${nat.info[Info.A]})`);
      if (kind === StopKind.None || kind === StopKind.Exited || kind === StopKind.Killed) break;
      if (kind === StopKind.Signal || kind === StopKind.Trap) {
        const sig = nat.info[Info.A] || SIGTRAP;
        // At a trap of ours: a hooked call or return it reached before we
        // came, or the SIGTRAP of the one it was stopped at when the tracer
        // died, which the kernel delivers now. Never resumed from there (it
        // would run on from the middle of our trap): moved off below, that
        // SIGTRAP ours, not the program's.
        if (sig === SIGTRAP && nat.loadRegs(tid) && ours(regs.pc - arch.trapPcAdjust)) {
          stopped.push(tid);
          break;
        }
        pending.set(tid, sig);
        nat.resume(tid, 0); // the interrupt comes next
        continue;
      }
      stopped.push(tid);
      break;
    }
  }
  // Nothing is written unless the pid still names the process (it was
  // SIGKILLed meanwhile and reaped: the pid may be another's by now).
  if (!pidfdAlive(PIDFD)) {
    let what = '?';
    try {
      what = fs.readlinkSync(`/proc/self/fd/${PIDFD}`) + ' ' + fs.readFileSync(`/proc/self/fdinfo/${PIDFD}`, 'utf8').replace(/\n/g, ' ');
    } catch (e) {
      what = String(e);
    }
    return log(`process ${pid} is gone: nothing to undo (fd ${PIDFD}: ${what})`);
  }
  for (const b of bps) {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(b.original >>> 0);
    nat.write(pid, b.address, bytes.subarray(0, arch.breakpointLength));
  }
  const states = mirror.threadStates();
  const threads = new Map([...states].map(([tid, t]) => [tid, t.nodes]));
  log(`stopped ${stopped.join(',')} pending ${[...pending].join(';')} bps ${bps.length} tramp ${tramp.toString(16)} threads ${[...threads].map(([t, n]) => `${t}:${n.map((x) => x.frame.toString(16) + '/' + x.realRet.toString(16)).join(' ')}`).join(' | ')}`);
  for (const tid of stopped) {
    const nodes = (threads.get(tid) ?? []) as unknown as RethookNode[];
    if (nat.loadRegs(tid)) {
      const at = regs.pc - arch.trapPcAdjust;
      log(`thread ${tid} at pc ${regs.pc.toString(16)} sp ${regs.sp.toString(16)}`);
      // Registers are written back only where a thread is moved: one
      // interrupted in a system call keeps its registers as the kernel left
      // them (they say how the call is restarted).
      if (at === tramp) {
        // Returning through the trampoline: on to the real return address.
        const frame = regs.sp - returnAbi.returnPops;
        const n = [...nodes].reverse().find((x: MirroredNode) => x.mode === 'trampoline' && x.frame === frame);
        if (n) {
          returnAbi.resumeAt(regs, n.realRet);
          log(`thread ${tid} goes on at ${regs.pc.toString(16)}: ${nat.storeRegs(tid)}`);
        }
      } else if (bps.some((b) => b.address === at) && states.get(tid)?.trap === at && states.get(tid)?.trapSp === regs.sp) {
        // Still where the tracer held it at our breakpoint (a thread it had
        // stepped on may be at the same pc, with another sp: left alone).
        regs.pc = at; // the original instruction is back
        log(`thread ${tid} goes on at ${regs.pc.toString(16)}: ${nat.storeRegs(tid)}`);
      }
    }
    returnAbi.restore(stoppedThread(nat, regs, tid), mem, nodes, tramp);
  }
  for (const tid of stopped) nat.detach(tid, pending.get(tid) ?? 0);
  for (const [tid, sig] of pending) if (!stopped.includes(tid)) nat.detach(tid, sig);
}

log(`start valid=${mirror.valid} state=${mirror.state} tids=${tidList}`);
if (mirror.valid && mirror.state === MirrorState.Tracing) undo(mirror.pid, tidList ? tidList.split(',').map(Number) : []);
process.exit(0);
