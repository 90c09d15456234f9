"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Hook = void 0;
exports.validateHandlers = validateHandlers;
const rethook_1 = require("./rethook");
class Hook {
    patterns;
    handlers;
    pool;
    live = true;
    /** @internal */ sites = [];
    /** @internal */ pending = [];
    /** Functions a glob matched that could not be hooked, one message each (name, address, reason, bytes). */
    refused = [];
    /** @internal */ unhookImpl = () => undefined;
    constructor(patterns, 
    /** @internal */ handlers, maxActive) {
        this.patterns = patterns;
        this.handlers = handlers;
        this.pool = new rethook_1.NodePool(maxActive);
    }
    /** Functions hooked so far. */
    get functions() {
        return this.sites;
    }
    /** Calls that ran unhooked because maxActive calls were already in flight. */
    get nmissed() {
        return this.pool.nmissed;
    }
    /**
     * Remove the breakpoints now. Calls already in flight still return through
     * the trampoline and resume correctly, without this hook's onExit.
     */
    unhook() {
        if (!this.live)
            return;
        this.live = false;
        this.unhookImpl(this);
    }
}
exports.Hook = Hook;
const HANDLER_KEYS = new Set(['onEntry', 'onExit', 'maxActive']);
function validateHandlers(h) {
    if (h === undefined)
        return {};
    if (typeof h !== 'object' || h === null)
        throw new TypeError('Expected the second argument to be an object of handlers');
    for (const k of Object.keys(h)) {
        if (!HANDLER_KEYS.has(k))
            throw new TypeError(`Unknown hook option '${k}'`);
    }
    const o = h;
    if (o.onEntry !== undefined && typeof o.onEntry !== 'function')
        throw new TypeError('Expected onEntry to be a function');
    if (o.onExit !== undefined && typeof o.onExit !== 'function')
        throw new TypeError('Expected onExit to be a function');
    if (o.maxActive !== undefined && (!Number.isInteger(o.maxActive) || o.maxActive < 1))
        throw new TypeError('Expected maxActive to be a positive integer');
    return o;
}
