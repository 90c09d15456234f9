// Fast mode in one process: its arena and recorder, injected on first use
// with a stopped thread, its patched functions (sites), and its threads'
// blocks. The recorder blob and the arena stay mapped for the process's life:
// a thread may be inside them when we leave, and must finish correctly.
import { RethookError } from '../errors';
import type { Hook } from '../hook';
import { adoptTraceeMemfd, arch, fast } from '../native';
import type { FunctionSymbol } from '../symbols/modules';
import type { RethookNode } from '../rethook';
import type { Proc } from '../engine/traced';
import type { Signature, TypedCall } from '../types/model';
import type { Session } from '../engine/session';
import { ARENA_SIZE, FastArena, ThreadBlock } from './arena';
import { Clock } from './clock';

const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
/** The arena memfd's name (in the tracee's /proc/PID/fd: /memfd:rethook-fast). */
const ARENA_NAME = 'rethook-fast';
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_FIXED = 0x10;

/** A patched function. */
export interface FastSite {
  index: number;
  fn: FunctionSymbol;
  /** Replaced, never changed in place: a call keeps the array it was entered with. */
  hooks: Hook[];
  /** Where the patch is (after a landing pad) and what it replaced. */
  at: number;
  original: Buffer;
  stub: number;
  /** Patched now (false once unpatched). */
  patched: boolean;
  /** Argument registers whose C strings the recorder copies at the call (a bit mask). */
  capture: number;
  /** Each hook's signature for this function, once looked up. */
  sigs: Map<Hook, Signature | null>;
  /** Not patched: a fallback's calls, caught at its breakpoint and pushed by the tracer (fallback.ts). */
  fallback?: boolean;
}

/** A call whose entry was delivered and whose end was not yet. */
export interface PendingCall {
  site: FastSite;
  /** The site's hooks when the call was entered; per hook (same index): its data and typed call. */
  hooks: Hook[];
  /** Null until a hook has some (most calls have none: no onEntry data, no signature). */
  data: unknown[] | null;
  typed: (TypedCall | null)[] | null;
  sp: number;
  depth: number;
  /** The entry's cycle counter, in halves. */
  tscHi: number;
  tscLo: number;
  /** Converts the entry's cycle counter to ns when asked. */
  clock: Clock;
  /** The argument registers as 32-bit halves (low, high), made bigints only when asked for (8 words: more than x86-64 has). */
  argHalves: number[];
  args: bigint[] | null;
  realRet: number;
  /** The process that made the call (a vfork child runs on its parent's block). */
  pid: number;
  /** Copied into a followed fork child: the call was made in its parent. */
  inherited?: boolean;
  /** C strings copied at the call (STRING records), by their address. */
  strings?: Map<bigint, Buffer>;
  /** What its contexts say about it (a CallInfo, internal to the contexts: not named in the types), once made (drain.ts). */
  info: object | null;
}

/** A followed fork child, until its first stop: what its fast mode starts from (lib/fast/fork.ts). */
export interface FastInheritance {
  parent: FastProc;
  nodes: { sp: number; ret: number; site: number; tsc: bigint }[];
  calls: PendingCall[];
}

/** Each process's fast mode, once set up (the tracee layer knows nothing of it). */
const fastProcs = new WeakMap<Proc, FastProc>();
/** A followed fork child until its first stop: its parent's fast mode, to be copied (fork.ts). */
const inheritances = new WeakMap<Proc, FastInheritance>();

/** `proc`'s fast mode: its arena, recorder and patched functions, or null when it has none. */
export function fastOf(proc: Proc): FastProc | null {
  return fastProcs.get(proc) ?? null;
}

export function setFastOf(proc: Proc, fp: FastProc | null): void {
  if (fp) fastProcs.set(proc, fp);
  else fastProcs.delete(proc);
}

export function inheritOf(proc: Proc): FastInheritance | null {
  return inheritances.get(proc) ?? null;
}

export function setInheritOf(proc: Proc, from: FastInheritance | null): void {
  if (from) inheritances.set(proc, from);
  else inheritances.delete(proc);
}

export class FastProc {
  readonly sites: FastSite[] = [];
  readonly byAddress = new Map<number, FastSite>();
  /** Fallbacks (functions in trap mode) whose calls share the arena's node stack, by address (fallback.ts). */
  readonly fallbacks = new Map<number, FastSite>();
  readonly pools = new Map<Hook, number>();
  /** Per thread: calls delivered at entry, awaiting their exit record. */
  readonly inFlight = new Map<number, PendingCall[]>();
  /** Threads of the process not registered yet (their thread pointer was 0 or unknown). */
  readonly unregistered = new Set<number>();
  /** Per thread, while an exception unwinds: its nodes as the return ABI marked them (restored or not). */
  readonly unwinding = new Map<number, RethookNode[]>();
  /**
   * Blocks lent to a vfork child: it runs with its parent's thread pointer,
   * so on the forking thread's block, until the vfork is done (the parent's
   * vfork-done stop). Its records there are its own (pid = tid = the
   * child's), or dropped when it is not followed; `nodes`: the block's node
   * stack at the vfork, put back at the end (lib/fast/fork.ts).
   */
  readonly lent = new Map<number, { pid: number; drop: boolean; nodes: { sp: number; ret: number; site: number; tsc: bigint }[] | null }>();
  /** Per thread: how many times the program was found to have written over its arena (drain.ts). */
  readonly damaged = new Map<number, number>();
  /** What each hook's pool, and each of the arena's missed counters, had counted when last read (drain.ts: noteMissed). */
  readonly missedSeen = new Map<Hook | string, number>();

