"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ExitContext = exports.EntryContext = exports.CallContext = void 0;
class CallContext {
    host;
    pid;
    tid;
    address;
    args;
    returnAddress;
    stackPointer;
    depth;
    /** Per-call storage: what onEntry puts here, onExit of the same call sees. */
    data = undefined;
    /** @internal */ _live = true;
    /** Name of the hooked function (demangled for C++). */
    function;
    constructor(
    /** @internal */ host, pid, tid, fn, address, 
    /** The first integer arguments (6 on x86-64), as at entry. */
    args, 
    /** Where the call returns to (the real address, never the trampoline). */
    returnAddress, 
    /** Stack pointer at the function's first instruction: identifies the frame. */
    stackPointer, 
    /** Nesting of hooked calls on this thread (0 = outermost). */
    depth) {
        this.host = host;
        this.pid = pid;
        this.tid = tid;
        this.address = address;
        this.args = args;
        this.returnAddress = returnAddress;
        this.stackPointer = stackPointer;
        this.depth = depth;
        this.function = fn;
    }
    check() {
        if (!this._live)
            throw new Error('rethook: a context was used after its handler returned');
    }
    readMemory(addr, length) {
        this.check();
        return this.host.readMemory(this.pid, addr, length);
    }
    readCString(addr, max = 4096) {
        this.check();
        return this.host.readCString(this.pid, addr, max);
    }
    /** The thread's call stack, symbolized, with trampoline addresses replaced by the real ones. */
    backtrace() {
        this.check();
        return this.host.backtrace(this.tid, this.address, this.returnAddress);
    }
}
exports.CallContext = CallContext;
class EntryContext extends CallContext {
    /** @internal */ _action = { kind: 'continue' };
    /** Do not run the function: return `retval` to its caller at once (no onExit). */
    skip(retval = 0n) {
        this.check();
        this._action = { kind: 'skip', retval: BigInt.asUintN(64, BigInt(retval)) };
    }
    /**
     * Run another function of the tracee (same signature) instead. Calls made
     * from inside the replacement itself are not redirected, so it may call the
     * original. onExit still runs when the replacement returns.
     */
    redirect(target) {
        this.check();
        const fn = this.host.resolveFunction(this.pid, target);
        if (this.returnAddress >= fn.address && this.returnAddress < fn.address + Math.max(fn.size, 1))
            return;
        this._action = { kind: 'redirect', address: fn.address };
    }
}
exports.EntryContext = EntryContext;
class ExitContext extends CallContext {
    retval;
    durationNs;
    unwound;
    reason;
    retvalIndex;
    constructor(host, pid, tid, fn, address, args, returnAddress, stackPointer, depth, 
    /** Integer return value register (rax / x0); 0n when unwound. */
    retval, durationNs, 
    /** True when the function did not return: its frame was unwound. */
    unwound, reason, retvalIndex) {
        super(host, pid, tid, fn, address, args, returnAddress, stackPointer, depth);
        this.retval = retval;
        this.durationNs = durationNs;
        this.unwound = unwound;
        this.reason = reason;
        this.retvalIndex = retvalIndex;
    }
    /** Floating-point return value (xmm0 / d0) as a double. */
    get fpRetval() {
        this.check();
        return this.unwound ? 0 : this.host.fpRetval(this.tid);
    }
    /** Replace the integer return value the caller sees. */
    setReturnValue(value) {
        this.check();
        if (this.unwound)
            throw new Error('rethook: an unwound call has no return value to replace');
        this.host.setRegister(this.retvalIndex, BigInt.asUintN(64, BigInt(value)));
    }
    /** Replace the floating-point return value the caller sees. */
    setFpReturnValue(value) {
        this.check();
        if (this.unwound)
            throw new Error('rethook: an unwound call has no return value to replace');
        this.host.setFpRetval(this.tid, value);
    }
}
exports.ExitContext = ExitContext;
