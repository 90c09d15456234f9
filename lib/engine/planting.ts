// Planting: from patterns to breakpoints. A pattern resolves to functions in
// the loaded objects; IFUNCs are asked which implementation they picked; each
// function gets one breakpoint (a Site) shared by every hook on it, with an
// out-of-line slot near it when its first instruction needs one.
import * as fs from 'fs';
import { notAFunctionStart } from '../arch';
import { RethookError } from '../errors';
import { Hook, HookHandlers, validateHandlers } from '../hook';
import { processDying } from '../tracee/dying';
import { hex } from '../tracee/memory';
import type { Proc, Site } from './traced';
import { byPublicName, FunctionSymbol, Module } from '../symbols/modules';
import { rangeAt } from '../symbols/eh-frame';
import { closeNames, matchFunctions, moduleMatches, parsePattern, Pattern, validatePattern } from '../symbols/patterns';
import { bytesUnder, guardBreakpoint, unguardBreakpoint } from './guardian';
import { wantsReturnSite } from './return-sites';
import { slotFor } from './slots';
import type { Session } from './session';

/**
 * Code that is entered without a call, so [sp] / the link register holds no
 * return address of its caller: hijacking it would overwrite argc (an ELF
 * entry point), a PLT resolver's arguments or a signal frame. Never hooked,
 * with each object's ELF entry point.
 */
const NOT_CALLED = new Set([
  '_start', '__start', '_dl_start', '_dl_start_user', '_dl_start_final', '__restore_rt', '__default_rt_sa_restorer',
  '__default_sa_restorer', '_dl_runtime_resolve', '_dl_runtime_resolve_xsave', '_dl_runtime_resolve_xsavec',
  '_dl_runtime_resolve_fxsave', '_dl_runtime_profile', '_dl_runtime_profile_sse', '_dl_runtime_profile_avx',
]);

/** Why `fn` has no caller to return to, or null when it may be hooked. */
function notCalled(fn: FunctionSymbol): string | null {
  const m = fn.module as Module | null;
  if (m && m.elf && fn.address === m.elf.entry + m.bias) return `it is the entry point of ${m.name}: it is jumped to, not called, and has no return address`;
  if (NOT_CALLED.has(fn.rawName)) return 'it is entered without a call (no return address to hook)';
  return null;
}

/**
 * Why `fn` is no function's start, or null: it lies inside another function
 * symbol's bytes (an entry hook there would run whenever that function runs
 * past it, and take what its stack holds for a return address), or its bytes
 * are padding. A damaged or hostile symbol table names such places; they are
 * refused, never planted. Bytes under a breakpoint or patch of ours were
 * checked when it was planted.
 */
function notAStart(s: Session, proc: Proc, fn: FunctionSymbol): string | null {
  const mod = [...proc.modules.values()].find((m) => m.contains(fn.address));
  const outer = mod?.enclosing(fn.address);
  if (outer) return `it lies inside ${outer.name} (${hex(outer.address)}, ${outer.size} bytes), so it is no function start (a damaged or hostile symbol table)`;
  if (proc.sites.has(fn.address) || proc.returnSites.has(fn.address) || s.modes.some((m) => m.has(proc, fn.address))) return null;
  const bytes = proc.mem.read(fn.address, 4);
  return bytes ? notAFunctionStart(fn.address, bytes) : null;
}

