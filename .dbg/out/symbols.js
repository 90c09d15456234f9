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
exports.Module = void 0;
exports.modulesFromMaps = modulesFromMaps;
exports.parsePattern = parsePattern;
exports.globToRegExp = globToRegExp;
exports.moduleMatches = moduleMatches;
exports.matchFunctions = matchFunctions;
exports.closeNames = closeNames;
// Modules mapped into a tracee and function lookup by name, glob and scope.
const path = __importStar(require("path"));
const elf_1 = require("./elf");
const native_1 = require("./native");
class Module {
    path;
    elf;
    bias;
    start;
    end;
    name;
    fns = null;
    constructor(path, elf, 
    /** Load bias: runtime address = link-time address + bias. */
    bias, start, end) {
        this.path = path;
        this.elf = elf;
        this.bias = bias;
        this.start = start;
        this.end = end;
        this.name = path.startsWith('[') ? path : pathBasename(path);
    }
    functions() {
        if (this.fns)
            return this.fns;
        // A `.cold` part of a function split by the compiler is entered by a jump,
        // never called: it has no return address to hook.
        const raw = this.elf.functions.filter((f) => !/\.cold(\.\d+)?$/.test(f.name));
        const mangled = raw.filter((s) => s.name.startsWith('_Z')).map((s) => s.name);
        const dm = new Map();
        if (mangled.length)
            (0, native_1.demangle)(mangled).forEach((d, i) => dm.set(mangled[i], d));
        this.fns = raw.map((s) => ({
            name: dm.get(s.name) ?? stripVersion(s.name),
            rawName: s.name,
            address: s.value + this.bias,
            size: s.size,
            module: this,
            ifunc: s.ifunc,
        }));
        return this.fns;
    }
    object(name) {
        const s = this.elf.objects.find((o) => o.name === name);
        return s ? s.value + this.bias : null;
    }
    contains(addr) {
        return addr >= this.start && addr < this.end;
    }
}
exports.Module = Module;
function pathBasename(p) {
    return path.basename(p.replace(/ \(deleted\)$/, ''));
}
function stripVersion(n) {
    const at = n.indexOf('@');
    return at > 0 ? n.slice(0, at) : n;
}
/** Group file-backed mappings into modules with their load bias. */
function modulesFromMaps(maps, known) {
    const byPath = new Map();
    for (const m of maps) {
        if (!m.path.startsWith('/') || m.inode === 0)
            continue;
        let list = byPath.get(m.path);
        if (!list)
            byPath.set(m.path, (list = []));
        list.push(m);
    }
    const out = [];
    for (const [p, list] of byPath) {
        const start = Math.min(...list.map((m) => m.start));
        const end = Math.max(...list.map((m) => m.end));
        const prev = known.get(p);
        if (prev && prev.start === start) {
            out.push(prev);
            continue;
        }
        let elf;
        try {
            elf = (0, elf_1.readElf)(p);
        }
        catch {
            continue; // not an ELF file we can read (a data file mapped by the program)
        }
        const first = list.filter((m) => m.offset === 0).map((m) => m.start);
        const base = first.length ? Math.min(...first) : start;
        const bias = elf.type === 'exec' ? 0 : base - elf.firstLoadVaddr;
        out.push(new Module(p, elf, bias, start, end));
    }
    return out;
}
function parsePattern(text) {
    const m = /^([^:]+):(?!:)(.+)$/.exec(text);
    const moduleText = m ? m[1] : null;
    const fnText = m ? m[2] : text;
    return {
        text,
        moduleText,
        module: moduleText ? globToRegExp(moduleText, true) : null,
        fn: globToRegExp(fnText, false),
        isGlob: /[*?[]/.test(fnText),
    };
}
function globToRegExp(glob, isModule) {
    let re = '';
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === '*')
            re += '.*';
        else if (c === '?')
            re += '.';
        else if (c === '[') {
            const close = glob.indexOf(']', i + 1);
            if (close < 0)
                re += '\\[';
            else {
                re += '[' + glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
                i = close;
            }
        }
        else
            re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
    // A module given as "libz.so" also names "libz.so.1".
    return new RegExp(isModule ? `^${re}(\\..*)?$` : `^${re}$`);
}
function moduleMatches(p, mod) {
    return !p.module || p.module.test(mod.name);
}
/** Functions of `mod` the pattern names: raw, demangled, or demangled without its parameters. */
function matchFunctions(p, mod) {
    if (!moduleMatches(p, mod))
        return [];
    const out = [];
    for (const f of mod.functions()) {
        if (p.fn.test(f.name) || p.fn.test(f.rawName))
            out.push(f);
        else if (f.name !== f.rawName) {
            const paren = f.name.indexOf('(');
            if (paren > 0 && p.fn.test(f.name.slice(0, paren)))
                out.push(f);
        }
    }
    return out;
}
/** Up to three names close to `wanted` (edit distance), for "did you mean". */
function closeNames(wanted, names) {
    const w = wanted.replace(/^[^:]+:(?!:)/, '').replace(/[*?[\]]/g, '');
    const limit = Math.max(2, Math.floor(w.length / 3));
    const scored = [];
    const seen = new Set();
    for (const n of names) {
        if (seen.has(n) || Math.abs(n.length - w.length) > limit)
            continue;
        seen.add(n);
        const d = editDistance(w, n, limit);
        if (d <= limit)
            scored.push([d, n]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    return scored.slice(0, 3).map((s) => s[1]);
}
function editDistance(a, b, limit) {
    let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        const cur = [i];
        let rowMin = i;
        for (let j = 1; j <= b.length; j++) {
            cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
            rowMin = Math.min(rowMin, cur[j]);
        }
        if (rowMin > limit)
            return limit + 1;
        prev = cur;
    }
    return prev[b.length];
}
