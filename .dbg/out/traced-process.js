"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.Proc = void 0;
exports.hex = hex;
// What the tracer keeps about each traced process and thread: hook sites,
// injected pages, loaded objects, shadow stacks; and lookups over them.
const fs = __importStar(require("fs"));
const errors_1 = require("./errors");
const pages_1 = require("./pages");
const procfs_1 = require("./procfs");
function hex(n) {
    return '0x' + n.toString(16);
}
class Proc {
    pid;
    pages;
    modules = new Map();
    sites = new Map();
    /** Breakpoints removed while threads ran: a trap already raised there is stale, not the program's. */
    removed = new Set();
    threads = new Map();
    rDebug = 0;
    /** IFUNC resolver address -> implementation it picked (0: none). */
    ifuncs = new Map();
    phase = 'ready';
    /** A vfork child we do not follow: traced only until it execs, its breakpoints stepped over silently. */
    silent = false;
    startupDone = false;
    constructor(nat, pid) {
        this.pid = pid;
        this.pages = new pages_1.InjectedPages(nat, pid);
    }
    /** The function starting exactly at `addr`. */
    functionAt(addr) {
        for (const m of this.modules.values()) {
            if (!m.contains(addr))
                continue;
            const f = m.functions().find((s) => s.address === addr);
            if (f)
                return f;
        }
        throw new errors_1.RethookError(`${hex(addr)} is not the start of a known function`);
    }
    /** The function containing `addr`, if its size is known. */
    functionNameAt(addr) {
        for (const m of this.modules.values()) {
            if (!m.contains(addr))
                continue;
            const best = nearestBelow(m, addr);
            return best && addr < best.address + Math.max(best.size, 1) ? best.name : null;
        }
        return null;
    }
    /** `module!function+0xoff`, `module+0xoff`, or the bare address. */
    symbolize(addr) {
        for (const m of this.modules.values()) {
            if (!m.contains(addr))
                continue;
            const best = nearestBelow(m, addr);
            return best ? `${m.name}!${best.name}+${hex(addr - best.address)}` : `${m.name}+${hex(addr - m.start)}`;
        }
        return hex(addr);
    }
    inSomeModule(addr) {
        for (const m of this.modules.values())
            if (m.contains(addr))
                return true;
        return false;
    }
    /**
     * The mapping of a thread's own stack: [stack] for the main thread (sp < 0),
     * else the mapping holding `sp`, taken where the thread is surely on its own
     * stack (its first stop after clone or attach). [stack] grows: its range
     * reaches 64 MiB below the mapping.
     */
    stackRange(sp) {
        for (const m of (0, procfs_1.readMaps)(this.pid)) {
            const mine = sp < 0 ? m.path === '[stack]' : sp >= m.start && sp < m.end;
            if (mine)
                return m.path === '[stack]' ? [m.end - 64 * 1024 * 1024, m.end] : [m.start, m.end];
        }
        return [0, Number.MAX_SAFE_INTEGER];
    }
    /**
     * A CET user shadow stack would fault on our rewritten return addresses
     * (the kernel updates it for its own uretprobes; ptrace cannot): refuse.
     */
    refuseShadowStack() {
        let status = '';
        try {
            status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
        }
        catch {
            return;
        }
        const m = /^x86_Thread_features:\s*(.*)$/m.exec(status);
        if (m && /\bshstk\b/.test(m[1]))
            throw new errors_1.RethookError(`process ${this.pid} runs with a CET shadow stack (x86_Thread_features: ${m[1].trim()}): hooking returns would crash it`);
    }
}
exports.Proc = Proc;
function nearestBelow(m, addr) {
    let best = null;
    for (const f of m.functions())
        if (f.address <= addr && (!best || f.address > best.address))
            best = f;
    return best;
}
