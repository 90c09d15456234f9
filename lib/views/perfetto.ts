// Perfetto (`--format perfetto`): Perfetto's protobuf trace, TrackEvent
// packets on one sequence, for ui.perfetto.dev and trace_processor. A track
// per process and one per thread (its child); each call a slice (a
// TYPE_SLICE_BEGIN and a TYPE_SLICE_END) on its thread's track, as the
// Chrome export draws it: from exit ts - durationNs to the exit's ts, with
// the same typed values (call-values.ts) as debug annotations. Event,
// category and annotation names are interned (sent once, then referred to by
// number). fork, exec and a process's exit are instant events on its track.
//
// The slices of a thread are written when its outermost hooked call returns,
// in the order they began (parents before the calls they made), so that the
// file reads in time order per thread; a thread with more than
// HELD_PER_THREAD calls inside one outermost call has them written as they
// are, and Perfetto sorts them by time.
import * as path from 'path';
import type { Sink } from './format';
import { callStart, callValues } from './call-values';
import { Stacks } from './chrome';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import type { EndInfo, RunInfo, View } from './view';
import { SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, traceType, TYPE_INSTANT, TYPE_SLICE_BEGIN, TYPE_SLICE_END } from './perfetto-schema';

const SEQUENCE = 1;
const HELD_PER_THREAD = 65536;
/** Packets encoded and written together. */
const BATCH = 1024;

/** A call ended (or cut), waiting to be written with its thread's others. */
interface Done {
  name: string;
  start: number;
  end: number;
  depth: number;
  unwound: boolean;
  values: Record<string, unknown>;
}

type Packet = Record<string, unknown>;
type Annotation = Record<string, unknown>;

const processUuid = (pid: number) => pid * 2 + 1;
const threadUuid = (tid: number) => tid * 2 + 2;

export class PerfettoView implements View {
  private readonly stacks = new Stacks<EntryEvent>();
  private readonly held = new Map<number, Done[]>();
  private readonly pidOf = new Map<number, number>();
  private readonly described = new Set<number>();
  private readonly eventNames = new Map<string, number>();
  private readonly annotationNames = new Map<string, number>();
  private packets: Packet[] = [];
  private lastTs = 0;

  constructor(private readonly out: Sink, private readonly run: RunInfo) {
    // The sequence's first packet: its incremental state starts here, with the two categories.
    this.packets.push({
      trusted_packet_sequence_id: SEQUENCE, first_packet_on_sequence: true, sequence_flags: SEQ_INCREMENTAL_STATE_CLEARED,
      interned_data: { event_categories: [{ iid: 1, name: 'call' }, { iid: 2, name: 'unwound' }] },
    });
  }

  private push(p: Packet): void {
    this.packets.push(p);
    if (this.packets.length >= BATCH) this.write();
  }

  private write(): void {
    if (!this.packets.length) return;
    this.out.writeBytes(traceType().encode({ packet: this.packets }).finish());
    this.packets = [];
  }

  /** The tracks of a process and of a thread, described before anything is put on them. */
  private describe(pid: number, tid: number | null): void {
    if (!this.described.has(processUuid(pid))) {
      this.described.add(processUuid(pid));
      const main = pid === this.run.pid && this.run.command.length > 0;
      this.push({
        trusted_packet_sequence_id: SEQUENCE,
        track_descriptor: {
          uuid: processUuid(pid),
          process: { pid, process_name: main ? path.basename(this.run.command[0]) : 'process', ...(main ? { cmdline: this.run.command } : {}) },
        },
      });
    }
    if (tid !== null && !this.described.has(threadUuid(tid))) {
      this.described.add(threadUuid(tid));
      this.push({
        trusted_packet_sequence_id: SEQUENCE,
        track_descriptor: { uuid: threadUuid(tid), parent_uuid: processUuid(pid), thread: { pid, tid, thread_name: tid === pid ? 'main thread' : 'thread' } },
      });
    }
  }

  /** A name's interning number, and the interned data to send with the packet that first uses it. */
  private intern(table: Map<string, number>, name: string, fresh: { iid: number; name: string }[]): number {
    let iid = table.get(name);
    if (iid === undefined) {
      table.set(name, (iid = table.size + 1));
      fresh.push({ iid, name });
    }
    return iid;
  }

