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
exports.readElf = readElf;
exports.isElf = isElf;
exports.parseElf = parseElf;
// Just enough ELF64 to find functions: header, program headers, and the
// symbols of .symtab (or .dynsym when the file is stripped).
const fs = __importStar(require("fs"));
const errors_1 = require("./errors");
const cache = new Map();
function readElf(path) {
    let st;
    try {
        st = fs.statSync(path);
    }
    catch (e) {
        throw new errors_1.RethookError(`cannot read ${path}: ${e.code}`);
    }
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs)
        return hit.elf;
    const elf = parseElf(path, fs.readFileSync(path));
    cache.set(path, { mtimeMs: st.mtimeMs, elf });
    return elf;
}
function isElf(path) {
    try {
        const fd = fs.openSync(path, 'r');
        const b = Buffer.alloc(4);
        fs.readSync(fd, b, 0, 4, 0);
        fs.closeSync(fd);
        return b.toString('latin1') === '\x7fELF';
    }
    catch {
        return false;
    }
}
function parseElf(path, b) {
    if (b.length < 64 || b.toString('latin1', 0, 4) !== '\x7fELF')
        throw new errors_1.RethookError(`${path} is not an ELF file`);
    if (b[4] !== 2 || b[5] !== 1)
        throw new errors_1.RethookError(`${path} is not a 64-bit little-endian ELF file`);
    const u64 = (o) => Number(b.readBigUInt64LE(o));
    const etype = b.readUInt16LE(16);
    if (etype !== 2 && etype !== 3)
        throw new errors_1.RethookError(`${path} is not an executable or shared object`);
    const entry = u64(24);
    const phoff = u64(32);
    const shoff = u64(40);
    const phentsize = b.readUInt16LE(54);
    const phnum = b.readUInt16LE(56);
    const shentsize = b.readUInt16LE(58);
    const shnum = b.readUInt16LE(60);
    let firstLoad = Infinity;
    let interp = null;
    for (let i = 0; i < phnum; i++) {
        const o = phoff + i * phentsize;
        const ptype = b.readUInt32LE(o);
        if (ptype === 1)
            firstLoad = Math.min(firstLoad, u64(o + 16));
        if (ptype === 3)
            interp = b.toString('latin1', u64(o + 8), u64(o + 8) + u64(o + 32)).replace(/\0.*$/s, '');
    }
    const sections = [];
    for (let i = 0; i < shnum && shoff; i++) {
        const o = shoff + i * shentsize;
        sections.push({ type: b.readUInt32LE(o + 4), offset: u64(o + 24), size: u64(o + 32), link: b.readUInt32LE(o + 40), entsize: u64(o + 56) });
    }
    const symtab = sections.find((s) => s.type === 2) ?? sections.find((s) => s.type === 11);
    const functions = [];
    const objects = [];
    if (symtab && symtab.entsize) {
        const strtab = sections[symtab.link];
        for (let o = symtab.offset; o + 24 <= symtab.offset + symtab.size; o += symtab.entsize) {
            const info = b[o + 4];
            const shndx = b.readUInt16LE(o + 6);
            const type = info & 0xf;
            const isFunc = type === 2 || type === 10; // FUNC or IFUNC
            if ((!isFunc && type !== 1) || shndx === 0)
                continue; // defined only
            const value = u64(o + 8);
            if (!value)
                continue;
            const nameOff = strtab.offset + b.readUInt32LE(o);
            const end = b.indexOf(0, nameOff);
            const sym = { name: b.toString('latin1', nameOff, end), value, size: u64(o + 16) };
            if (type === 10)
                sym.ifunc = true;
            (isFunc ? functions : objects).push(sym);
        }
    }
    return {
        path,
        type: etype === 2 ? 'exec' : 'dyn',
        entry,
        firstLoadVaddr: firstLoad === Infinity ? 0 : Math.floor(firstLoad / 4096) * 4096,
        interp,
        functions,
        objects,
    };
}