/** Hook what `list` names in the main process; patterns also apply to objects loaded later. */
export function addHook(s: Session, list: readonly (string | number)[], handlers: HookHandlers): Hook {
  const hook = new Hook(list.map(String), handlers, handlers.maxActive ?? s.options.defaultMaxActive);
  hook.unhookImpl = (hk) => unhook(s, hk);
  const proc = s.table.process(s.pid)!;
  // Every pattern is parsed (and so checked) before anything is planted.
  const items = list.map((p) => (typeof p === 'number' ? p : addressPattern(proc, p) ?? parsePattern(p)));
  for (const p of items) if (typeof p !== 'number' && 'fn' in p && 'isGlob' in p) hook.parsed.push(p);
  hook.noteObjects(proc.modules.values());
  const planted: { fn: FunctionSymbol; strict: boolean }[] = [];
  const seen = new Set<number>();
  for (const p of items) {
    // Aliases at one address are hooked once, under their public name (`free`, not `__libc_free`).
    const fns = typeof p === 'number' ? [proc.functionAt(p)] : 'isGlob' in p ? byPublicName(resolvePattern(proc, p, true, handlers.unmatched === 'wait')) : [p];
    // A function named exactly must be hooked; one a glob happens to match may be refused and skipped.
    const strict = typeof p === 'number' || !('isGlob' in p) || !p.isGlob;
    for (const fn of fns) {
      if (seen.has(fn.address)) continue;
      seen.add(fn.address);
      planted.push({ fn, strict });
    }
  }
  for (const { fn, strict } of planted) {
    try {
      plant(s, proc, hook, fn, true, undefined, false);
    } catch (e) {
      if (strict || !(e instanceof RethookError)) throw e;
      hook.refused.push(e.message);
    }
  }
  // Every pattern also applies to objects loaded later (dlopen) and to new images after exec.
  hook.pending.push(...hook.parsed);
  s.hooks.push(hook);
  return hook;
}

/** Plant the pending patterns of every live hook in objects just loaded; refusals are noted on the hook. */
export function plantPending(s: Session, proc: Proc, fresh: readonly Module[]): void {
  for (const hook of s.hooks) {
    if (!hook.live) continue;
    hook.noteObjects(fresh);
    for (const p of hook.pending) {
      for (const m of fresh) {
        if (!moduleMatches(p, m)) continue;
        p.moduleSeen = true;
        const fns = byPublicName(matchFunctions(p, m));
        if (fns.length) p.matched = true;
        for (const fn of fns) {
          try {
            plant(s, proc, hook, fn, false, undefined, true);
          } catch (e) {
            if (!(e instanceof RethookError)) throw e;
            hook.refused.push(e.message);
          }
        }
      }
    }
  }
}

/**
 * The functions a pattern names in `proc`. None is an error, except for a
 * pattern scoped to an object not loaded yet when `later` allows it, or any
 * pattern when `wait` does (planted when an object that has it is loaded;
 * its hint says what to add if none ever does).
 */
function resolvePattern(proc: Proc, p: Pattern, later: boolean, wait = false): FunctionSymbol[] {
  const out: FunctionSymbol[] = [];
  for (const m of proc.modules.values()) {
    if (!moduleMatches(p, m)) continue;
    p.moduleSeen = true;
    out.push(...matchFunctions(p, m));
  }
  if (out.length) {
    p.matched = true;
    return out;
  }
  if (p.module && !p.moduleSeen && later) return [];
  const names: string[] = [];
  for (const m of proc.modules.values()) if (moduleMatches(p, m)) for (const f of m.functions()) names.push(f.name);
  const close = closeNames(p.text, names);
  const didYouMean = close.length ? ` (did you mean ${close.map((c) => `'${c}'`).join(', ')}?)` : '';
  if (wait && later) {
    p.hint = strippedHint(proc, p, true) + didYouMean;
    return [];
  }
  throw new RethookError(`no function matches '${p.text}'` + didYouMean + strippedHint(proc, p, false), 'ENOSYMBOL');
}

/**
 * For a pattern that may name a program's own function: the program has no
 * symbol table, say so and what to do. When objects loaded later were
 * searched too (`searchedLater`), the function may as well live in none of
 * them: the program's table is one possibility, said as such.
 */
