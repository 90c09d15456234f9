// A test-only encoder of version-3 records (and version 2, whose words are not XORed; docs/record-format.md), written
// from the format's description and independent of the writer
// (lib/record/write.ts): the reader's tests build records with it, valid and
// damaged ones.

type Obj = Record<string, unknown>;

export const enum Chunk {
  Sites = 1,
  Calls = 2,
  Note = 3,
  End = 4,
}

/** Unsigned LEB128 of a u64. */
export function varint(v: bigint | number): Buffer {
  let x = BigInt(v);
  const out: number[] = [];
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x) byte |= 0x80;
    out.push(byte);
  } while (x);
  return Buffer.from(out);
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u64 = (v: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};

export interface Site {
  id: number;
  pid: number;
  function: string;
  address: string;
  module: string;
  args: number;
  ret: boolean;
  fp: boolean;
  signature: unknown;
}

/** One record of a CALLS chunk. */
export type CallRec =
  | { kind: 'entry'; site: number; ts: number; depth: number; args?: bigint[]; fp?: number; strings?: [number, Buffer][]; extra?: Obj }
  | { kind: 'exit'; site: number; ts: number; depth: number; ret?: bigint; fp?: number; extra?: Obj; held?: number }
  | { kind: 'unwound'; site: number; ts: number; depth: number; reason: number; extra?: Obj; held?: number };

const double = (d: number | undefined) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d ?? 0);
  return b;
};

/**
 * The records of one CALLS payload (after pid, tid, baseTs), each ts made a dt
 * from the one before; `xor` (version 3): each argument and return word XOR
 * its site's last in the same slot in this payload.
 */
export function callRecords(sites: readonly Site[], baseTs: number, recs: readonly CallRec[], xor = true): Buffer {
  const parts: Buffer[] = [];
  let last = baseTs;
  const prev = new Map<number, bigint[]>();
  const word = (site: number, slot: number, v: bigint): Buffer => {
    if (!xor) return varint(v);
    let row = prev.get(site);
    if (!row) prev.set(site, (row = new Array<bigint>(17).fill(0n)));
    v = BigInt.asUintN(64, v);
    const x = v ^ row[slot];
    row[slot] = v;
    return varint(x);
  };
  for (const r of recs) {
    const kind = r.kind === 'entry' ? 1 : r.kind === 'exit' ? 2 : 3;
    const s = sites[r.site];
    parts.push(varint(kind + 8 * r.site), varint(Math.max(0, r.ts - last)), varint(r.depth));
    last = Math.max(last, r.ts);
    if (r.kind === 'entry') {
      for (let i = 0; i < s.args; i++) parts.push(word(r.site, i, r.args?.[i] ?? 0n));
      if (s.fp) parts.push(double(r.fp));
      for (const [i, bytes] of r.strings ?? []) parts.push(varint(4), varint(0), varint(i), varint(bytes.length), bytes);
    } else if (r.kind === 'exit') {
      if (s.ret) parts.push(word(r.site, 16, r.ret ?? 0n));
      if (s.fp) parts.push(double(r.fp));
    } else parts.push(Buffer.from([r.reason]));
    if (r.kind !== 'entry' && r.held) parts.push(varint(6), varint(0), varint(r.held));
    if (r.extra) {
      const json = Buffer.from(JSON.stringify(r.extra));
      parts.push(varint(5), varint(0), varint(json.length), json);
    }
  }
  return Buffer.concat(parts);
}

export const HEADER: Obj = {
  command: ['./app', '-v'], pid: 100, attached: false, arch: 'x64', startTs: 1e9, startWallNs: 1.7e18, overheadNs: null, mode: 'fast',
  patterns: ['f*'], modules: [{ pid: 100, path: '/app', start: '0x400000' }], cwd: '/', tool: 'rethook 0.2.0', fallbacks: [],
  clock: { source: 'monotonic', nsPerTick: 1 },
};

/** A record put together chunk by chunk. */
export class RecordBuilder {
  readonly parts: Buffer[] = [];
  readonly sites: Site[] = [];

  /** `version` 3 (the current): words XOR as callRecords writes them; 2: as they are. A builder of no header makes version 3's. */
  constructor(header: Obj | null = HEADER, readonly version = 3) {
    if (header) {
      const json = Buffer.from(JSON.stringify(header));
      this.parts.push(Buffer.from('RHRECORD', 'latin1'), u32(version), u32(json.length), json);
    }
  }

  chunk(type: number, payload: Buffer): this {
    this.parts.push(Buffer.from([type]), u32(payload.length), payload);
    return this;
  }

  /** A SITES chunk: each site's id is the next one, its other fields defaulted. */
  site(...list: Partial<Site>[]): this {
    const added = list.map((s, i) => ({
      pid: 100, function: 'f', address: '0x401000', module: '/app', args: 0, ret: true, fp: false, signature: null, ...s, id: this.sites.length + i,
    } as Site));
    this.sites.push(...added);
    return this.chunk(Chunk.Sites, Buffer.from(JSON.stringify(added)));
  }

