// A hook: handlers for the entries and returns of the functions a pattern
// names, with its own node pool (maxActive, nmissed).
import type { EntryContext, ExitContext } from './context';
import { NodePool } from './rethook';
import type { FunctionSymbol, Module } from './symbols/modules';
import type { Signature } from './types/model';
import { overlay, SpecTable } from './types/signatures';
import { parsePrototypes, signatureFromOptions } from './types/spec';
import { closeNames, Pattern } from './symbols/patterns';
import { STRING_MAX_LIMIT } from './types/model';

/** A context whose per-call `data` is typed: `tracer.hook<D>(...)`. */

/**
 * Why a call ran without a return hook:
 * - 'max-active': the hook's maxActive calls were already in flight;
 * - 'depth': its thread's node stack was full (fast mode: 1,024 calls deep);
 * - 'no-thread': its thread had no block in the fast-mode arena (more live threads than blocks), or was not registered yet;
 * - 'reentered': a signal handler interrupted the recorder on its thread;
 * - 'tail-call': a tail call from a hooked call that could not be matched;
 * - 'damaged': the program wrote over its fast-mode arena.
 */
export type MissedReason = 'max-active' | 'depth' | 'no-thread' | 'reentered' | 'tail-call' | 'damaged';
export type WithData<C, D> = C & { data: D | undefined };

export interface HookHandlers<D = unknown> {
  /**
   * Runs at the function's first instruction. Return false to not hook this
   * call's return. A promise returned is not awaited; run() settles after it,
   * and its rejection fails run() as a throw does.
   */
  onEntry?: (ctx: WithData<EntryContext, D>) => boolean | void | PromiseLike<unknown>;
  /** Runs when the call returns (or, with ctx.unwound, when its frame was unwound). Promises: as onEntry's. */
  onExit?: (ctx: WithData<ExitContext, D>) => void;
  /** Calls of this hook that may be in flight at once (all threads). */
  maxActive?: number;
  /**
   * What a pattern that names no function of the objects loaded now does:
   * 'error' (default) throws a RethookError (ENOSYMBOL) that suggests close
   * names; 'wait' keeps it for objects loaded later (dlopen), as a pattern
   * scoped to an object not loaded yet is, and `unmatched` names it if it
   * never matched (the CLI's way: `-f hd_fn` finds hd_fn in a library the
   * program dlopens).
   */
  unmatched?: 'error' | 'wait';
  /**
   * How returns are caught: 'trampoline' (the return address is replaced),
   * 'site' (a breakpoint at the return address, which stays untouched: for
   * code that saves or inspects it), or 'auto' (default): 'site' for the
   * functions known to need it (setjmp, vfork, getcontext, dlsym, dlopen,
   * dladdr, the C++ unwinder's entries) and for Go programs, else 'trampoline'.
   */
  returnMode?: 'auto' | 'trampoline' | 'site';
  /**
   * How calls are caught. 'trap' (default): a breakpoint at the entry and at
   * the return, handlers run while the thread is stopped, and may change the
   * call. 'fast': the function's entry is patched to call a recorder inside
   * the process, which records the call and its return with no stop;
   * handlers run shortly after, in batches, and only observe (see
   * FastEntryContext). A function fast mode cannot patch is hooked in trap
   * mode, and `fellBack` says why.
   */
  mode?: 'trap' | 'fast';
  /**
   * Fast mode: C strings to copy at the call (up to 96 bytes each, read
   * safely: a bad pointer reads nothing), so that values show what they were
   * then: `strings: [0]` for the first integer argument register, or 'auto'
   * for every argument whose type (debug information, prototypes, spec) is a
   * C string. Each costs a system call at the call. Without it, fast mode
   * reads strings when the handler runs.
   */
  capture?: { strings: number[] | 'auto' };
  /**
   * Bytes of a C string (or std::string) read at most for the typed values
   * (default 64, at most 65536); longer ones are cut there (`truncated`).
   * Fast mode copies a string at the call up to 96 bytes (the recorder's
   * record holds no more): there it is at most 96.
   */
  stringMax?: number;
  /**
   * The argument types of every function this hook hooks, over what debug
   * information or the built-in prototypes say: `['str', 'i32']`,
   * `['const char *key', 'int len']`, `[{ name: 'key', type: 'str' }]`;
   * `'...'` last for a variadic function.
   */
  args?: (string | { name?: string; type: string })[];
  /** Their return type (`'i32'`, `'double'`, `'void'`); without it, the one known otherwise. */
  ret?: string;
  /**
   * Declarations by function name, one per line, C-like
   * (`int lookup(const char *key, int len);`) or short (`kv_*(str key) -> int`),
   * as the CLI's --prototypes FILE. `args`/`ret` come first.
   */
  prototypes?: string;
}

