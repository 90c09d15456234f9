// pprof (`--format pprof`): the profile format of `go tool pprof`, Grafana
// Pyroscope and Speedscope, gzipped protobuf encoded by the pprof-format
// package. One sample per distinct stack of hooked calls on a thread (the
// innermost first), with three values: `calls` (how many calls ended with
// that stack), `total_time` and `self_time` (ns; less the tracer's round trip
// as the summary takes them). A function's flat `calls` and `total_time` in
// `pprof -top -sample_index=...` are its row of `rethook report`; flame graphs
// weigh by `self_time` (the default sample type). Locations are the hooked
// functions' addresses, in mappings of the modules that hold them (from the
// record's header, or /proc live), with file and line from the debug
// information when the module's file is still there.
import * as zlib from 'zlib';
import type { Function as PFunction, Location, Mapping, Profile } from 'pprof-format';
import type { Sink } from './format';
import { readElf } from '../symbols/elf';
import { loadedModules } from './record';
import type { EntryEvent, ExitEvent } from '../events';
import { callTime, EndInfo, ModuleRef, RunInfo, View } from './view';

/** A hooked function as a pprof location (one per address). */
interface Site {
  id: number;
  function: string;
  address: number;
  pid: number;
}

/** A module's span in a process and what its file says about addresses in it. */
interface Placed {
  ref: ModuleRef;
  start: number;
  limit: number;
  /** Runtime address = link-time address + bias; null when the file could not be read. */
  bias: number | null;
  /** Link-time addresses of its function symbols: a line is looked up only for an address its file knows. */
  functionsAt: Set<number> | null;
}

interface Acc {
  sites: number[];
  calls: number;
  total: number;
  self: number;
}

/** "file.c:21" for a link-time address of an object, from its debug information (the addon's libdw), or null. */
type SourceLine = ((file: string, linkAddr: number) => string | null) & { close?: () => void };

export interface PprofOptions {
  /** Subtracted from every duration (as the summary does); null: as measured. */
  overheadNs: number | null;
  /** With overheadNs: taken off a call once per hooked call nested in it (RunInfo.nestedNs). */
  nestedNs?: number | null;
  /** Live: a function's module unknown from RunInfo.modules is read from /proc/PID/maps. */
  live: boolean;
  /** How source lines are found (tests give their own); default: the addon's debug information, when it loads. */
  sourceLine?: SourceLine | null;
}

export class PprofView implements View {
  private readonly stacks = new Map<number, { depth: number; function: string; site: number; children: number; nested: number }[]>();
  private readonly sites = new Map<string, Site>();
  /** A function's last address seen: for an exit whose entry was not (inherited). */
  private readonly addressOf = new Map<string, { address: number; pid: number }>();
  private readonly samples = new Map<string, Acc>();

  constructor(private readonly out: Sink, private readonly run: RunInfo, private readonly o: PprofOptions) {}

  private site(fn: string, address: number, pid: number): number {
    const key = `${address}\0${fn}`;
    let s = this.sites.get(key);
    if (!s) this.sites.set(key, (s = { id: this.sites.size + 1, function: fn, address, pid }));
    return s.id;
  }

  entry(e: EntryEvent): void {
    const address = parseInt(e.address, 16) || 0;
    this.addressOf.set(e.function, { address, pid: e.pid });
    let st = this.stacks.get(e.tid);
    if (!st) this.stacks.set(e.tid, (st = []));
    while (st.length && st[st.length - 1].depth >= e.depth) st.pop();
    st.push({ depth: e.depth, function: e.function, site: this.site(e.function, address, e.pid), children: 0, nested: 0 });
  }

  exit(e: ExitEvent): void {
    const st = this.stacks.get(e.tid) ?? [];
    while (st.length && st[st.length - 1].depth > e.depth) st.pop();
    const top = st[st.length - 1];
    const mine = top && top.depth === e.depth && top.function === e.function;
    const dur = callTime(e.durationNs, this.o.overheadNs, mine ? top.nested : 0, this.o.nestedNs ?? null);
    let sites: number[];
    let children = 0;
    if (mine) {
      st.pop();
      children = top.children;
      sites = [top.site];
      for (let i = st.length - 1; i >= 0; i--) sites.push(st[i].site);
      if (st.length) {
        st[st.length - 1].children += dur;
        st[st.length - 1].nested += 1 + top.nested;
      }
    } else {
      const known = this.addressOf.get(e.function);
      sites = [this.site(e.function, known?.address ?? 0, known?.pid ?? e.pid)];
    }
    const key = sites.join(',');
    let a = this.samples.get(key);
    if (!a) this.samples.set(key, (a = { sites, calls: 0, total: 0, self: 0 }));
    a.calls++;
    a.total += dur;
    a.self += Math.max(0, dur - children);
  }

  note(): void {}

  end(info: EndInfo): void {
    this.out.writeBytes(zlib.gzipSync(this.profile(info).encode()));
    this.out.flush();
  }