  constructor(readonly proc: Proc, readonly arena: FastArena, readonly recorder: number, readonly clock: Clock) {}

  get recorderEntry(): number {
    return this.recorder + fast.recorder.entry;
  }

  /** Where hijacked returns go. */
  get recorderReturn(): number {
    return this.recorder + fast.recorder.ret;
  }

  /** The recorder's trap: a return it could not match (lib/fast/nomatch.ts). */
  get nomatchTrap(): number {
    return this.recorder + fast.recorder.nomatch;
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
 * The process's fast mode, set up now if it is not: the recorder written
 * into one of our pages, and the arena (mapArena). Needs a stopped thread.
 */
export function fastProcOf(s: Session, proc: Proc, tid: number): FastProc {
  const have = fastOf(proc);
  if (have) return have;
  if (!proc.pages.stub) proc.pages.mapRegion(tid, proc.modules.values().next().value?.start ?? 0);
  const code = fast.recorder.code;
  const name = Buffer.from(ARENA_NAME + '\0');
  const size = code.length + name.length;
  const blob = proc.pages.takeBytes(proc.pages.stub, size) || (proc.pages.mapRegion(tid, proc.pages.stub), proc.pages.takeBytes(proc.pages.stub, size));
  if (!blob) throw new RethookError(`fast mode: no room for the recorder in process ${proc.pid}`, 'EMEMORY');
  if (!proc.mem.write(blob + code.length, name)) throw new RethookError(`fast mode: cannot write in process ${proc.pid}`, 'EMEMORY');
  const arena = mapArena(s, proc, tid, blob + code.length, 0);
  // The blob, then its two data words: the arena, and the flags this machine's recorder needs.
  const words = Buffer.from(code);
  words.writeBigUInt64LE(BigInt(arena.base), fast.recorder.arenaWord);
  words.writeBigUInt64LE(BigInt(fast.recorder.flags), fast.recorder.flagsWord);
  if (!proc.mem.write(blob, words)) throw new RethookError(`fast mode: cannot write the recorder in process ${proc.pid}`, 'EMEMORY');
  const fp = new FastProc(proc, arena, blob, Clock.shared());
  setFastOf(proc, fp);
  s.nat.markTrampoline(proc.pid, fp.nomatchTrap);
  for (const t of proc.threads.keys()) if (s.nat.isStopped(t)) fp.registerThread(s, t);
  else fp.unregistered.add(t);
  return fp;
}

/**
 * A new arena for `proc`: a memfd created by an injected memfd_create (its
 * name at `nameAt` in the tracee), mapped MAP_SHARED by an injected mmap
 * (at `at`, replacing what is there, or anywhere when 0) and by us: we take
 * the tracee's descriptor itself (pidfd_getfd, never a path reopen: a sibling
 * sharing its descriptor table may have swapped it), check it is the fresh
 * memfd just made, and seal its size before mapping it. Its descriptor is
 * then closed in the tracee, so the program's descriptors stay as they were.
 */
export function mapArena(s: Session, proc: Proc, tid: number, nameAt: number, at: number): FastArena {
  const inject = (nr: number, args: (number | bigint)[]): number => {
    const r = Number(BigInt.asIntN(64, s.nat.injectSyscall(tid, proc.pid, proc.pages.stub, false, nr, args)));
    if (r < 0 && r > -4096) throw new RethookError(`fast mode: a system call injected in process ${proc.pid} failed (errno ${-r})`, 'EMEMORY');
    return r;
  };
  const fd = inject(arch.syscalls.memfd_create, [nameAt, MFD_CLOEXEC | MFD_ALLOW_SEALING]);
  let memory: ArrayBuffer;
  let base: number;
  try {
    try {
      memory = adoptTraceeMemfd(proc.pid, fd, ARENA_NAME, ARENA_SIZE);
    } catch (e) {
      throw new RethookError(`fast mode: ${(e as Error).message}`, 'EMEMORY');
    }
    base = inject(arch.syscalls.mmap, [at, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0]);
  } finally {
    inject(arch.syscalls.close, [fd]);
  }
  if (at && base !== at) throw new RethookError(`fast mode: the arena could not be mapped at its address in process ${proc.pid}`, 'EMEMORY');
  return new FastArena(base, memory, process.pid, proc.pid);
}