/**
 * What a fast-mode handler sees: the call as recorded, shortly after it
 * happened. What needs the thread stopped at the call (skip, redirect,
 * replacing the return value, reading memory or the stack then) is not there.
 */
export type FastEntryContext = Omit<EntryContext, 'skip' | 'redirect' | 'readMemory' | 'readCString' | 'backtrace'>;
export type FastExitContext = Omit<ExitContext, 'setReturnValue' | 'setFpReturnValue' | 'readMemory' | 'readCString' | 'backtrace'>;

/** Handlers of a fast-mode hook: observe only, run in batches shortly after the calls. */
export interface FastHookHandlers<D = unknown> extends Omit<HookHandlers<D>, 'onEntry' | 'onExit' | 'mode'> {
  mode: 'fast';
  /** Runs for each recorded entry (its return value is ignored: the call went on already). */
  onEntry?: (ctx: WithData<FastEntryContext, D>) => void;
  /** Runs for each recorded return (or frame unwound). */
  onExit?: (ctx: WithData<FastExitContext, D>) => void;
}

export interface HookSite {
  pid: number;
  address: number;
  function: string;
}

/** A hook (satisfies RethookOwner: it owns its node pool). */
export class Hook {
  /** @internal */ readonly pool: NodePool;
  /** @internal */ live = true;
  /** @internal */ readonly sites: HookSite[] = [];
  /** @internal */ readonly pending: Pattern[] = [];
  /** @internal */ readonly parsed: Pattern[] = [];
  /** Functions a glob matched that could not be hooked, one message each (name, address, reason, bytes). */
  readonly refused: string[] = [];
  /**
   * Objects loaded in the program that could not be read, or not entirely
   * (a damaged ELF file): one line each naming the file, once per object.
   * Tracing goes on with the other objects.
   */
  readonly warnings: string[] = [];
  /**
   * Functions this hook wanted in fast mode that are hooked in trap mode
   * instead: `name: why`. A Go program's functions all are, said once per
   * object: `every function of NAME: why`.
   */
  readonly fellBack: string[] = [];
  /**
   * The same, as data: the function (`OBJECT:*` for every function of a Go
   * object) and why, in the order found.
   */
  readonly fallbacks: { function: string; reason: string }[] = [];
  /** @internal Go objects (paths) whose fallback is in fellBack already. */
  readonly goFellBack = new Set<string>();
  /** Calls that ran without a return hook (see nmissed), per function name (where it is known). */
  readonly nmissedByFunction = new Map<string, number>();
  /** Calls that ran without a return hook, by why: they add up to nmissed. */
  readonly nmissedByReason = new Map<MissedReason, number>();
  /** @internal */ private readonly objectsSeen = new Set<string>();
  /** @internal */ private readonly damageSeen = new Set<string>();
  /** @internal */ unhookImpl: (h: Hook) => void = () => undefined;
  /** @internal The user's types: for every function (args/ret), by name (prototypes). */
  private readonly spec: { all: Signature | null; table: SpecTable | null };
  /**
   * @internal Signatures by function address, as decided for this hook, with
   * the object they were found in: after dlclose, another object may be
   * loaded at the same address, and its function is another one.
   */
  private readonly sigs = new Map<number, { module: unknown; sig: Signature | null }>();

  /** @internal */
  constructor(
    readonly patterns: readonly string[],
    /** @internal */ readonly handlers: HookHandlers,
    maxActive: number,
  ) {
    this.pool = new NodePool(maxActive);
    this.spec = parseTypeOptions(handlers);
  }

  /**
   * @internal The signature of `fn` for this hook: its own spec over what
   * `fallback` gives (debug information, built-in prototypes). Kept per function.
   */
  signatureFor(fn: FunctionSymbol, fallback: () => Signature | null): Signature | null {
    const known = this.sigs.get(fn.address);
    if (known && known.module === fn.module) return known.sig;
    const mine = this.spec.all ?? this.spec.table?.find(fn) ?? null;
    let sig = mine ? overlay(mine, fallback()) : fallback();
    // Its own copy: the signature found otherwise is shared by every hook on the function.
    const max = this.handlers.stringMax;
    if (sig && max !== undefined) sig = { ...sig, stringMax: this.handlers.mode === 'fast' ? Math.min(max, FAST_STRING_MAX) : max };
    this.sigs.set(fn.address, { module: fn.module, sig });
    return sig;
  }

  /** @internal One call of `fn` missed (counted in pool.nmissed by the caller). */
  countMissed(fn: string, why: MissedReason): void {
    this.nmissedByFunction.set(fn, (this.nmissedByFunction.get(fn) ?? 0) + 1);
    this.countMissedWhy(why, 1);
  }

  /** @internal `n` calls missed for `why` (counted in pool.nmissed by the caller). */
  countMissedWhy(why: MissedReason, n: number): void {
    if (n > 0) this.nmissedByReason.set(why, (this.nmissedByReason.get(why) ?? 0) + n);
  }

