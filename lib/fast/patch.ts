// Patching a function for fast mode: its stub near it, the planner's patch
// over its first instruction(s) (after a landing pad), and threads stopped in
// the middle of the displaced bytes moved to their copies in the stub. A
// function that cannot be patched is said why, and the caller hooks it in
// trap mode instead.
import type { Hook } from '../hook';
import { fast } from '../native';
import type { FunctionSymbol, Module } from '../symbols/modules';
import { hex } from '../tracee/memory';
import type { Proc } from '../engine/traced';
import type { Session } from '../engine/session';
import { unwinderStop } from '../engine/images';
import { defaultSignature } from '../types/signatures';
import { stringRegisters, unrecordedArgs } from '../types/values';
import { MAX_SITES } from './arena';
import { branchesNear, codeName, paddingBefore } from './branches';
import { fastOf, fastProcOf, FastSite } from './fast-proc';

/** The pool every unhooked site points at: maxActive 0, so the recorder lets its calls run unhooked. */
export const OFF_POOL = 0;

/** The dynamic linker runs before any thread has a thread pointer: the recorder could not find its thread. */
const DYNAMIC_LINKER = /\/ld-linux[^/]*\.so|\/ld-musl[^/]*\.so|\/ld\.so(\.\d+)?$/;

/**
 * Hook `fn` for `hook` in fast mode. `fresh`: its object was just loaded (no
 * thread can be running its code yet). Returns true, or why not (the caller
 * falls back to trap mode).
 */
export function plantFast(s: Session, proc: Proc, hook: Hook, fn: FunctionSymbol, fresh: boolean, why: string | null): true | string {
  if (why) return why;
  const have = fastOf(proc)?.byAddress.get(fn.address);
  if (have) {
    if (!have.hooks.includes(hook)) have.hooks = [...have.hooks, hook]; // a new array: calls in flight keep theirs
    have.capture |= captureMask(s, hook, fn);
    const fp = fastOf(proc)!;
    fp.arena.setSite(have.index, fp.poolOf(have.hooks[0]), have.capture);
    hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
    return true;
  }
  if (proc.sites.has(fn.address)) return 'it already has a breakpoint of trap mode';
  if (unwinderStop(fn.rawName)) return 'rethook itself stops there (exceptions, backtraces)';
  if (proc.sharesMemory || proc.silent) return 'the process shares its memory with another (vfork)';
  if (!fn.size) return 'its size is unknown (fast mode decodes the whole function)';
  const sig = hook.signatureFor(fn, () => defaultSignature(s.nat, fn));
  const unrecorded = sig && unrecordedArgs(sig);
  if (unrecorded) return unrecorded;
  const mod = fn.module as Module | null;
  if (mod && DYNAMIC_LINKER.test(mod.path)) return 'it is in the dynamic linker, which runs before threads have a thread pointer';
  if (s.running && !fresh) return 'the program is running (fast mode patches before run() and in objects as they are loaded)';
  const tid = s.stoppedTid(proc);
  if (!tid) return 'no thread of the process is stopped to set fast mode up';
  const fp = fastProcOf(s, proc, tid);
  if (fp.sites.length >= MAX_SITES) return 'too many functions in fast mode';
  if (fp.sites.length === 0) fp.arena.newPool(0); // OFF_POOL
  let stub = proc.pages.takeBytes(fn.address, fast.stubMaxSize);
  if (!stub) {
    proc.pages.mapRegion(tid, fn.address);
    stub = proc.pages.takeBytes(fn.address, fast.stubMaxSize);
    if (!stub) return 'no free address space near it for its stub';
  }
  const code = proc.mem.read(fn.address, fn.size);
  if (!code) return `its code at ${hex(fn.address)} cannot be read`;
  const index = fp.sites.length;
  // Other code's branches near it, and the padding before it (a place for a long jmp): branches.ts.
  const near = mod ? branchesNear(proc, mod, fn.address - 128, fn.address + 64) : undefined;
  const plan = fast.plan(fn.address, code, stub, fp.recorderEntry, index, near, mod ? paddingBefore(proc, mod, fn.address) : undefined);
  if ('refused' in plan) return mod ? plan.refused.replace(/ at (0x[0-9a-f]+)/, (_, a: string) => ` at ${codeName(mod, Number(a))}`) : plan.refused;
  const at = plan.before ? fn.address - plan.before : fn.address + plan.at;
  const original = plan.before ? proc.mem.read(at, plan.patch.length) : code.subarray(plan.at, plan.at + plan.patch.length);
  if (!original) return `its code at ${hex(at)} cannot be read`;
  if (!proc.mem.write(stub, plan.stub)) return `its stub at ${hex(stub)} cannot be written`;
  const capture = captureMask(s, hook, fn);
  fp.arena.setSite(index, fp.poolOf(hook), capture);
  moveThreadsOut(s, proc, at, plan.patch.length, stub, plan.moved, fn.address, fn.address + plan.at);
  if (!proc.mem.write(at, plan.patch)) return `its code at ${hex(at)} cannot be written`;
  const site: FastSite = { index, fn, hooks: [hook], at, original: Buffer.from(original), stub, patched: true, capture, sigs: new Map() };
  fp.sites.push(site);
  fp.byAddress.set(fn.address, site);
  hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
  return true;
}

