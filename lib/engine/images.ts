// Images: what is mapped in a process and when it changes. A new image
// (spawn, exec) is set up at its first instruction; the dynamic linker's
// r_brk (found through _r_debug, exactly as debuggers do) tells of every
// later change of the link map, after which new objects get slot pages near
// them, the unwinder hooks and every pending pattern.
import { returnAbi } from '../arch';
import type { FunctionSymbol, Module } from '../symbols/modules';
import { modulesFromMaps } from '../symbols/modules';
import { readMaps } from '../symbols/procfs';
import type { Proc, ThreadState } from './traced';
import * as fs from 'fs';
import { unguardBreakpoint } from './guardian';
import { plant, plantPending } from './planting';
import { finishUnwound } from './return-hooks';
import type { Session } from './session';
import type { RethookNode } from '../rethook';
import { holdReturnSite, releaseReturnSite, watchReturn } from './return-sites';
import { moduleGeneration as liveGeneration } from './backtrace';

const RT_CONSISTENT = 0;
/** Offsets in struct r_debug (64-bit): r_brk, r_state. */
const R_DEBUG_BRK = 16, R_DEBUG_STATE = 24;
/**
 * Entries of the C++ unwinder (libgcc_s): before it walks a thread's stack,
 * the real return addresses go back, or it finds no frame description for
 * the trampoline and the program calls std::terminate.
 */
export const UNWINDER_ENTRIES = ['_Unwind_RaiseException', '_Unwind_Resume', '_Unwind_Resume_or_Rethrow', '_Unwind_ForcedUnwind'];
/** Where a catch begins (libstdc++): frames below are gone, the ones above are hooked again. */
export const CATCH_ENTRY = '__cxa_begin_catch';
/** glibc's backtrace() and Rust's backtraces walk the stack through it, and it returns: hooked again after. */
export const BACKTRACE_ENTRY = '_Unwind_Backtrace';
/** Where Rust's catch_unwind takes a panic's payload (no __cxa_begin_catch); v0-mangled in newer Rust. */
const isRustCatch = (rawName: string) => rawName === '__rust_panic_cleanup' || rawName.endsWith('___rust_panic_cleanup');

/** Functions rethook stops at itself (the unwinder and the catches): never patched for fast mode. */
export function unwinderStop(rawName: string): boolean {
  return UNWINDER_ENTRIES.includes(rawName) || rawName === CATCH_ENTRY || rawName === BACKTRACE_ENTRY || isRustCatch(rawName);
}

/**
 * The objects mapped now, with the executable and the dynamic linker (the
 * object other than the executable that defines _r_debug), whose _r_debug
 * is remembered in proc.rDebug.
 *
 * musl's dynamic linker (its libc.so) has no _r_debug: its `struct debug`
 * (laid out as r_debug) is static, pointed to by `_dl_debug_addr`, and its
 * r_brk is set only just before the program's entry. It exports the
 * breakpoint function itself, `_dl_debug_state`: that is hooked from the
 * first instruction (proc.rDebugPtr set, proc.rDebug read through it at each
 * hit, once the linker has relocated itself).
 */
function mappedImage(proc: Proc): { exe: Module; linker: Module | null; modules: Module[]; muslBrk: number } {
  const modules = modulesFromMaps(readMaps(proc.pid), proc.modules);
  const exePath = fs.realpathSync(`/proc/${proc.pid}/exe`);
  const exe = modules.find((m) => m.path === exePath) ?? modules[0];
  let linker = modules.find((m) => m.path !== exePath && m.object('_r_debug') !== null) ?? null;
  let muslBrk = 0;
  proc.rDebugPtr = 0;
  if (linker) proc.rDebug = linker.object('_r_debug')!;
  else {
    linker = modules.find((m) => m.path !== exePath && m.object('_dl_debug_addr') !== null) ?? null;
    const brk = linker?.functions().find((f) => f.rawName === '_dl_debug_state');
    if (linker && brk) {
      proc.rDebugPtr = linker.object('_dl_debug_addr')!;
      muslBrk = brk.address;
    } else linker = null;
  }
  return { exe, linker, modules, muslBrk };
}