  /** The profile of what was seen. */
  private profile(info: EndInfo): Profile {
    // Loaded only here: the CLI's other commands need none of it.
    const { Function: PFunction, Location, Mapping, Profile, Sample, StringTable, ValueType } = require('pprof-format') as typeof import('pprof-format');
    const strings = new StringTable();
    const str = (s: string) => strings.dedup(s);
    const places = new Places(this.run.modules ?? [], this.o.live);
    const sourceLine = this.o.sourceLine === undefined ? addonSourceLine() : this.o.sourceLine;
    const mappings: Mapping[] = [];
    const mappingOf = new Map<Placed, number>();
    const functions: PFunction[] = [];
    const locations: Location[] = [];
    try {
      for (const s of this.sites.values()) {
        const m = s.address ? places.find(s.pid, s.address) : null;
        let mappingId = 0;
        let file = '', line = 0;
        if (m) {
          mappingId = mappingOf.get(m) ?? 0;
          if (!mappingId) {
            mappingId = mappings.length + 1;
            mappingOf.set(m, mappingId);
            mappings.push(new Mapping({ id: mappingId, memoryStart: m.start, memoryLimit: m.limit, fileOffset: 0, filename: str(m.ref.path), hasFunctions: true }));
          }
          if (sourceLine && m.bias !== null && m.functionsAt?.has(s.address - m.bias)) {
            const src = safe(() => sourceLine(m.ref.path, s.address - m.bias!));
            const at = src ? /^(.*):(\d+)$/.exec(src) : null;
            if (at) {
              file = at[1];
              line = Number(at[2]);
              mappings[mappingId - 1].hasFilenames = true;
              mappings[mappingId - 1].hasLineNumbers = true;
            }
          }
        }
        functions.push(new PFunction({ id: s.id, name: str(s.function), systemName: str(s.function), filename: str(file), startLine: line }));
        locations.push(new Location({ id: s.id, mappingId, address: s.address, line: [{ functionId: s.id, line }] }));
      }
    } finally {
      sourceLine?.close?.();
    }
    const samples = [...this.samples.values()].map((a) => new Sample({ locationId: a.sites, value: [a.calls, Math.round(a.total), Math.round(a.self)] }));
    return new Profile({
      sampleType: [
        new ValueType({ type: str('calls'), unit: str('count') }),
        new ValueType({ type: str('total_time'), unit: str('nanoseconds') }),
        new ValueType({ type: str('self_time'), unit: str('nanoseconds') }),
      ],
      sample: samples,
      mapping: mappings,
      location: locations,
      function: functions,
      stringTable: strings,
      timeNanos: this.run.startWallNs,
      durationNanos: Math.max(0, Math.round(info.endTs - this.run.startTs)),
      defaultSampleType: str('self_time'),
      comment: [str(`rethook: ${this.run.command.join(' ') || `process ${this.run.pid}`}`)],
    });
  }
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

/** The addon's debug information reader, or null when the addon does not load (the profile then has names and mappings only). */
function addonSourceLine(): SourceLine | null {
  try {
    const { NativeTracer } = require('../native') as typeof import('../native');
    const nat = new NativeTracer(() => undefined);
    const f: SourceLine = (file: string, linkAddr: number) => nat.debugSourceLine(file, linkAddr);
    f.close = () => nat.close();
    return f;
  } catch {
    return null;
  }
}

/** The modules of the traced processes, placed: which one holds an address. */
class Places {
  private readonly placed = new Map<number, Placed[]>();
  private readonly refreshed = new Set<number>();
  constructor(private refs: ModuleRef[], private readonly live: boolean) {}

  find(pid: number, address: number): Placed | null {
    const hit = this.lookup(pid, address);
    if (hit || !this.live || this.refreshed.has(pid)) return hit;
    // Live: a module loaded after the list was taken (dlopen), read once per process.
    this.refreshed.add(pid);
    const more = loadedModules(pid);
    if (!more.length) return null;
    this.refs = [...this.refs.filter((r) => r.pid !== pid), ...more];
    this.placed.delete(pid);
    return this.lookup(pid, address);
  }

  private lookup(pid: number, address: number): Placed | null {
    const list = this.of(pid);
    const inside = list.find((m) => address >= m.start && address < m.limit);
    return inside ?? null;
  }

  /** A process's modules (those of the first process when it has none listed: a forked child has its parent's). */
  private of(pid: number): Placed[] {
    let list = this.placed.get(pid);
    if (list) return list;
    const own = this.refs.filter((r) => r.pid === pid);
    const refs = own.length ? own : this.refs.filter((r) => r.pid === this.refs[0]?.pid);
    const starts = refs.map((r) => parseInt(r.start, 16)).sort((a, b) => a - b);
    list = refs.map((ref) => place(ref, starts));
    this.placed.set(pid, list);
    return list;
  }
}

/** A module's span from its file's segments; without the file, up to the next module's start. */
function place(ref: ModuleRef, starts: number[]): Placed {
  const start = parseInt(ref.start, 16);
  try {
    const elf = readElf(ref.path, { tolerant: true });
    const bias = elf.type === 'exec' ? 0 : start - elf.firstLoadVaddr;
    const limit = bias + Math.max(...elf.segments.map((s) => s.vaddr + s.memsz));
    return { ref, start, limit, bias, functionsAt: new Set(elf.functions.map((f) => f.value)) };
  } catch {
    const next = starts.find((s) => s > start);
    return { ref, start, limit: next ?? start + 2 ** 32, bias: null, functionsAt: null };
  }
}
