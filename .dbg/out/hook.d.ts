import type { EntryContext, ExitContext } from './context';
import { NodePool, RethookOwner } from './rethook';
import type { Pattern } from './symbols';
export interface HookHandlers {
    /** Runs at the function's first instruction. Return false to not hook this call's return. */
    onEntry?: (ctx: EntryContext) => boolean | void;
    /** Runs when the call returns (or, with ctx.unwound, when its frame was unwound). */
    onExit?: (ctx: ExitContext) => void;
    /** Calls of this hook that may be in flight at once (all threads). */
    maxActive?: number;
}
export interface HookSite {
    pid: number;
    address: number;
    function: string;
}
export declare class Hook implements RethookOwner {
    readonly patterns: readonly string[];
    /** @internal */ readonly handlers: HookHandlers;
    readonly pool: NodePool;
    live: boolean;
    /** @internal */ readonly sites: HookSite[];
    /** @internal */ readonly pending: Pattern[];
    /** Functions a glob matched that could not be hooked, one message each (name, address, reason, bytes). */
    readonly refused: string[];
    /** @internal */ unhookImpl: (h: Hook) => void;
    constructor(patterns: readonly string[], 
    /** @internal */ handlers: HookHandlers, maxActive: number);
    /** Functions hooked so far. */
    get functions(): readonly HookSite[];
    /** Calls that ran unhooked because maxActive calls were already in flight. */
    get nmissed(): number;
    /**
     * Remove the breakpoints now. Calls already in flight still return through
     * the trampoline and resume correctly, without this hook's onExit.
     */
    unhook(): void;
}
export declare function validateHandlers(h: unknown): HookHandlers;