/** Break at r_brk from now on: the dynamic linker calls it around every change of the link map. */
function hookLinkMap(s: Session, proc: Proc, brk: number): void {
  const fn: FunctionSymbol = { name: '_dl_debug_state', rawName: '_dl_debug_state', address: brk, size: 0, module: null as unknown as Module };
  plant(s, proc, null, fn, true, (th, addr) => onLinkMapChange(s, th, addr));
}

/** r_brk once the dynamic linker has set it, else 0. */
function readRBrk(proc: Proc): number {
  if (proc.rDebugPtr) proc.rDebug = proc.mem.readWord(proc.rDebugPtr) ?? 0;
  return proc.rDebug ? proc.mem.readWord(proc.rDebug + R_DEBUG_BRK) ?? 0 : 0;
}

/** A new image (after spawn or exec), stopped at its first instruction, single-threaded. */
export function startImage(s: Session, proc: Proc, tid: number): void {
  proc.refuseShadowStack();
  proc.pages.reset();
  proc.sites.clear();
  proc.returnSites.clear();
  proc.slots.clear();
  proc.removed.clear();
  proc.ifuncs.clear();
  proc.modules.clear(); // every object is new: loadedModules() plants pending patterns in each
  proc.startupDone = false;
  const { exe, linker, muslBrk } = mappedImage(proc);
  proc.pages.mapRegion(tid, exe.start);
  if (exe.elf.interp && muslBrk) {
    // musl: its r_brk is known from the start; the first hit is startup's end.
    hookLinkMap(s, proc, muslBrk);
    s.resume(tid, 0);
  } else if (exe.elf.interp && linker) {
    // The linker sets r_brk early in its own start-up: syscall-step until it has.
    proc.phase = 'find-r_brk';
    s.resume(tid, 0, false, true);
  } else {
    loadedModules(s, proc, tid);
    if (startupComplete(s, proc, tid, 0) !== 'hold') s.resume(tid, 0);
  }
}

/** An image already running (attach): objects mapped, the dynamic linker set up. */
export function adoptRunningImage(s: Session, proc: Proc, tid: number): void {
  proc.refuseShadowStack();
  const { exe, linker } = mappedImage(proc);
  proc.pages.mapRegion(tid, exe.start);
  loadedModules(s, proc, tid);
  const brk = linker ? readRBrk(proc) : 0;
  if (brk) hookLinkMap(s, proc, brk);
  proc.startupDone = true;
}

/** A syscall stop: exec has returned into the new image, or the linker may have set r_brk. */
export function onSyscallStop(s: Session, th: ThreadState): void {
  const proc = th.proc;
  if (proc.phase === 'exec-exit') {
    // execve has returned into the new image: its registers are final now.
    proc.phase = 'ready';
    return startImage(s, proc, th.tid);
  }
  if (proc.phase === 'find-r_brk') {
    const brk = readRBrk(proc);
    if (!brk) return void s.resume(th.tid, 0, false, true);
    proc.phase = 'ready';
    hookLinkMap(s, proc, brk);
  }
  s.resume(th.tid, 0);
}

/** The dynamic linker's r_brk: called around every change of the link map. */
function onLinkMapChange(s: Session, th: ThreadState, addr: number): 'continue' | 'hold' {
  const proc = th.proc;
  if (proc.rDebugPtr) proc.rDebug = proc.mem.readWord(proc.rDebugPtr) ?? 0; // musl: relocated by now
  const state = proc.mem.read(proc.rDebug + R_DEBUG_STATE, 4);
  if (!state || state.readInt32LE(0) !== RT_CONSISTENT) return 'continue';
  loadedModules(s, proc, th.tid);
  if (!proc.startupDone) return startupComplete(s, proc, th.tid, addr);
  return 'continue';
}

/**
 * The program's libraries are all mapped, none of its code has run: spawn()
 * resolves, with the thread held until run().
 */
