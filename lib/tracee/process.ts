// What the tracer keeps about each traced process and thread: hook sites,
// injected pages, loaded objects, shadow stacks; and lookups over them.
import * as fs from 'fs';
import { RethookError } from '../errors';
import { NativeTracer } from '../native';
import { InjectedPages } from './pages';
import { readMaps } from '../symbols/procfs';
import { ShadowStack } from '../rethook';
import type { FunctionSymbol, Module } from '../symbols/modules';
import { hex, TraceeMemory } from './memory';

export { hex };

/**
 * A breakpoint of ours: user hooks on a function, and/or an internal handler
 * (r_brk, the unwinder). `H` is what a hook is to the engine (engine/traced.ts
 * names the types it uses): this layer knows nothing of hooks.
 */
export interface Site<H = unknown> {
  address: number;
  fn: FunctionSymbol | null;
  /** User hooks on this function, in the order they were added. */
  hooks: H[];
  /**
   * A breakpoint of the tracer's own (the dynamic linker's r_brk, the C++
   * unwinder's entries). It runs before any user hook on the same function
   * and may keep the thread stopped ('hold').
   */
  internal?: (th: ThreadState<H>, addr: number) => 'continue' | 'hold';
  /** Returns of calls to this function are caught at their return site, not by the trampoline (see ReturnMode). */
  returnAtSite?: boolean;
  /** A function of a Go program: its calls are kept per goroutine (Proc.goroutines). */
  goroutines?: boolean;
}

/** One traced thread: its process and its shadow stack of rethook nodes. */
export interface ThreadState<H = unknown> {
  readonly tid: number;
  readonly proc: Proc<H>;
  readonly stack: ShadowStack;
  /**
   * How long the tracer has held this thread at its stops, summed (ns):
   * from taking each stop to letting the thread go. A call's duration leaves
   * out what accrued while it was in flight (the handling of the hooked
   * calls nested in it).
   */
  heldNs: bigint;
}

export class Proc<H = unknown> {
  readonly pages: InjectedPages;
  readonly mem: TraceeMemory;
  readonly modules = new Map<string, Module>();
  readonly sites = new Map<number, Site<H>>();
  /** Return-site breakpoints (return-sites.ts): address -> calls in flight that return there. */
  readonly returnSites = new Map<number, number>();
  /** Go programs: the calls in flight of each goroutine, by its g (goroutines move between threads). */
  readonly goroutines = new Map<bigint, ShadowStack>();
  /** Go: goroutines whose stack the runtime is growing (their function restarts from its entry). */
  readonly growing = new Set<bigint>();
  /** The out-of-line slot given to the breakpoint at an address, reused when it is planted again. */
  readonly slots = new Map<number, number>();
  /** Breakpoints removed while threads ran: a trap already raised there is stale, not the program's. */
  readonly removed = new Set<number>();
  /** This process's threads; added and removed only by ThreadTable (threads.ts). */
  readonly threads = new Map<number, ThreadState<H>>();
  rDebug = 0;
  /** musl: where the address of its r_debug (`struct debug`) is kept (_dl_debug_addr), else 0. */
  rDebugPtr = 0;
  /** IFUNC resolver address -> implementation it picked (0: none). */
  readonly ifuncs = new Map<number, number>();
  phase: 'find-r_brk' | 'exec-exit' | 'ready' = 'ready';
  /** A vfork child we do not follow: traced only until it execs, its breakpoints stepped over silently. */
  silent = false;
  /** A vfork child shares its parent's memory until it execs or exits: breakpoints there are the parent's. */
  sharesMemory = false;
  startupDone = false;
  constructor(nat: NativeTracer, readonly pid: number) {
    this.pages = new InjectedPages(nat, pid);
    this.mem = new TraceeMemory(nat, pid);
  }

  /** Whether a trap at `addr` is one of our breakpoints (entry, return site) or the trampoline. */
  isOurTrap(addr: number): boolean {
    return addr === this.pages.trampoline || this.sites.has(addr) || this.returnSites.has(addr) || this.removed.has(addr);
  }

  /** The function starting exactly at `addr`. */
  functionAt(addr: number): FunctionSymbol {
    for (const m of this.modules.values()) {
      if (!m.contains(addr)) continue;
      const f = m.functions().find((s) => s.address === addr);
      if (f) return f;
    }
    throw new RethookError(`${hex(addr)} is not the start of a known function`, 'ENOSYMBOL');
  }

  /** The function containing `addr`, if its size is known. */
  functionNameAt(addr: number): string | null {
    for (const m of this.modules.values()) {
      if (!m.contains(addr)) continue;
      const best = nearestBelow(m, addr);
      return best && addr < best.address + Math.max(best.size, 1) ? best.name : null;
    }
    return null;
  }

  /** `module!function+0xoff`, `module+0xoff`, or the bare address. */
  symbolize(addr: number): string {
    for (const m of this.modules.values()) {
      if (!m.contains(addr)) continue;
      const best = nearestBelow(m, addr);
      return best ? `${m.name}!${best.name}+${hex(addr - best.address)}` : `${m.name}+${hex(addr - m.start)}`;
    }
    return hex(addr);
  }

  inSomeModule(addr: number): boolean {
    for (const m of this.modules.values()) if (m.contains(addr)) return true;
    return false;
  }

  /**
   * The mapping of a thread's own stack: [stack] for the main thread (sp < 0),
   * else the mapping holding `sp`, taken where the thread is surely on its own
   * stack (its first stop after clone or attach). [stack] grows: its range
   * reaches 64 MiB below the mapping.
   */
  stackRange(sp: number): [number, number] {
    for (const m of readMaps(this.pid)) {
      const mine = sp < 0 ? m.path === '[stack]' : sp >= m.start && sp < m.end;
      if (mine) return m.path === '[stack]' ? [m.end - 64 * 1024 * 1024, m.end] : [m.start, m.end];
    }
    return [0, Number.MAX_SAFE_INTEGER];
  }

  /**
   * A CET user shadow stack would fault on our rewritten return addresses
   * (the kernel updates it for its own uretprobes; ptrace cannot): refuse.
   */
  refuseShadowStack(): void {
    let status = '';
    try {
      status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return;
    }
    const m = /^x86_Thread_features:\s*(.*)$/m.exec(status);
    if (m && /\bshstk\b/.test(m[1]))
      throw new RethookError(`process ${this.pid} runs with a CET shadow stack (x86_Thread_features: ${m[1].trim()}): hooking returns would crash it`, 'EHOOK');
  }
}

function nearestBelow(m: Module, addr: number): FunctionSymbol | null {
  return m.nearestBelow(addr);
}
