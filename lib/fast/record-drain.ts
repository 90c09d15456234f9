// Fast mode straight into a record: when every hook of a process only records
// (the CLI's `rethook record`: lib/record/write.ts recordingHandlers), a
// thread's ring is transcoded by the addon into the record's CALLS chunk
// bytes (fast.transcode), with no context and no object per call, and no
// calls in flight kept here: the arena's node stack is what is open. The ends
// the tracer sees itself (a thread's exit, an exec, an exception, a return the
// recorder trapped) are written from that stack as EXIT/UNWOUND records, so
// each thread's stream stays balanced; what is still open at the record's END
// (a detach, the process's exit) the reader ends (docs/record-format.md).
import { arch, fast } from '../native';
import type { Session } from '../engine/session';
import { defaultSignature } from '../types/signatures';
import { RecordWriter, recordWriterOf } from '../record/write';
import { UNWIND_REASONS } from '../record/batch';
import { RING_MASK, ThreadBlock } from './arena';
import type { FastProc } from './fast-proc';

/** Per process: the writer its hooks record to (null: not record-only), and its ring sites as the transcoder takes them. */
interface RecordOnly {
  writer: RecordWriter | null;
  /** fp.sites.length and fp.pools.size when this was decided (either grows: decided again). */
  sites: number;
  pools: number;
  /** Per ring site index: [record site id + 1, args | ret << 4 | fp << 5]. */
  map: Uint32Array;
}
const recordOnly = new WeakMap<FastProc, RecordOnly>();
const NO_FRAMES = new Float64Array(0);
/** transcode's in/out: [tail, pos, last ts, entries, damaged, why, depth base (in)]. */
const state = new Float64Array(7);

/** The writer every hook of `fp` only records to, its new sites registered with it; or null. */
export function recordOnlyWriter(s: Session, fp: FastProc): RecordWriter | null {
  let r = recordOnly.get(fp);
  if (r && r.sites === fp.sites.length && r.pools === fp.pools.size) return r.writer;
  let writer: RecordWriter | null = null;
  let mixed = false;
  for (const hook of fp.pools.keys()) {
    const w = recordWriterOf(hook.handlers);
    if (!w || (writer && w !== writer)) mixed = true;
    writer = w;
  }
  for (const site of fp.sites) {
    for (const hook of site.hooks) {
      const w = recordWriterOf(hook.handlers);
      if (!w || (writer && w !== writer)) mixed = true;
      writer = w;
    }
  }
  if (mixed) writer = null;
  // A writer that cannot carry some site's calls as its views show them (live JSON: RecordWriter.carries) takes them from the handlers.
  if (writer) {
    for (const site of fp.sites) {
      const hook = site.hooks[0];
      const sig = hook ? hook.signatureFor(site.fn, () => defaultSignature(s.nat, site.fn)) : null;
      if (!writer.carries(sig, arch.args.length)) writer = null;
      if (!writer) break;
    }
  }
  const old = r?.map ?? new Uint32Array(0);
  const map = old.length >= 2 * fp.sites.length ? old : new Uint32Array(Math.max(2 * fp.sites.length, 2 * old.length, 64));
  if (map !== old) map.set(old);
  if (writer) {
    for (let i = 0; i < fp.sites.length; i++) {
      if (map[2 * i]) continue;
      const site = fp.sites[i];
      const hook = site.hooks[0];
      const sig = hook ? hook.signatureFor(site.fn, () => defaultSignature(s.nat, site.fn)) : null;
      const shape = writer.shapeOf(sig, arch.args.length);
      const id = writer.site(fp.proc.pid, site.fn.address, site.fn.name, site.fn.module.path, sig, shape);
      const real = writer.siteInfo(id); // registered first by a trap-mode entry: its shape holds
      map[2 * i] = id + 1;
      map[2 * i + 1] = real.args | (real.ret ? 16 : 0) | (real.fp ? 32 : 0);
    }
  }
  recordOnly.set(fp, (r = { writer, sites: fp.sites.length, pools: fp.pools.size, map }));
  return writer;
}

/**
 * Thread block `b`'s records written into the record: transcoded from its
 * ring, chunk by chunk of the writer's buffer. Returns how many records.
 */
export function drainToRecord(fp: FastProc, b: ThreadBlock, w: RecordWriter, onDamage: (tid: number, what: string) => void): number {
  const a = fp.arena;
  const ring = a.pending(b);
  if (!ring) {
    a.resync(b);
    onDamage(b.tid, 'its ring\'s head and tail make no ring');
    return 0;
  }
  const [first, head] = ring;
  if (first === head) return 0;
  const lent = fp.lent.get(b.tid);
  if (lent?.drop) {
    a.consumed(b, head);
    return head - first;
  }
  const pid = lent ? lent.pid : fp.proc.pid;
  const tid = lent ? lent.pid : b.tid;
  const map = recordOnly.get(fp)!.map;
  const unwinding = fp.unwinding.get(tid);
  const restored = unwinding ? Float64Array.from(unwinding.filter((n) => n.restored).map((n) => n.frame)) : NO_FRAMES;
  // Calls of the thread in flight in trap mode (caught at their return site) are under every record waiting
  // here (the ring is drained before each of its stops is handled): their count is added to each depth.
  const trapDepth = lent ? 0 : fp.proc.threads.get(tid)?.stack.depth ?? 0;
  let tail = first;
  while (tail < head) {
    w.openCalls(pid, tid);
    state[6] = trapDepth;
    state[0] = tail;
    state[1] = w.pos;
    state[2] = w.chunkLastTs;
    fast.transcode(a.memory, b.offset, a.ring(b), RING_MASK, head, map, fp.clock.settledFactors(), restored, w.buf, w.limit, state, w.wordsPrev, w.wordsGen, w.gen);
    tail = state[0];
    w.pos = state[1];
    w.chunkLastTs = state[2];
    w.calls += state[3];
    if (state[4]) onDamage(tid, state[5] === 2 ? 'a record\'s depth is past any stack' : 'a record names no site or kind');
    if (w.pos >= w.limit) w.flush();
  }
  return tail - first;
}

/** The calls `nodes` (innermost first) of thread `tid` ended now: UNWOUND with `reason`, or (retval given) returned. */
export function recordEnds(fp: FastProc, w: RecordWriter, tid: number, nodes: readonly { site: number; depth?: number }[],
  reason: (typeof UNWIND_REASONS)[number] | null, retval: bigint | null = null): void {
  const map = recordOnly.get(fp)?.map;
  if (!map) return;
  const ts = Number(process.hrtime.bigint());
  const lent = fp.lent.get(tid);
  const pid = lent ? lent.pid : fp.proc.pid;
  for (const n of nodes) {
    const id = map[2 * n.site] - 1;
    if (id < 0 || n.depth === undefined) continue;
    const depth = n.depth + (lent ? 0 : fp.proc.threads.get(tid)?.stack.depth ?? 0);
    if (reason) w.unwound(pid, tid, id, ts, depth, UNWIND_REASONS.indexOf(reason));
    else w.exit(pid, tid, id, ts, depth, retval, null);
  }
}