function strippedHint(proc: Proc, p: Pattern, searchedLater: boolean): string {
  if (p.module) return '';
  const exe = exeModule(proc);
  if (!exe || exe.elf.symtab !== false) return '';
  const what = `${exe.name} has no symbol table: only its exported functions can be hooked; install its debug symbols or hook by address (-f 0x1234, as objdump -d shows it)`;
  return searchedLater ? ` in any object loaded; if it is a function of ${exe.name} itself: ${what}` : `; ${what}`;
}

/** The process's executable among its modules. */
function exeModule(proc: Proc): Module | null {
  let exe: string;
  try {
    exe = fs.realpathSync(`/proc/${proc.pid}/exe`);
  } catch {
    return null;
  }
  for (const m of proc.modules.values()) if (m.path === exe) return m;
  return null;
}

/**
 * An address pattern of the CLI: `0x1139` in the program, `libfoo.so+0x1139`
 * in an object (link-time addresses, as objdump -d shows them). The function
 * there, named `prog+0x1139` unless a symbol starts there; null when the text
 * is no address pattern.
 */
function addressPattern(proc: Proc, text: string): FunctionSymbol | null {
  const m = /^(?:(.+)\+)?0x([0-9a-fA-F]+)$/.exec(text);
  if (!m) return null;
  const off = parseInt(m[2], 16);
  let mod: Module | null = null;
  if (!m[1]) mod = exeModule(proc);
  else {
    const pat = parsePattern(`${m[1]}:x`);
    mod = [...proc.modules.values()].find((x) => moduleMatches(pat, x)) ?? null;
    if (!mod) throw new RethookError(`no object named ${m[1]} is loaded (for -f '${text}')`);
  }
  if (!mod) throw new RethookError(`cannot find the program's executable for -f '${text}'`);
  const inExec = mod.elf.segments.some((seg) => seg.executable && off >= seg.vaddr && off < seg.vaddr + seg.memsz);
  if (!inExec) throw new RethookError(`${text} is not in an executable segment of ${mod.name}`);
  const address = off + mod.bias;
  const known = mod.functions().find((f) => f.address === address);
  if (known) return known;
  const name = `${mod.name}+0x${off.toString(16)}`;
  return { name, rawName: name, address, size: 0, module: mod };
}

/** The one function a redirect target names. */
export function resolveFunction(s: Session, proc: Proc, target: string | number): { address: number; size: number } {
  if (typeof target === 'number') return proc.functionAt(target);
  const fns = resolvePattern(proc, parsePattern(target), false);
  if (fns.length !== 1) throw new RethookError(`'${target}' names ${fns.length} functions; redirect needs exactly one`, 'ENOSYMBOL');
  return fns[0];
}

/**
 * Put a breakpoint on `fn` for `hook` (null: internal only), or add the hook
 * to the breakpoint already there (several hooks share one, as kprobes
 * aggregate). Throws a RethookError naming the function when it cannot.
 */
export function plant(s: Session, proc: Proc, hook: Hook | null, fn: FunctionSymbol, strict: boolean, internal?: Site['internal'], fresh = false): boolean {
  if (fn.ifunc) {
    const impl = resolveIfunc(s, proc, fn, strict);
    if (!impl) return false;
    fn = impl;
  }
  const why = hook ? notCalled(fn) ?? notAStart(s, proc, fn) : null;
  if (why) throw new RethookError(`cannot hook ${fn.name} at ${hex(fn.address)}: ${why}`, 'EHOOK');
  const goProgram = isGoModule(fn.module);
  const atSite = hook !== null && wantsReturnSite(hook, fn.name, fn.rawName, goProgram);
  const mode = hook ? s.modes.find((m) => m.name === hook.handlers.mode) : undefined;
  let fellBack: string | null = null;
  if (hook && mode) {
    if (goProgram) {
      // Every function of a Go program: said once per object, not once per function.
      const mod = fn.module!;
      if (!hook.goFellBack.has(mod.path)) {
        hook.goFellBack.add(mod.path);
        hook.fellBack.push(`every function of ${mod.name}: ${GO_FALLBACK}`);
        hook.fallbacks.push({ function: `${mod.name}:*`, reason: GO_FALLBACK });
      }
    } else {
      const r = mode.plant(s, proc, hook, fn, fresh, atSite ? 'its returns are caught at the return site (it returns twice or looks at its caller or return address)' : null);
      if (r === true) return true;
      fellBack = r;
    }
  }
  const planted = plantTrap(s, proc, hook, fn, internal, atSite, goProgram);
  // Said once it is hooked in trap mode (a function trap mode refuses too is not hooked at all: the caller says so).
  if (hook && fellBack) {
    hook.fellBack.push(`${fn.name}: ${fellBack}`);
    hook.fallbacks.push({ function: fn.name, reason: fellBack });
  }
  return planted;
}