  calls(pid: number, tid: number, baseTs: number, recs: readonly CallRec[]): this {
    return this.chunk(Chunk.Calls, Buffer.concat([u32(pid), u32(tid), u64(baseTs), callRecords(this.sites, baseTs, recs, this.version >= 3)]));
  }

  /** A CALLS chunk of raw record bytes. */
  rawCalls(pid: number, tid: number, baseTs: number, bytes: Buffer): this {
    return this.chunk(Chunk.Calls, Buffer.concat([u32(pid), u32(tid), u64(baseTs), bytes]));
  }

  note(e: Obj): this {
    return this.chunk(Chunk.Note, Buffer.from(JSON.stringify(e)));
  }

  end(e: Obj = END): this {
    return this.chunk(Chunk.End, Buffer.from(JSON.stringify(e)));
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export const END: Obj = { ts: 2e9, pids: [100], calls: 0, nmissed: {}, functions: [], status: { pid: 100, code: 0, signal: null, detached: false } };

const CHAR_P = { n: 'const char *', k: 'ptr', s: 8, to: { n: 'const char', k: 'int', s: 1, sg: true, c: true } };
const INT = { n: 'int', k: 'int', s: 4, sg: true };
/** `int lookup(const char *key, int len)`, `double atof(const char *nptr)`. */
export const LOOKUP_SIG = { params: [{ name: 'key', type: CHAR_P }, { name: 'len', type: INT }], ret: INT, variadic: false, source: 'spec' };
/**
 * Signatures whose values are all words (the addon's line writers render them: lib/types/values.ts wordSignature):
 * `long mix(signed char a, unsigned short b, int flags, unsigned long mode, _Bool on, void *p)` (flags in hex by
 * its name, mode in octal), `void nothing(unsigned int n, ...)`, `f(long x)` with no return type known.
 */
export const WORD_SIGS = {
  mix: {
    params: [{ name: 'a', type: { n: 'signed char', k: 'int', s: 1, sg: true } }, { name: 'b', type: { n: 'short unsigned int', k: 'int', s: 2, sg: false } },
      { name: 'flags', type: INT }, { name: 'mode', type: { n: 'mode_t', k: 'int', s: 8, sg: false, fmt: 'oct' } },
      { name: 'on', type: { n: '_Bool', k: 'bool', s: 1 } }, { name: '', type: { n: 'void *', k: 'ptr', s: 8, to: { n: 'void', k: 'void', s: 0 } } }],
    ret: { n: 'long int', k: 'int', s: 8, sg: true }, variadic: false, source: 'dwarf',
  },
  nothing: { params: [{ name: 'n', type: { n: 'unsigned int', k: 'int', s: 4, sg: false } }], ret: { n: 'void', k: 'void', s: 0 }, variadic: true, source: 'prototype' },
  unknownRet: { params: [{ name: 'x', type: { n: 'long', k: 'int', s: 8, sg: true } }], ret: null, variadic: false, source: 'spec' },
};
/** A record (no END) of one thread's calls of WORD_SIGS' functions, one after the other, with words at their edges. */
export function wordCallsRecord(): Buffer {
  const r = new RecordBuilder();
  r.site({ function: 'mix', args: 6, ret: true, signature: WORD_SIGS.mix }, { function: 'nothing', args: 6, ret: true, signature: WORD_SIGS.nothing },
    { function: 'unknownRet', args: 6, ret: true, signature: WORD_SIGS.unknownRet });
  const M = 0xffffffffffffffffn;
  const calls: [number, bigint[], bigint][] = [[0, [M, M, M, M, M, 0n], M], [0, [0n, 0n, 0n, 0n, 0n, 0x7ffcba1b6ac8n], 0n],
    [0, [0x80n, 0x8000n, 0x80000000n, 8n, 0x100n, 1n], 0x7fffffffffffffffn], [1, [M, 0n, 0n, 0n, 0n, 0n], 5n], [2, [M, 0n, 0n, 0n, 0n, 0n], M]];
  const recs: CallRec[] = [];
  let ts = 2 ** 30;
  for (const [site, args, ret] of calls) {
    recs.push({ kind: 'entry', site, ts, depth: 0, args });
    recs.push({ kind: 'exit', site, ts: ts + 100, depth: 0, ret });
    ts += 1000;
  }
  r.calls(100, 100, 2 ** 30, recs);
  return r.bytes();
}

export const ATOF_SIG = { params: [{ name: 'nptr', type: CHAR_P }], ret: { n: 'double', k: 'float', s: 8 }, variadic: false, source: 'prototype' };

/** The reasons of UNWOUND records, in reason-byte order. */
export const REASONS = ['longjmp', 'exception', 'thread-exit', 'exec', 'detach', 'exit', 'other'];

/**
 * A record with every kind of event: two threads in interleaved chunks, plain
 * and typed calls (captured strings, a double returned), EXTRA fields
 * (backtrace, goroutine), an UNWOUND of each reason, fork, exec, process and
 * thread exit notes, a warning and a missed note, a call still open at END.
 */
export function sampleRecord(): RecordBuilder {
  const r = new RecordBuilder();
  r.site(
    { function: 'f', address: '0x401000', args: 2, ret: true },
    { function: 'lookup', address: '0x401100', args: 2, ret: true, signature: LOOKUP_SIG },
    { function: 'atof', address: '0x401200', args: 1, ret: true, fp: true, signature: ATOF_SIG },
  );
  r.calls(100, 100, 1e9, [
    { kind: 'entry', site: 0, ts: 1.1e9, depth: 0, args: [5n, 0n] },
    { kind: 'entry', site: 1, ts: 1.2e9, depth: 1, args: [0x7f0000001000n, 5n], strings: [[0, Buffer.from('alpha\0')]], extra: { backtrace: ['f+0x10', 'main+0x20'], backtraceReliable: true } },
    { kind: 'exit', site: 1, ts: 1.3e9, depth: 1, ret: 1n },
  ]);
  r.site({ function: 'g', address: '0x401300', args: 1, ret: true });
  r.calls(100, 101, 1e9, [
    { kind: 'entry', site: 0, ts: 1.15e9, depth: 0, args: [1n, 2n], extra: { goroutine: 3 } },
    { kind: 'exit', site: 0, ts: 1.25e9, depth: 0, ret: 2n, extra: { goroutine: 3 } },
  ]);
  const unwinds: CallRec[] = [];
  REASONS.forEach((_, i) => {
    unwinds.push({ kind: 'entry', site: 3, ts: 1.33e9 + i * 1e6, depth: 1, args: [BigInt(i)] });
    unwinds.push({ kind: 'unwound', site: 3, ts: 1.33e9 + i * 1e6 + 5e5, depth: 1, reason: i });
  });
  r.calls(100, 100, 1.3e9, [
    { kind: 'entry', site: 2, ts: 1.31e9, depth: 1, args: [0x7f0000002000n], strings: [[0, Buffer.from('1.5\0')]] },
    { kind: 'exit', site: 2, ts: 1.32e9, depth: 1, ret: 0n, fp: 1.5 },
    ...unwinds,
  ]);
  r.note({ type: 'fork', pid: 102, parent: 100, ts: 1.35e9 });
  r.note({ type: 'exec', pid: 102, file: '/bin/true', ts: 1.36e9 });
  r.note({ type: 'process-exit', pid: 102, code: 0, signal: null, ts: 1.37e9 });
  r.calls(100, 100, 1.34e9, [{ kind: 'exit', site: 0, ts: 1.4e9, depth: 0, ret: 0n }]);
  r.calls(100, 101, 1.25e9, [{ kind: 'entry', site: 3, ts: 1.45e9, depth: 0, args: [9n] }]);
  r.note({ type: 'warning', message: 'a warning', ts: 1.455e9 });
  r.note({ type: 'missed', nmissed: 2, maxActive: 4096, ts: 1.456e9 });
  r.note({ type: 'thread-exit', pid: 100, tid: 101, ts: 1.46e9 });
  r.end({ ts: 1.5e9, pids: [100, 102], calls: 11, nmissed: { g: 2 }, functions: [], status: { pid: 100, code: 0, signal: null, detached: false } });
  return r;
}

/**
 * A record of `n` calls on one thread of four sites (one integer argument
 * and a return value each), in pairs (an outer call and one inside it), in
 * CALLS chunks of about `chunkBytes`: the bulk a speed test reads.
 */
export function bulkRecord(n: number, chunkBytes = 1 << 20): Buffer {
  const r = new RecordBuilder();
  r.site(...['alpha', 'beta', 'gamma', 'delta'].map((f, i) => ({ function: f, address: `0x40${i}000`, args: 1, ret: true })));
  const out: Buffer[] = [r.bytes()];
  const buf = Buffer.alloc(chunkBytes);
  let pos = 0, ts = 1e9, chunkBase = ts, done = 0;
  const v = (x: number) => {
    while (x >= 0x80) {
      buf[pos++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 0x80);
    }
    buf[pos++] = x;
  };
  const flush = () => {
    const head = Buffer.alloc(21);
    head[0] = Chunk.Calls;
    head.writeUInt32LE(16 + pos, 1);
    head.writeUInt32LE(100, 5);
    head.writeUInt32LE(100, 9);
    head.writeBigUInt64LE(BigInt(chunkBase), 13);
    out.push(head, Buffer.from(buf.subarray(0, pos)));
    pos = 0;
    chunkBase = ts;
  };
  for (let i = 0; done < n; i++) {
    const outer = (i % 2) * 2, inner = outer + 1;
    const rec = (kind: number, site: number, dt: number, depth: number, word: number) => {
      v(kind + 8 * site);
      v(dt);
      v(depth);
      v(word);
      ts += dt;
    };
    rec(1, outer, 120, 0, i & 0xffff);
    rec(1, inner, 40, 1, 7);
    rec(2, inner, 300 + (i % 50), 1, 0);
    rec(2, outer, 60, 0, i & 1);
    done += 2;
    if (pos > chunkBytes - 64) flush();
  }
  if (pos) flush();
  out.push(new RecordBuilder(null).end({ ...END, ts: ts + 1, calls: n }).bytes());
  return Buffer.concat(out);
}
