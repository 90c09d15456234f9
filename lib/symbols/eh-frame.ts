// Where the functions of an object begin and end, by its call frame
// information: the sorted index of .eh_frame_hdr (PT_GNU_EH_FRAME) and, for
// each entry, its FDE's address range. A stripped object names only its
// exported functions; its FDEs still bound every function that has CFI, the
// IFUNC implementations (__strlen_avx2, ...) among them, which fast mode must
// decode whole.
//
// Read from the process's memory (the image as loaded, relocated), never
// trusted: every read is checked against what was read, and damage ends the
// parse with what was found so far (an object without usable CFI has none).

/** A function's extent as the CFI says: [start, end), runtime addresses. */
export interface CodeRange {
  start: number;
  end: number;
}

const MAX_HDR = 16 * 1024 * 1024;
const MAX_EH_FRAME = 64 * 1024 * 1024;
const MAX_ENTRIES = 1 << 22;

// DW_EH_PE_*: the value's format (low nibble) and what it is relative to (bits 4-6).
const PE_OMIT = 0xff, PE_ULEB = 0x01, PE_SLEB = 0x09;
const PE_ABS = 0x00, PE_PCREL = 0x10, PE_DATAREL = 0x30;

class Damage extends Error {}

/** A buffer read from `base` in the tracee; offsets checked. */
class Bytes {
  constructor(readonly b: Buffer, readonly base: number) {}
  at(addr: number, n: number): number {
    const o = addr - this.base;
    if (!Number.isSafeInteger(o) || o < 0 || o + n > this.b.length) throw new Damage(`read of ${n} bytes at 0x${addr.toString(16)} out of bounds`);
    return o;
  }
  u8(addr: number): number {
    return this.b[this.at(addr, 1)];
  }
  u32(addr: number): number {
    return this.b.readUInt32LE(this.at(addr, 4));
  }
  /** A LEB128 at `addr`: [value, bytes taken]. */
  leb(addr: number, signed: boolean): [number, number] {
    let v = 0, shift = 0, n = 0, byte: number;
    do {
      byte = this.u8(addr + n++);
      if (shift < 49) v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && n < 10);
    if (signed && byte & 0x40 && shift < 53) v -= 2 ** shift;
    return [v, n];
  }
  /** A DW_EH_PE-encoded value at `addr`: [value as stored, bytes taken]. */
  raw(addr: number, enc: number): [number, number] {
    const o = () => this.at(addr, sizeOf(enc));
    switch (enc & 0x0f) {
      case PE_ULEB: return this.leb(addr, false);
      case PE_SLEB: return this.leb(addr, true);
      case 0x02: return [this.b.readUInt16LE(o()), 2];
      case 0x0a: return [this.b.readInt16LE(o()), 2];
      case 0x03: return [this.b.readUInt32LE(o()), 4];
      case 0x0b: return [this.b.readInt32LE(o()), 4];
      case 0x00: case 0x04: return [Number(this.b.readBigUInt64LE(o())), 8];
      case 0x0c: return [Number(this.b.readBigInt64LE(o())), 8];
    }
    throw new Damage(`pointer encoding 0x${enc.toString(16)}`);
  }
}

function sizeOf(enc: number): number {
  switch (enc & 0x0f) {
    case 0x02: case 0x0a: return 2;
    case 0x03: case 0x0b: return 4;
    default: return 8;
  }
}

/** An encoded pointer's address: relative to the field (pcrel) or to .eh_frame_hdr (datarel); absolute ones only unbiased. */
function pointer(value: number, enc: number, field: number, hdr: number, bias: number): number {
  if (enc & 0x80) throw new Damage('indirect pointer');
  switch (enc & 0x70) {
    case PE_ABS: if (bias !== 0) throw new Damage('absolute pointer in a relocated object'); return value;
    case PE_PCREL: return field + value;
    case PE_DATAREL: return hdr + value;
  }
  throw new Damage(`pointer application 0x${(enc & 0x70).toString(16)}`);
}

/**
 * The functions' extents that an object's .eh_frame_hdr indexes, sorted by
 * start. `hdr`: its runtime address and size; `segmentEnd`: the end of the
 * loaded segment holding an address (a bound for reading .eh_frame), or null;
 * `bias`: the object's load bias. Damage: what was read before it.
 */
