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
exports.readMaps = readMaps;
exports.findGap = findGap;
// /proc/PID parsing: memory maps and the auxiliary vector.
const fs = __importStar(require("fs"));
function readMaps(pid) {
    const out = [];
    for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
        if (!m)
            continue;
        out.push({
            start: parseInt(m[1], 16),
            end: parseInt(m[2], 16),
            perms: m[3],
            offset: parseInt(m[4], 16),
            inode: Number(m[5]),
            path: m[6],
        });
    }
    return out;
}
/** Largest free gap within [lo, hi) of at least `size` bytes, nearest to `near`. */
function findGap(maps, near, reach, size) {
    const sorted = [...maps].sort((a, b) => a.start - b.start);
    const lo = Math.max(0x10000, near - reach);
    // The top of user space is the end of the highest user mapping (the stack:
    // 2^47 on x86-64, 2^48 on arm64), never a kernel-half one ([vsyscall]).
    const top = Math.max(0, ...sorted.filter((m) => m.start < 2 ** 63).map((m) => m.end));
    const hi = Math.min(top, near + reach);
    let best = null;
    let prevEnd = 0x10000;
    const consider = (gapStart, gapEnd) => {
        const s = Math.max(gapStart, lo);
        const e = Math.min(gapEnd, hi);
        if (e - s < size)
            return;
        // The candidate in [s, e-size] closest to near, page-aligned.
        let c = Math.min(Math.max(near, s), e - size);
        c = Math.floor(c / 4096) * 4096;
        if (c < s)
            c += 4096;
        if (c + size > e)
            return;
        if (best === null || Math.abs(c - near) < Math.abs(best - near))
            best = c;
    };
    for (const m of sorted) {
        // Leave a page free between regions: stacks and heaps grow into gaps.
        if (m.start > prevEnd)
            consider(prevEnd + 0x100000, m.start - 0x100000);
        prevEnd = Math.max(prevEnd, m.end);
    }
    return best;
}