function startupComplete(s: Session, proc: Proc, tid: number, addr: number): 'continue' | 'hold' {
  proc.startupDone = true;
  if (proc.pid !== s.pid || s.running) return 'continue';
  s.held = [{ tid, addr, sig: 0 }];
  const w = s.startupWaiter;
  s.startupWaiter = null;
  w?.resolve();
  return 'hold';
}

/**
 * Scan the maps for objects loaded since last time (slot pages near them,
 * pending hooks planted) and unloaded since (their breakpoints forgotten).
 */
function loadedModules(s: Session, proc: Proc, tid: number): void {
  const mods = modulesFromMaps(readMaps(proc.pid), proc.modules);
  const fresh = mods.filter((m) => proc.modules.get(m.path) !== m);
  const gone = [...proc.modules.values()].filter((m) => !mods.includes(m));
  for (const m of gone) forgetModule(s, proc, m);
  proc.modules.clear();
  for (const m of mods) proc.modules.set(m.path, m);
  for (const m of fresh) if (!proc.pages.hasRegionNear(m.start)) proc.pages.mapRegion(tid, m.start);
  for (const m of fresh) plantUnwinderHooks(s, proc, m);
  for (const m of fresh) plantGoHooks(s, proc, m);
  plantPending(s, proc, fresh);
}

/**
 * An object was unmapped (dlclose): its breakpoints went with its code, and
 * whatever is mapped there later is not ours. Forget them without writing
 * anything (the original bytes would damage a library loaded at the same
 * address); its patterns stay pending for whatever is loaded next.
 */
function forgetModule(s: Session, proc: Proc, m: Module): void {
  const inside = (a: number) => a >= m.start && a < m.end;
  for (const addr of [...proc.sites.keys(), ...proc.returnSites.keys()]) {
    if (!inside(addr)) continue;
    s.nat.forgetBreakpoint(proc.pid, addr);
    unguardBreakpoint(s.guardian, proc, addr);
    proc.sites.delete(addr);
    proc.returnSites.delete(addr);
  }
  for (const m of s.modes) m.forgetCode(proc, inside);
  for (const hook of s.hooks) {
    const keep = hook.sites.filter((hs) => hs.pid !== proc.pid || !inside(hs.address));
    hook.sites.splice(0, hook.sites.length, ...keep);
  }
  for (const a of [...proc.slots.keys()]) if (inside(a)) proc.slots.delete(a);
  for (const a of [...proc.removed]) if (inside(a)) proc.removed.delete(a);
  for (const [resolver, impl] of [...proc.ifuncs]) if (inside(resolver) || inside(impl)) proc.ifuncs.delete(resolver);
}

function plantUnwinderHooks(s: Session, proc: Proc, m: Module): void {
  for (const f of m.functions()) {
    if (UNWINDER_ENTRIES.includes(f.rawName)) plant(s, proc, null, f, false, (th) => beforeUnwind(s, th));
    else if (f.rawName === CATCH_ENTRY) plant(s, proc, null, f, false, (th) => atCatch(s, th, byStackPointer(s.regs.sp), s.regs.sp));
    else if (f.rawName === BACKTRACE_ENTRY) plant(s, proc, null, f, false, (th) => beforeBacktrace(s, th));
    else if (isRustCatch(f.rawName)) plant(s, proc, null, f, false, (th, addr) => atCatch(s, th, byLiveFrames(s, th, addr)));
  }
}

/**
 * Go's runtime.morestack: the goroutine's stack is about to be copied to a
 * larger one, after which the function that asked restarts from its entry.
 * Noted so that entry is not taken for a new call.
 */
function plantGoHooks(s: Session, proc: Proc, m: Module): void {
  for (const f of m.functions()) {
    if (f.rawName !== 'runtime.morestack.abi0' && f.rawName !== 'runtime.morestack') continue;
    plant(s, proc, null, f, false, () => {
      proc.growing.add(returnAbi.goroutine(s.regs));
      return 'continue';
    });
  }
}

