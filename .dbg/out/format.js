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
exports.TextFormat = exports.JsonFormat = exports.Sink = void 0;
exports.formatDuration = formatDuration;
// Output formats of the CLI: an indented call tree (like a function-graph
// tracer) and JSON lines. Field names of the JSON events are stable: other
// tools parse them.
const fs = __importStar(require("fs"));
const hex = (v) => '0x' + v.toString(16);
/** Buffered writes to a file descriptor: one syscall per batch of events, not per event. */
class Sink {
    fd;
    buf = [];
    size = 0;
    scheduled = false;
    constructor(fd) {
        this.fd = fd;
    }
    write(s) {
        this.buf.push(s);
        this.size += s.length;
        if (this.size > 1 << 16)
            this.flush();
        else if (!this.scheduled) {
            this.scheduled = true;
            setImmediate(() => this.flush());
        }
    }
    flush() {
        this.scheduled = false;
        if (!this.buf.length)
            return;
        const s = this.buf.join('');
        this.buf = [];
        this.size = 0;
        fs.writeSync(this.fd, s);
    }
}
exports.Sink = Sink;
function formatDuration(ns) {
    const n = Number(ns);
    if (n < 1e3)
        return `${n} ns`;
    if (n < 1e6)
        return `${(n / 1e3).toFixed(1)} us`;
    if (n < 1e9)
        return `${(n / 1e6).toFixed(1)} ms`;
    return `${(n / 1e9).toFixed(2)} s`;
}
class JsonFormat {
    out;
    backtraces;
    constructor(out, backtraces = false) {
        this.out = out;
        this.backtraces = backtraces;
    }
    entry(c) {
        const o = {
            type: 'entry', pid: c.pid, tid: c.tid, function: c.function, address: hex(c.address), depth: c.depth,
            args: c.args.map(hex),
        };
        if (this.backtraces) {
            const bt = c.backtrace();
            o.backtrace = bt.frames.slice(1).map((f) => f.symbol);
            o.backtraceReliable = bt.reliable;
        }
        this.out.write(JSON.stringify(o) + '\n');
    }
    exit(c) {
        const o = {
            type: 'exit', pid: c.pid, tid: c.tid, function: c.function, depth: c.depth, retval: hex(c.retval),
            unwound: c.unwound, durationNs: Number(c.durationNs),
        };
        if (c.reason)
            o.reason = c.reason;
        this.out.write(JSON.stringify(o) + '\n');
    }
    note(obj) {
        this.out.write(JSON.stringify(obj) + '\n');
    }
    flush() {
        this.out.flush();
    }
}
exports.JsonFormat = JsonFormat;
/**
 * The call tree. A call with no hooked call inside it takes one line
 * (`f(args) = ret <time>`); one with nested calls opens a block.
 */
class TextFormat {
    out;
    nargs;
    backtraces;
    /** Per thread: the entry line not printed yet (a leaf so far), and its backtrace suffix. */
    pending = new Map();
    suffix = new Map();
    constructor(out, nargs, backtraces = false) {
        this.out = out;
        this.nargs = nargs;
        this.backtraces = backtraces;
    }
    prefix(tid, depth) {
        return `${String(tid).padStart(7)} ${'  '.repeat(depth)}`;
    }
    entry(c) {
        this.flushPending(c.tid);
        const args = c.args.slice(0, this.nargs).map(hex).join(', ');
        this.pending.set(c.tid, `${this.prefix(c.tid, c.depth)}${c.function}(${args})`);
        if (this.backtraces) {
            const bt = c.backtrace();
            this.suffix.set(c.tid, `  <- ${bt.frames.slice(1).map((f) => f.symbol).join(' <- ')}${bt.reliable ? '' : ' (unreliable)'}`);
        }
    }
    exit(c) {
        const outcome = c.unwound ? `unwound (${c.reason})` : `= ${hex(c.retval)}`;
        const time = `<${formatDuration(c.durationNs)}>`;
        const head = this.pending.get(c.tid);
        if (head !== undefined) {
            this.pending.delete(c.tid);
            this.out.write(`${head} ${outcome} ${time}${this.takeSuffix(c.tid)}\n`);
        }
        else {
            this.out.write(`${this.prefix(c.tid, c.depth)}} ${outcome} ${time} /* ${c.function} */\n`);
        }
    }
    note(_obj, text) {
        for (const tid of [...this.pending.keys()])
            this.flushPending(tid);
        if (text)
            this.out.write(`rethook: ${text}\n`);
    }
    flush() {
        this.out.flush();
    }
    flushPending(tid) {
        const head = this.pending.get(tid);
        if (head === undefined)
            return;
        this.pending.delete(tid);
        this.out.write(`${head} {${this.takeSuffix(tid)}\n`);
    }
    takeSuffix(tid) {
        const s = this.suffix.get(tid) ?? '';
        this.suffix.delete(tid);
        return s;
    }
}
exports.TextFormat = TextFormat;
