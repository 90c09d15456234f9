import { ElfFile } from './elf';
import { Mapping } from './procfs';
export interface FunctionSymbol {
    /** Display name: demangled for C++. */
    name: string;
    rawName: string;
    address: number;
    size: number;
    module: Module;
    /** An IFUNC: `address` is its resolver; the implementation is asked for at hook time. */
    ifunc?: boolean;
}
export declare class Module {
    readonly path: string;
    readonly elf: ElfFile;
    /** Load bias: runtime address = link-time address + bias. */
    readonly bias: number;
    readonly start: number;
    readonly end: number;
    readonly name: string;
    private fns;
    constructor(path: string, elf: ElfFile, 
    /** Load bias: runtime address = link-time address + bias. */
    bias: number, start: number, end: number);
    functions(): FunctionSymbol[];
    object(name: string): number | null;
    contains(addr: number): boolean;
}
/** Group file-backed mappings into modules with their load bias. */
export declare function modulesFromMaps(maps: Mapping[], known: Map<string, Module>): Module[];
/** A parsed -f pattern: `[module:]glob`. C++ names may contain `::`. */
export interface Pattern {
    text: string;
    module: RegExp | null;
    moduleText: string | null;
    fn: RegExp;
    isGlob: boolean;
}
export declare function parsePattern(text: string): Pattern;
export declare function globToRegExp(glob: string, isModule: boolean): RegExp;
export declare function moduleMatches(p: Pattern, mod: Module): boolean;
/** Functions of `mod` the pattern names: raw, demangled, or demangled without its parameters. */
export declare function matchFunctions(p: Pattern, mod: Module): FunctionSymbol[];
/** Up to three names close to `wanted` (edit distance), for "did you mean". */
export declare function closeNames(wanted: string, names: Iterable<string>): string[];