  /** Functions hooked so far. */
  get functions(): readonly HookSite[] {
    return this.sites;
  }

  /**
   * The patterns of this hook that have matched no function so far (in any
   * object loaded since it was added), with the reason: `no object named
   * libzz.so.1 was ever loaded` (the object part of the pattern names no
   * file and no soname seen) or `no function matched`.
   */
  get unmatched(): { pattern: string; reason: string }[] {
    return this.parsed
      .filter((p) => !p.matched)
      .map((p) => {
        if (p.moduleText && !p.moduleSeen) {
          const close = closeNames(p.moduleText, this.objectsSeen);
          return { pattern: p.text, reason: `no object named ${p.moduleText} was ever loaded` + (close.length ? ` (loaded: ${close.join(', ')})` : '') };
        }
        return { pattern: p.text, reason: (p.moduleText ? `no function matched in ${p.moduleText}` : 'no function matched') + (p.hint ?? '') };
      });
  }

  /** @internal Objects looked at: names for "never loaded" hints, damage reported once per object. */
  noteObjects(mods: Iterable<Module>): void {
    for (const m of mods) {
      this.objectsSeen.add(m.name);
      if (m.soname) this.objectsSeen.add(m.soname);
      const key = `${m.dev}:${m.inode}:${m.path}`;
      if (m.damage && !this.damageSeen.has(key)) {
        this.damageSeen.add(key);
        this.warnings.push(m.damage);
      }
    }
  }

  /** Calls that ran unhooked because maxActive calls were already in flight. */
  get nmissed(): number {
    return this.pool.nmissed;
  }

  /**
   * Remove the breakpoints now. Calls already in flight still return through
   * the trampoline and resume correctly, without this hook's onExit.
   */
  unhook(): void {
    if (!this.live) return;
    this.live = false;
    this.unhookImpl(this);
  }
}

const HANDLER_KEYS = new Set(['onEntry', 'onExit', 'maxActive', 'returnMode', 'mode', 'capture', 'args', 'ret', 'prototypes', 'unmatched', 'stringMax']);
/** What fast mode's recorder copies of a string at the call, at most (RH_STRING_MAX in native/fast/recorder.h). */
export const FAST_STRING_MAX = 96;

/** The hook's own types (a TypeError naming what cannot be read). */
function parseTypeOptions(h: HookHandlers): { all: Signature | null; table: SpecTable | null } {
  const all = h.args !== undefined || h.ret !== undefined ? signatureFromOptions(h.args, h.ret) : null;
  if (h.prototypes !== undefined && typeof h.prototypes !== 'string') throw new TypeError('Expected prototypes to be a string of declarations');
  const table = h.prototypes ? new SpecTable(parsePrototypes(h.prototypes)) : null;
  return { all, table };
}

export function validateHandlers(h: unknown): HookHandlers {
  if (h === undefined) return {};
  if (typeof h !== 'object' || h === null) throw new TypeError('Expected the second argument to be an object of handlers');
  for (const k of Object.keys(h)) {
    if (!HANDLER_KEYS.has(k)) throw new TypeError(`Unknown hook option '${k}'`);
  }
  const o = h as HookHandlers;
  if (o.onEntry !== undefined && typeof o.onEntry !== 'function') throw new TypeError('Expected onEntry to be a function');
  if (o.onExit !== undefined && typeof o.onExit !== 'function') throw new TypeError('Expected onExit to be a function');
  if (o.maxActive !== undefined && (!Number.isInteger(o.maxActive) || o.maxActive < 1))
    throw new TypeError('Expected maxActive to be a positive integer');
  if (o.returnMode !== undefined && !['auto', 'trampoline', 'site'].includes(o.returnMode))
    throw new TypeError("Expected returnMode to be 'auto', 'trampoline' or 'site'");
  if (o.mode !== undefined && o.mode !== 'trap' && o.mode !== 'fast') throw new TypeError("Expected mode to be 'trap' or 'fast'");
  if (o.stringMax !== undefined && (!Number.isInteger(o.stringMax) || o.stringMax < 1 || o.stringMax > STRING_MAX_LIMIT))
    throw new TypeError(`Expected stringMax to be an integer from 1 to ${STRING_MAX_LIMIT}`);
  if (o.unmatched !== undefined && o.unmatched !== 'error' && o.unmatched !== 'wait') throw new TypeError("Expected unmatched to be 'error' or 'wait'");
  if (o.capture !== undefined) {
    const st = (o.capture as { strings?: unknown } | null)?.strings;
    const ok = st === 'auto' || (Array.isArray(st) && st.every((i) => Number.isInteger(i) && i >= 0 && i < 8));
    if (!ok) throw new TypeError("Expected capture to be { strings: 'auto' } or { strings: [argument indexes 0-7] }");
  }
  parseTypeOptions(o);
  return o;
}