/**
 * Threads held stopped inside the bytes about to be replaced (not at their
 * first one, where the patch itself will run) continue from the copies of
 * those instructions in the stub: their call runs unhooked, correctly.
 */
function moveThreadsOut(s: Session, proc: Proc, at: number, len: number, stub: number, moved: [number, number][], fnAddr: number, entry: number): void {
  const saved = Array.from(s.regs.words);
  try {
    for (const h of s.held) {
      if (s.table.thread(h.tid)?.proc !== proc || !s.nat.loadRegs(h.tid)) continue;
      const pc = s.regs.pc;
      if (pc <= at || pc >= at + len || pc === entry) continue; // at the patch's first byte, or the function's: they run it
      // In the padding before the function (a jmp goes there): only nops to
      // the function's start, whose copy in the stub it runs instead.
      const m = pc < fnAddr ? moved[0] : moved.find(([fnOff]) => fnAddr + fnOff === pc);
      if (!m) continue; // not at an instruction boundary: it cannot be there
      s.regs.pc = stub + m[1];
      s.nat.storeRegs(h.tid);
    }
  } finally {
    s.regs.words.set(saved);
  }
}

/** The argument registers whose C strings `hook` wants copied at the call (capture.strings), as a bit mask. */
function captureMask(s: Session, hook: Hook, fn: FunctionSymbol): number {
  const want = hook.handlers.capture?.strings;
  if (!want) return 0;
  let regs = want as number[];
  if (want === 'auto') {
    const sig = hook.signatureFor(fn, () => defaultSignature(s.nat, fn));
    regs = sig ? stringRegisters(sig) : [];
  }
  return regs.reduce((m, r) => (r < 8 ? m | (1 << r) : m), 0);
}

/** Stop hooking `hook`'s calls of the site (the patch stays: unpatching could tear it under a running thread). */
export function unplantFast(proc: Proc, site: FastSite, hook: Hook): void {
  site.hooks = site.hooks.filter((h) => h !== hook);
  const fp = fastOf(proc)!;
  fp.arena.setSite(site.index, site.hooks.length ? fp.poolOf(site.hooks[0]) : OFF_POOL, site.hooks.length ? site.capture : 0);
}

/** Every patch of the process undone (all its threads stopped): original bytes back. */
export function unpatchAll(proc: Proc, into: Proc = proc): void {
  const fp = fastOf(proc);
  if (!fp) return;
  // A fork child's copy has every patch made before it was forked, whatever the parent did since.
  for (const site of fp.sites) if (!site.fallback && (site.patched || into !== proc)) into.mem.write(site.at, site.original);
  if (into === proc) for (const site of fp.sites) site.patched = false;
}
