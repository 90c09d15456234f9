// Fast mode in one process: its arena and recorder, injected on first use
// with a stopped thread, its patched functions (sites), and its threads'
// blocks. The recorder blob and the arena stay mapped for the process's life:
// a thread may be inside them when we leave, and must finish correctly.
import type { EntryContext } from '../context';
import { RethookError } from '../errors';
import type { Hook } from '../hook';
import { arch, fast, mapSharedFile } from '../native';
import type { FunctionSymbol } from '../symbols/modules';
import type { RethookNode } from '../rethook';
import type { Proc } from '../tracee/process';
import type { TypedCall } from '../types/model';
import type { Session } from '../engine/session';
import { ARENA_SIZE, FastArena, ThreadBlock } from './arena';
import { Clock } from './clock';

const MFD_CLOEXEC = 1;
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

/** A patched function. */
export interface FastSite {
  index: number;
  fn: FunctionSymbol;
  hooks: Hook[];
  /** Where the patch is (after a landing pad) and what it replaced. */
  at: number;
  original: Buffer;
  stub: number;
  /** Patched now (false once unpatched). */
  patched: boolean;
}

/** A call whose entry was delivered and whose end was not yet: a handler's data per hook. */
export interface PendingCall {
  site: FastSite;
  sp: number;
  depth: number;
  entryTsc: [number, number];
  entryNs: bigint;
  args: bigint[];
  realRet: number;
  data: Map<Hook, unknown>;
  typed: Map<Hook, TypedCall | null>;
  ctx: Map<Hook, EntryContext>;
}

export class FastProc {
  readonly sites: FastSite[] = [];
  readonly byAddress = new Map<number, FastSite>();
  readonly pools = new Map<Hook, number>();
  /** Per thread: calls delivered at entry, awaiting their exit record. */
  readonly inFlight = new Map<number, PendingCall[]>();
  /** Threads of the process not registered yet (their thread pointer was 0 or unknown). */
  readonly unregistered = new Set<number>();
  /** Per thread, while an exception unwinds: its nodes as the return ABI marked them (restored or not). */
  readonly unwinding = new Map<number, RethookNode[]>();
  /** What each hook's pool had missed when last read (hook.pool.nmissed gets the difference). */
  readonly missedSeen = new Map<Hook, number>();

  constructor(readonly proc: Proc, readonly arena: FastArena, readonly recorder: number, readonly clock: Clock) {}

  get recorderEntry(): number {
    return this.recorder + fast.recorder.entry;
  }

  /** Where hijacked returns go. */
  get recorderReturn(): number {
    return this.recorder + fast.recorder.ret;
  }

  /** Whether `addr` is inside the recorder's code (a trap there is its nomatch). */
  inRecorder(addr: number): boolean {
    return addr >= this.recorder && addr < this.recorder + fast.recorder.code.length;
  }

  poolOf(hook: Hook): number {
    let p = this.pools.get(hook);
    if (p === undefined) this.pools.set(hook, (p = this.arena.newPool(hook.pool.maxActive)));
    return p;
  }

  /** Register thread `tid` (stopped) if its thread pointer is set; else keep it for later. */
  registerThread(s: Session, tid: number): ThreadBlock | null {
    const have = this.arena.blocks.get(tid);
    if (have) return have;
    const key = s.nat.threadPointer(tid);
    if (!key) {
      this.unregistered.add(tid);
      return null;
    }
    this.unregistered.delete(tid);
    const b = this.arena.register(tid, key);
    if (!b) this.unregistered.add(tid);
    return b;
  }
}

/**
 * The process's fast mode, set up now if it is not: a memfd created by an
 * injected memfd_create, mapped MAP_SHARED by an injected mmap and by us
 * through /proc/PID/fd/N, its descriptor then closed in the tracee (the
 * program's descriptors stay as they were); the recorder written into one of
 * our pages. Needs a stopped thread of the process.
 */
export function fastProcOf(s: Session, proc: Proc, tid: number): FastProc {
  if (proc.fast) return proc.fast;
  if (!proc.pages.stub) proc.pages.mapRegion(tid, proc.modules.values().next().value?.start ?? 0);
  const inject = (nr: number, args: (number | bigint)[]): number => {
    const r = Number(BigInt.asIntN(64, s.nat.injectSyscall(tid, proc.pid, proc.pages.stub, false, nr, args)));
    if (r < 0 && r > -4096) throw new RethookError(`fast mode: a system call injected in process ${proc.pid} failed (errno ${-r})`, 'EMEMORY');
    return r;
  };
  const code = fast.recorder.code;
  const name = Buffer.from('rethook-fast\0');
  const blob = proc.pages.takeBytes(proc.pages.stub, code.length + name.length) || (proc.pages.mapRegion(tid, proc.pages.stub), proc.pages.takeBytes(proc.pages.stub, code.length + name.length));
  if (!blob) throw new RethookError(`fast mode: no room for the recorder in process ${proc.pid}`, 'EMEMORY');
  const nameAt = blob + code.length;
  if (!proc.mem.write(nameAt, name)) throw new RethookError(`fast mode: cannot write in process ${proc.pid}`, 'EMEMORY');
  const fd = inject(arch.syscalls.memfd_create, [nameAt, MFD_CLOEXEC]);
  let memory: ArrayBuffer;
  let base: number;
  try {
    memory = mapSharedFile(`/proc/${proc.pid}/fd/${fd}`, ARENA_SIZE);
    base = inject(arch.syscalls.mmap, [0, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0]);
  } finally {
    inject(arch.syscalls.close, [fd]);
  }
  const arena = new FastArena(base, memory, process.pid);
  // The blob, then its two data words: the arena, and the flags this machine's recorder needs.
  const words = Buffer.from(code);
  words.writeBigUInt64LE(BigInt(base), fast.recorder.arenaWord);
  words.writeBigUInt64LE(BigInt(fast.recorder.flags), fast.recorder.flagsWord);
  if (!proc.mem.write(blob, words)) throw new RethookError(`fast mode: cannot write the recorder in process ${proc.pid}`, 'EMEMORY');
  proc.fast = new FastProc(proc, arena, blob, Clock.shared());
  for (const t of proc.threads.keys()) if (s.nat.isStopped(t)) proc.fast.registerThread(s, t);
  else proc.fast.unregistered.add(t);
  return proc.fast;
}