/**
 * The unwinder is about to walk this thread's stack: put every real return
 * address back, in the reverse order of the hijacks: the modes' first, then
 * trap mode's. A fast call entered by a tail jump from a trap-mode call (a
 * fallback) saved trap mode's trampoline as its return address: the mode
 * puts that back first, and trap mode then finds it and puts the real one.
 * After a catch (atCatch) it is the other way round, as the hijacks were made.
 */
function beforeUnwind(s: Session, th: ThreadState): 'continue' {
  for (const m of s.modes) m.beforeUnwind(s, th);
  returnAbi.unhijackForUnwind(s.regs, th.proc.mem, th.stack.nodes, th.proc.pages.trampoline);
  return 'continue';
}

/** The unwinder walks the stack for a backtrace: real return addresses until it returns (caught at its return site), then hooked again. */
function beforeBacktrace(s: Session, th: ThreadState): 'continue' {
  const ret = returnAbi.returnAddress(s.regs, th.proc.mem);
  if (ret === null || !holdReturnSite(s, th.proc, ret)) return 'continue'; // no way back: the stack stays hooked
  watchReturn(th.proc, th.tid, ret, s.regs.sp, () => {
    releaseReturnSite(s, th.proc, ret);
    returnAbi.rehijackAfterCatch(th.proc.mem, th.stack.nodes, th.proc.pages.trampoline);
    for (const m of s.modes) m.afterBacktrace(th);
  });
  return beforeUnwind(s, th);
}

/** Which node (outermost first) is the outermost an exception removed: see fastAtCatch. */
type FirstDead = (nodes: readonly RethookNode[]) => number;

/** A C++ catch: __cxa_begin_catch is called by the catching frame itself, so the removed frames are at or below its stack pointer. */
function byStackPointer(sp: number): FirstDead {
  return (nodes) => {
    let k = nodes.length;
    while (k > 0 && nodes[k - 1].frame <= sp) k--;
    return k;
  };
}

/**
 * Rust's catch: __rust_panic_cleanup is called some calls below the catching
 * frame, so frames above the stack pointer may be gone too. The live ones are
 * those the thread's stack still returns through: a restored call whose real
 * return address the unwinder (CFI, from here) does not find, in order, is
 * gone, with every call above it (`entry`: where the thread is stopped). When the stack cannot be unwound
 * reliably, the stack pointer alone decides.
 */
function byLiveFrames(s: Session, th: ThreadState, entry: number): FirstDead {
  const below = byStackPointer(s.regs.sp);
  const proc = th.proc;
  let rets: number[] | null = null;
  try {
    const outer = th.stack.nodes.filter((n) => !n.chained && n.mode === 'trampoline').reverse().map((n) => n.realRet);
    const u = s.nat.unwind(proc.pid, th.tid, entry, proc.pages.trampoline, outer, liveGeneration(proc), 1024);
    if (u.reliable && u.frames.length) rets = u.frames.map((f) => f[0]);
  } catch {
    rets = null;
  }
  return (nodes) => {
    const k = below(nodes);
    if (!rets) return k;
    let j = rets.length - 1; // outermost first, as the nodes
    for (let i = 0; i < k; i++) {
      const n = nodes[i];
      if (n.chained || !n.restored) continue;
      let m = j;
      while (m >= 0 && rets[m] !== n.realRet && rets[m] + 1 !== n.realRet) m--;
      if (m < 0) return i;
      j = m - 1;
    }
    return k;
  };
}

/** A catch begins: calls whose frames the exception removed ended; the rest are hooked again. `sp`: the catching frame's (C++). */
function atCatch(s: Session, th: ThreadState, firstDead: FirstDead, sp?: number): 'continue' {
  const dead = sp !== undefined ? th.stack.popAtOrBelow(sp) : th.stack.nodes.splice(firstDead(th.stack.nodes)).reverse();
  if (dead.length) finishUnwound(s, th, dead, 'exception');
  if (!s.status) returnAbi.rehijackAfterCatch(th.proc.mem, th.stack.nodes, th.proc.pages.trampoline);
  for (const m of s.modes) if (!s.status) m.atCatch(s, th, firstDead);
  return 'continue';
}