  private event(ts: number, track: number, type: number, name: string | null, categories: number[], values: Record<string, unknown> | null): void {
    const names: { iid: number; name: string }[] = [];
    const keys: { iid: number; name: string }[] = [];
    const te: Record<string, unknown> = { type, track_uuid: track };
    if (name !== null) te.name_iid = this.intern(this.eventNames, name, names);
    if (categories.length) te.category_iids = categories;
    if (values) te.debug_annotations = Object.entries(values).map(([k, v]) => ({ name_iid: this.intern(this.annotationNames, k, keys), ...annotationValue(v) }));
    const p: Packet = { timestamp: Math.max(0, Math.round(ts)), trusted_packet_sequence_id: SEQUENCE, sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE, track_event: te };
    if (names.length || keys.length) p.interned_data = { event_names: names, debug_annotation_names: keys };
    this.push(p);
  }

  entry(e: EntryEvent): void {
    this.describe(e.pid, e.tid);
    this.pidOf.set(e.tid, e.pid);
    this.stacks.push(e.tid, e);
    if (e.ts > this.lastTs) this.lastTs = e.ts;
  }

  exit(e: ExitEvent): void {
    this.describe(e.pid, e.tid);
    this.pidOf.set(e.tid, e.pid);
    if (e.ts > this.lastTs) this.lastTs = e.ts;
    const entry = this.stacks.pop(e.tid, e);
    const values = callValues(entry, e);
    values.durationNs = e.durationNs;
    this.hold(e.tid, { name: e.function, start: callStart(e, entry), end: e.ts, depth: e.depth, unwound: e.unwound, values });
    if (this.stacks.peek(e.tid).length === 0) this.release(e.tid);
  }

  private hold(tid: number, d: Done): void {
    let h = this.held.get(tid);
    if (!h) this.held.set(tid, (h = []));
    h.push(d);
    if (h.length >= HELD_PER_THREAD) this.release(tid);
  }

  /** A thread's held calls as slices: begins in time order, each end before the next call that is not inside it. */
  private release(tid: number): void {
    const calls = this.held.get(tid);
    if (!calls?.length) return;
    this.held.delete(tid);
    const track = threadUuid(tid);
    calls.sort((a, b) => a.start - b.start || a.depth - b.depth);
    const open: Done[] = [];
    const close = () => {
      const c = open.pop()!;
      this.event(c.end, track, TYPE_SLICE_END, null, [], null);
    };
    for (const c of calls) {
      while (open.length && (open[open.length - 1].depth >= c.depth || open[open.length - 1].end < c.start)) close();
      this.event(c.start, track, TYPE_SLICE_BEGIN, c.name, c.unwound ? [1, 2] : [1], c.values);
      open.push(c);
    }
    while (open.length) close();
  }

  note(e: NoteEvent): void {
    if ((e.type !== 'fork' && e.type !== 'exec' && e.type !== 'process-exit') || typeof e.pid !== 'number') return;
    const ts = typeof e.ts === 'number' ? e.ts : this.lastTs;
    this.describe(e.pid, null);
    const rest = Object.fromEntries(Object.entries(e).filter(([k, v]) => k !== 'type' && k !== 'pid' && k !== 'ts' && v !== null && v !== undefined));
    this.event(ts, processUuid(e.pid), TYPE_INSTANT, e.type === 'process-exit' ? 'exit' : e.type, [], rest);
  }

  end(info: EndInfo): void {
    // Calls still in flight where the events end (a record cut short): closed at the last timestamp, marked, as in the Chrome export.
    for (const [tid, st] of this.stacks.all()) {
      for (const c of st) this.hold(tid, { name: c.function, start: c.ts, end: info.endTs, depth: c.depth, unwound: true, values: { ...callValues(c, null), cut: true } });
    }
    for (const tid of [...this.held.keys()]) this.release(tid);
    this.write();
    this.out.flush();
  }
}

/** A value as a debug annotation's typed value (nested objects and arrays as dictionaries and arrays). */
function annotationValue(v: unknown): Annotation {
  switch (typeof v) {
    case 'boolean':
      return { bool_value: v };
    case 'number':
      return Number.isSafeInteger(v) ? { int_value: v } : { double_value: v };
    case 'string':
      return { string_value: v };
    case 'bigint':
      return { string_value: v.toString() };
    default:
      if (Array.isArray(v)) return { array_values: v.map(annotationValue) };
      if (v && typeof v === 'object') return { dict_entries: Object.entries(v).map(([k, x]) => ({ name: k, ...annotationValue(x) })) };
      return { string_value: String(v) };
  }
}
