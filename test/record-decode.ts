// A minimal decoder of the binary record (docs/record-format.md), for the
// writer's tests only: header, chunks, varints, CALLS records. The real
// reader is lib/record/read.ts.
import * as fs from 'fs';

export interface DecodedCall {
  pid: number;
  tid: number;
  kind: number;
  site: number;
  ts: number;
  depth: number;
  args?: bigint[];
  ret?: bigint;
  fp?: Buffer;
  reason?: number;
  strings?: [number, string][];
  extra?: Record<string, unknown>;
  /** A HELD record after an EXIT/UNWOUND: ns the tracer held the thread during the call (trap mode). */
  held?: number;
}

export interface DecodedRecord {
  header: Record<string, unknown>;
  sites: { id: number; function: string; args: number; ret: boolean; fp: boolean; pid: number; address: string }[];
  calls: DecodedCall[];
  notes: Record<string, unknown>[];
  end: Record<string, unknown> | null;
  chunks: number;
  bytes: number;
  callsBytes: number;
}

export function varint(b: Buffer, at: { p: number }): bigint {
  let v = 0n, shift = 0n;
  for (let n = 0; n < 10; n++) {
    const c = b[at.p++];
    v |= BigInt(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
    shift += 7n;
  }
  throw new Error('varint longer than 10 bytes');
}

export function decodeRecord(file: string): DecodedRecord {
  const b = fs.readFileSync(file);
  const version = b.readUInt32LE(8);
  if (b.toString('latin1', 0, 8) !== 'RHRECORD' || (version !== 2 && version !== 3)) throw new Error('not a version-2 or 3 record');
  const hlen = b.readUInt32LE(12);
  const out: DecodedRecord = { header: JSON.parse(b.toString('utf8', 16, 16 + hlen)), sites: [], calls: [], notes: [], end: null, chunks: 0, bytes: b.length, callsBytes: 0 };
  let p = 16 + hlen;
  while (p + 5 <= b.length) {
    const type = b[p], len = b.readUInt32LE(p + 1);
    const payload = b.subarray(p + 5, p + 5 + len);
    if (payload.length < len) break; // cut
    p += 5 + len;
    out.chunks++;
    if (type === 1) out.sites.push(...JSON.parse(payload.toString('utf8')));
    else if (type === 3) out.notes.push(JSON.parse(payload.toString('utf8')));
    else if (type === 4) out.end = JSON.parse(payload.toString('utf8'));
    else if (type === 2) {
      out.callsBytes += 5 + len;
      const pid = payload.readUInt32LE(0), tid = payload.readUInt32LE(4);
      let ts = Number(payload.readBigUInt64LE(8));
      const at = { p: 16 };
      let last: DecodedCall | null = null;
      // Version 3: a word is written XOR its site's last in the same slot of this chunk.
      const prev = new Map<number, bigint[]>();
      const word = (site: number, slot: number): bigint => {
        const v = varint(payload, at);
        if (version < 3) return v;
        let row = prev.get(site);
        if (!row) prev.set(site, (row = new Array<bigint>(17).fill(0n)));
        return (row[slot] ^= v);
      };
      while (at.p < payload.length) {
        const tag = Number(varint(payload, at));
        ts += Number(varint(payload, at));
        const kind = tag & 7, site = Math.floor(tag / 8);
        if (kind === 4) {
          const i = Number(varint(payload, at)), n = Number(varint(payload, at));
          (last!.strings ??= []).push([i, payload.toString('latin1', at.p, at.p + n)]);
          at.p += n;
          continue;
        }
        if (kind === 5) {
          const n = Number(varint(payload, at));
          last!.extra = JSON.parse(payload.toString('utf8', at.p, at.p + n));
          at.p += n;
          continue;
        }
        if (kind === 6) {
          last!.held = Number(varint(payload, at));
          continue;
        }
        const s = out.sites[site];
        if (!s) throw new Error(`record of site ${site} before its SITES entry`);
        const c: DecodedCall = { pid, tid, kind, site, ts, depth: Number(varint(payload, at)) };
        if (kind === 1) {
          c.args = [];
          for (let i = 0; i < s.args; i++) c.args.push(word(site, i));
        }
        if (kind === 2 && s.ret) c.ret = word(site, 16);
        if ((kind === 1 || kind === 2) && s.fp) (c.fp = payload.subarray(at.p, at.p + 8)), (at.p += 8);
        if (kind === 3) c.reason = payload[at.p++];
        if (kind < 1 || kind > 3) throw new Error(`unknown record kind ${kind}`);
        out.calls.push(c);
        last = c;
      }
    }
  }
  return out;
}
