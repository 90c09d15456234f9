// Mutants of ELF files for the reader's fuzz tests (test/unit/elf-fuzz.test.ts,
// and `npm run fuzz` for a longer run): bit flips, truncations, random
// offsets overwritten, header and section fields set to hostile values, and
// string tables stripped of their NULs. Deterministic for a given seed.
'use strict';

/** A small fast PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0xffffffffffffffffn, 0xfffffffffffff000n];

/** Section header table entries: [offset of the entry, type] (from the pristine file). */
function sections(b) {
  const shoff = Number(b.readBigUInt64LE(40));
  const shnum = b.readUInt16LE(60);
  const out = [];
  for (let i = 0; i < shnum && shoff + (i + 1) * 64 <= b.length; i++) out.push({ at: shoff + i * 64, type: b.readUInt32LE(shoff + i * 64 + 4), offset: Number(b.readBigUInt64LE(shoff + i * 64 + 24)), size: Number(b.readBigUInt64LE(shoff + i * 64 + 32)) });
  return out;
}

function write(b, at, width, value) {
  if (at < 0 || at + width > b.length) return;
  if (width === 1) b[at] = Number(value & 0xffn);
  else if (width === 2) b.writeUInt16LE(Number(value & 0xffffn), at);
  else if (width === 4) b.writeUInt32LE(Number(value & 0xffffffffn), at);
  else b.writeBigUInt64LE(value & 0xffffffffffffffffn, at);
}

/** The `i`th mutant of `seed` (a Buffer), with a word for what was done. */
function mutant(seed, i, baseSeed = 1) {
  const r = rng(baseSeed * 1000003 + i);
  const pick = (n) => Math.floor(r() * n);
  const value = () => (r() < 0.5 ? HOSTILE[pick(HOSTILE.length)] : BigInt(pick(2 ** 32)) * (r() < 0.3 ? 0x100000000n : 1n));
  const b = Buffer.from(seed);
  const secs = sections(seed);
  const kind = pick(7);
  switch (kind) {
    case 0: {
      const n = 1 + pick(8);
      for (let k = 0; k < n; k++) b[pick(b.length)] ^= 1 << pick(8);
      return { kind: 'bit flips', buf: b };
    }
    case 1:
      return { kind: 'truncation', buf: b.subarray(0, pick(b.length)) };
    case 2: {
      const n = 1 + pick(4);
      for (let k = 0; k < n; k++) write(b, pick(b.length), [1, 2, 4, 8][pick(4)], value());
      return { kind: 'random overwrite', buf: b };
    }
    case 3: {
      // An ELF header field: e_entry, e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx.
      const f = [[24, 8], [32, 8], [40, 8], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2]][pick(8)];
      write(b, f[0], f[1], value());
      return { kind: 'header field', buf: b };
    }
    case 4: {
      // A section header field: type, offset, size, link, entsize.
      const s = secs[pick(secs.length)];
      if (s) {
        const f = [[4, 4], [24, 8], [32, 8], [40, 4], [56, 8]][pick(5)];
        write(b, s.at + f[0], f[1], value());
      }
      return { kind: 'section field', buf: b };
    }
    case 5: {
      // A symbol's name, value or size (in .symtab or .dynsym).
      const tabs = secs.filter((s) => s.type === 2 || s.type === 11);
      const t = tabs[pick(tabs.length)];
      if (t && t.size >= 24) {
        const at = t.offset + 24 * pick(Math.floor(t.size / 24));
        const f = [[0, 4], [8, 8], [16, 8], [4, 1], [6, 2]][pick(5)];
        write(b, at + f[0], f[1], value());
      }
      return { kind: 'symbol field', buf: b };
    }
    default: {
      // A string table without NULs.
      const strs = secs.filter((s) => s.type === 3 && s.offset + s.size <= b.length);
      const s = strs[pick(strs.length)];
      if (s) for (let o = s.offset; o < s.offset + s.size; o++) if (b[o] === 0) b[o] = 0x41;
      return { kind: 'string table without NUL', buf: b };
    }
  }
}

/**
 * Run `count` mutants of each seed through `parse(name, buf)`: every outcome
 * must be success or an error `isExpected` accepts, each within `limitMs`.
 * Returns counts per outcome and the slowest input.
 */
function fuzz({ seeds, count, parse, isExpected, limitMs, baseSeed = 1 }) {
  const res = { mutants: 0, ok: 0, rejected: 0, unexpected: [], slow: [], slowestMs: 0, kinds: {} };
  for (const [name, seed] of seeds) {
    for (let i = 0; i < count; i++) {
      const m = mutant(seed, i, baseSeed);
      res.mutants++;
      res.kinds[m.kind] = (res.kinds[m.kind] ?? 0) + 1;
      const t0 = process.hrtime.bigint();
      try {
        parse(`${name}#${i}`, m.buf);
        res.ok++;
      } catch (e) {
        if (isExpected(e)) res.rejected++;
        else if (res.unexpected.length < 10) res.unexpected.push(`${name}#${i} (${m.kind}): ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
        else res.unexpected.push('...');
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      res.slowestMs = Math.max(res.slowestMs, ms);
      if (ms > limitMs) res.slow.push(`${name}#${i} (${m.kind}): ${ms.toFixed(1)} ms`);
    }
  }
  return res;
}

module.exports = { mutant, fuzz, rng };