/** plant()'s trap-mode part: the breakpoint, or the hook added to the one there. */
function plantTrap(s: Session, proc: Proc, hook: Hook | null, fn: FunctionSymbol, internal: Site['internal'] | undefined, atSite: boolean, goProgram: boolean): boolean {
  const other = s.modes.find((m) => m.has(proc, fn.address));
  if (other) throw new RethookError(`cannot hook ${fn.name} in trap mode: another hook has it in ${other.name} mode`, 'EHOOK');
  const existing = proc.sites.get(fn.address);
  if (existing) {
    if (hook && !existing.hooks.includes(hook)) {
      existing.hooks.push(hook);
      hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
    }
    if (internal) existing.internal = internal;
    if (atSite) existing.returnAtSite = true;
    if (hook && goProgram) existing.goroutines = true;
    return true;
  }
  const plan = s.nat.planBreakpoint(proc.pid, fn.address);
  if (plan.kind === 'refused') {
    const bytes = proc.mem.read(fn.address, 8);
    throw new RethookError(`cannot hook ${fn.name} at ${hex(fn.address)}: ${plan.reason} (bytes ${bytes ? bytes.toString('hex').replace(/(..)/g, '$1 ').trim() : '?'})`, 'EHOOK');
  }
  const slot = plan.needsSlot ? slotFor(s, proc, fn.address, fn.name) : 0;
  const original = bytesUnder(proc, fn.address);
  try {
    s.nat.setBreakpoint(proc.pid, fn.address, slot);
  } catch (e) {
    throw new RethookError(`cannot hook ${fn.name} at ${hex(fn.address)}: ${(e as Error).message}`, 'EHOOK');
  }
  guardBreakpoint(s.guardian, proc, fn.address, original);
  proc.removed.delete(fn.address);
  proc.sites.set(fn.address, { address: fn.address, fn, hooks: hook ? [hook] : [], internal, returnAtSite: atSite, goroutines: hook !== null && goProgram });
  if (hook) hook.sites.push({ pid: proc.pid, address: fn.address, function: fn.name });
  return true;
}

/** Why a Go program's functions stay in trap mode (fast mode points returns at its recorder). */
export const GO_FALLBACK = "it is a Go program: Go's runtime walks goroutine stacks and throws on a return address in no Go function, so returns are caught at their return sites, per goroutine";

/** Go programs walk their own stacks (GC, stack growth): a rewritten return address crashes them. */
const goModules = new WeakMap<Module, boolean>();
function isGoModule(m: Module | null): boolean {
  if (!m || !m.elf) return false;
  let go = goModules.get(m);
  if (go === undefined) goModules.set(m, (go = m.functions().some((f) => f.rawName === 'runtime.main' || f.rawName.startsWith('runtime.goexit'))));
  return go;
}

/**
 * An IFUNC symbol (strlen, memcpy, ...) names a resolver the dynamic linker
 * calls once to pick an implementation for this CPU. Hooking the resolver
 * would see no calls: ask it (a call injected into a stopped thread) and
 * hook what it returns, under the symbol's name.
 */