export function codeRanges(
  read: (addr: number, len: number) => Buffer | null,
  hdr: { addr: number; size: number },
  segmentEnd: (addr: number) => number | null,
  bias: number,
): CodeRange[] {
  const out: CodeRange[] = [];
  try {
    const hb = read(hdr.addr, Math.min(hdr.size, MAX_HDR));
    if (!hb || hb.length < 4) return out;
    const h = new Bytes(hb, hdr.addr);
    if (h.u8(hdr.addr) !== 1) return out;
    const ptrEnc = h.u8(hdr.addr + 1), countEnc = h.u8(hdr.addr + 2), tableEnc = h.u8(hdr.addr + 3);
    if (ptrEnc === PE_OMIT || countEnc === PE_OMIT || tableEnc === PE_OMIT) return out;
    let p = hdr.addr + 4;
    const [ehRaw, n1] = h.raw(p, ptrEnc);
    const ehFrame = pointer(ehRaw, ptrEnc, p, hdr.addr, bias);
    p += n1;
    const [count, n2] = h.raw(p, countEnc);
    p += n2;
    if (count < 0 || count > MAX_ENTRIES) throw new Damage(`${count} entries`);
    const end = segmentEnd(ehFrame);
    if (end === null || !(end > ehFrame)) return out;
    const ehLen = Math.min(end - ehFrame, MAX_EH_FRAME);
    const eb = read(ehFrame, ehLen);
    if (!eb) return out;
    const e = new Bytes(eb, ehFrame);
    const fdeEncOf = new Map<number, number>();
    const step = 2 * sizeOf(tableEnc);
    for (let i = 0; i < count; i++, p += step) {
      const [locRaw, a] = h.raw(p, tableEnc);
      const [fdeRaw] = h.raw(p + a, tableEnc);
      const start = pointer(locRaw, tableEnc, p, hdr.addr, bias);
      const fde = pointer(fdeRaw, tableEnc, p + a, hdr.addr, bias);
      const len = e.u32(fde);
      if (len === 0 || len === 0xffffffff) continue; // a terminator, or 64-bit DWARF (not in .eh_frame in practice)
      const cie = fde + 4 - e.u32(fde + 4);
      let enc = fdeEncOf.get(cie);
      if (enc === undefined) fdeEncOf.set(cie, (enc = fdeEncoding(e, cie)));
      // pc_begin (same as `start`), then pc_range in the same format, unrelocated.
      const [, skip] = e.raw(fde + 8, enc & 0x0f);
      const [range] = e.raw(fde + 8 + skip, enc & 0x0f);
      if (range > 0 && range < 2 ** 32) out.push({ start, end: start + range });
    }
  } catch (err) {
    if (!(err instanceof Damage)) throw err;
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The pointer encoding of a CIE's FDEs (its augmentation's 'R'; absolute when none). */
function fdeEncoding(e: Bytes, cie: number): number {
  const len = e.u32(cie);
  if (len === 0 || len === 0xffffffff || e.u32(cie + 4) !== 0) throw new Damage('not a CIE');
  const version = e.u8(cie + 8);
  let p = cie + 9;
  let aug = '';
  for (let c = e.u8(p++); c !== 0; c = e.u8(p++)) {
    aug += String.fromCharCode(c);
    if (aug.length > 16) throw new Damage('augmentation string');
  }
  if (!aug.startsWith('z')) return PE_ABS;
  if (version >= 4) p += 2; // address_size, segment_size
  p += e.leb(p, false)[1]; // code alignment
  p += e.leb(p, true)[1]; // data alignment
  p += version === 1 ? 1 : e.leb(p, false)[1]; // return address register
  p += e.leb(p, false)[1]; // augmentation data length
  for (const c of aug.slice(1)) {
    if (c === 'R') return e.u8(p);
    if (c === 'L') p += 1;
    else if (c === 'P') {
      const penc = e.u8(p);
      p += 1 + e.raw(p + 1, penc & 0x0f)[1];
    } else if (c !== 'S' && c !== 'B' && c !== 'G') throw new Damage(`augmentation '${aug}'`);
  }
  return PE_ABS;
}

/** The range starting exactly at `addr`, by binary search, or null. */
export function rangeAt(ranges: CodeRange[], addr: number): CodeRange | null {
  let lo = 0, hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid].start < addr) lo = mid + 1;
    else hi = mid;
  }
  return lo < ranges.length && ranges[lo].start === addr ? ranges[lo] : null;
}
