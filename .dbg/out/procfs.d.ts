export interface Mapping {
    start: number;
    end: number;
    perms: string;
    offset: number;
    inode: number;
    path: string;
}
export declare function readMaps(pid: number): Mapping[];
/** Largest free gap within [lo, hi) of at least `size` bytes, nearest to `near`. */
export declare function findGap(maps: Mapping[], near: number, reach: number, size: number): number | null;