function resolveIfunc(s: Session, proc: Proc, fn: FunctionSymbol, strict: boolean): FunctionSymbol | null {
  const cached = proc.ifuncs.get(fn.address);
  if (cached !== undefined) return cached ? implementation(proc, fn, cached) : null;
  const tid = s.stoppedTid(proc);
  if (!tid || !proc.pages.trampoline) {
    if (strict) throw new RethookError(`cannot hook ${fn.name}: it is an IFUNC, and resolving it needs the program stopped (hook it before run() or from a handler)`, 'EHOOK');
    return null;
  }
  let impl = 0;
  try {
    impl = Number(s.nat.callFunction(tid, proc.pid, fn.address, proc.pages.trampoline));
  } catch (e) {
    if (strict) throw new RethookError(`cannot hook ${fn.name}: its IFUNC resolver failed: ${(e as Error).message}`, 'EHOOK');
  }
  const ok = impl !== 0 && proc.inSomeModule(impl);
  proc.ifuncs.set(fn.address, ok ? impl : 0);
  if (!ok) {
    if (strict) throw new RethookError(`cannot hook ${fn.name}: its IFUNC resolver picked ${hex(impl)}, outside every loaded object (the vDSO?)`, 'EHOOK');
    return null;
  }
  return implementation(proc, fn, impl);
}

/**
 * The implementation an IFUNC picked, under the symbol's name. Its size is
 * not the resolver's: a symbol starting there says it (an unstripped
 * object), else the call frame information's range starting there (libc's
 * __strlen_evex has no symbol in a stripped libc.so.6); 0 when neither knows.
 */
function implementation(proc: Proc, fn: FunctionSymbol, impl: number): FunctionSymbol {
  let size = 0;
  for (const m of proc.modules.values()) {
    if (!m.contains(impl)) continue;
    const named = m.functions().find((f) => f.address === impl && f.size > 0 && !f.ifunc);
    const cfi = named ? null : rangeAt(m.codeRanges((a, n) => proc.mem.read(a, n)), impl);
    size = named ? named.size : cfi ? cfi.end - cfi.start : 0;
    break;
  }
  return { ...fn, address: impl, ifunc: false, size };
}

/** Remove a hook's breakpoints (those no other hook or internal handler needs). */
function unhook(s: Session, hook: Hook): void {
  for (const hs of hook.sites) {
    const proc = s.table.process(hs.pid);
    if (proc && s.modes.some((m) => m.unplant(proc, hs.address, hook))) continue;
    const site = proc?.sites.get(hs.address);
    if (!proc || !site || !site.hooks.includes(hook)) continue;
    site.hooks = site.hooks.filter((h) => h !== hook);
    if (site.hooks.length || site.internal) continue;
    proc.sites.delete(hs.address);
    if (proc.returnSites.has(hs.address)) continue; // still a return site: its breakpoint stays
    s.nat.removeBreakpoint(proc.pid, hs.address);
    unguardBreakpoint(s.guardian, proc, hs.address);
    proc.removed.add(hs.address);
  }
  hook.pending.length = 0;
}

/** Tracer.hook: validate, then plant. */
export function hookFunctions(s: Session, pattern: unknown, handlers?: HookHandlers): Hook {
  const list = Array.isArray(pattern) ? pattern : [pattern];
  if (list.length === 0 || list.some((p) => typeof p !== 'string' && typeof p !== 'number'))
    throw new TypeError('Expected the pattern to be a string, a number or an array of them');
  for (const p of list) if (typeof p === 'string') validatePattern(p); // a bad pattern is a TypeError naming it
  const h = validateHandlers(handlers);
  s.checkUsable();
  try {
    return addHook(s, list as (string | number)[], h);
  } catch (e) {
    // Its memory went away under us: the program is being killed; its end follows (run()).
    if (e instanceof Error && processDying(s.pid, s.pid)) Object.assign(e, { dying: true });
    throw e;
  }
}
