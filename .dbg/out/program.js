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
exports.signalName = signalName;
exports.resolveProgram = resolveProgram;
// Finding the program to start, and naming signals.
const fs = __importStar(require("fs"));
const os = __importStar(require("os"));
const path = __importStar(require("path"));
const elf_1 = require("./elf");
const errors_1 = require("./errors");
function signalName(n) {
    for (const [name, num] of Object.entries(os.constants.signals)) {
        if (num === n)
            return name;
    }
    return `SIG${n}`;
}
/** The executable `file` names (a path, or a name looked up in PATH), checked to be one we can trace. */
function resolveProgram(file, envPath = process.env.PATH ?? '') {
    if (typeof file !== 'string' || file === '')
        throw new TypeError('Expected the program to be a non-empty string');
    const candidates = file.includes('/') ? [path.resolve(file)] : envPath.split(':').filter(Boolean).map((d) => path.join(d, file));
    for (const c of candidates) {
        let st;
        try {
            st = fs.statSync(c);
        }
        catch {
            continue;
        }
        if (!st.isFile())
            throw new errors_1.RethookError(`${file} is not a regular file`);
        try {
            fs.accessSync(c, fs.constants.X_OK);
        }
        catch {
            throw new errors_1.RethookError(`${file} is not executable`);
        }
        if (!(0, elf_1.isElf)(c))
            throw new errors_1.RethookError(`${file} is not an ELF executable (scripts are not traced; name their interpreter)`);
        return c;
    }
    throw new errors_1.RethookError(`${file}: no such program`);
}
