export interface ElfSymbol {
    name: string;
    /** Address as linked (add the module's load bias). */
    value: number;
    size: number;
    /** STT_GNU_IFUNC: `value` is a resolver that returns the implementation. */
    ifunc?: boolean;
}
export interface ElfFile {
    path: string;
    type: 'exec' | 'dyn';
    entry: number;
    /** Lowest PT_LOAD virtual address, page-aligned down. */
    firstLoadVaddr: number;
    interp: string | null;
    functions: ElfSymbol[];
    /** Defined data objects (for _r_debug and the like). */
    objects: ElfSymbol[];
}
export declare function readElf(path: string): ElfFile;
export declare function isElf(path: string): boolean;
export declare function parseElf(path: string, b: Buffer): ElfFile;
