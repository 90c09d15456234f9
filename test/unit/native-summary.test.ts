// Summaries counted in the addon (native/record/summarize.h, through
// lib/record/aggregate.ts ColumnSummary) against the same calls made into
// events (lib/record/events.ts) and counted by Summary's event path in
// TypeScript: a record of random call trees on three threads, chunks bigger
// than one of the addon's batches, HELD records, strings and EXTRA records
// (an inherited call among them). And damage: the same one line whichever
// path reads the record.
import * as fs from 'fs';
import * as path from 'path';
import { ColumnSummary } from '../../lib/record/aggregate';
import { CallEvents } from '../../lib/record/events';
import { readRecord, RecordHandlers } from '../../lib/record/read';
import { Summary } from '../../lib/views/summary';
import { scratchDir } from '../helpers';
import { CallRec, END, RecordBuilder, varint } from '../record-v2-encoder';

let seed = 7;
const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);

/** Random calls of one thread: about n/2 entries, nesting up to 30, some unwound, some exits HELD; strings and EXTRA records here and there. */
function tree(n: number, t0: number, inherited: boolean): CallRec[] {
  const recs: CallRec[] = [];
  const open: number[] = [];
  let ts = t0;
  if (inherited) {
    recs.push({ kind: 'entry', site: 3, ts, depth: 0, extra: { inherited: true } });
    open.push(3);
  }
  for (let i = 0; i < n || open.length; i++) {
    ts += 1 + rand(3000);
    if (i < n && (open.length === 0 || (rand(2) && open.length < 30))) {
      const site = rand(3);
      const strings: [number, Buffer][] | undefined = site === 1 && rand(4) === 0 ? [[0, Buffer.from('a string\0')]] : undefined;
      const extra = rand(500) === 0 ? { backtrace: ['0x401000'] } : undefined;
      recs.push({ kind: 'entry', site, ts, depth: open.length, args: [BigInt(rand(1 << 30)) << 20n, 1n, 300n], fp: 1.5, strings, extra });
      open.push(site);
    } else {
      const site = open.pop()!;
      const held = rand(3) === 0 ? rand(50) : undefined;
      if (rand(12) === 0) recs.push({ kind: 'unwound', site, ts, depth: open.length, reason: rand(7), held });
      else recs.push({ kind: 'exit', site, ts, depth: open.length, ret: BigInt(rand(1 << 30)), fp: 2.5, held });
    }
  }
  return recs;
}

function writeRecord(name: string, build: (r: RecordBuilder) => void): string {
  const r = new RecordBuilder();
  r.site({ function: 'f0', args: 3, ret: true, fp: true }, { function: 'f1', args: 1, ret: false }, { function: 'f2', args: 0, ret: true }, { function: 'inherited' });
  build(r);
  const file = path.join(scratchDir(), name);
  fs.writeFileSync(file, r.bytes());
  return file;
}

const OPTS = { overheadNs: 3, nestedNs: 2 };

/** The rows, and the ENTRY count, as the addon counts them. */
function native(file: string, tids: Set<number> | null = null, perThread = false) {
  const s = new Summary({ ...OPTS, perThread });
  let cs: ColumnSummary | null = null;
  const rec = readRecord(file, {
    header: () => void (cs = new ColumnSummary(s, OPTS.overheadNs, 1 << 17, OPTS.nestedNs)),
    sites: (added) => cs!.sites(added),
    callsChunk: (_pid, tid, baseTs, buf, start, end, at) => cs!.chunk(buf, start, end, at, tid, baseTs, !tids || tids.has(tid)),
  });
  cs!.endOpen(rec.end!.ts);
  return { rows: s.rows(), entries: rec.entries, events: rec.events, orphans: rec.orphans };
}

/** The rows from events, counted in TypeScript. */
function fromEvents(file: string, tids: Set<number> | null = null, perThread = false) {
  const s = new Summary({ ...OPTS, perThread });
  let events: CallEvents | null = null;
  const rec = readRecord(file, {
    sites: (_added, all) => void (events ??= new CallEvents(all)),
    calls: (b) => {
      if (tids && !tids.has(b.tid)) return;
      events!.events(b, (e) => (e.type === 'entry' ? s.entry(e) : s.exit({ ...e, durationNs: Number(e.durationNs) })));
    },
  });
  events!.closeAll(rec.end!.ts, 5, (e) => e.type === 'exit' && s.exit({ ...e, durationNs: Number(e.durationNs) }));
  return { rows: s.rows(), entries: rec.entries, events: rec.events, orphans: rec.orphans };
}

describe('a record of random call trees on three threads', () => {
  let file = '';
  let entries = 0;
  beforeAll(() => {
    file = writeRecord('random.rethook', (r) => {
      // Thread 11's calls in two chunks (calls open across them), 12's in one of over 16,384 rows, 13's opening with an inherited call.
      const a = tree(30000, 1e9, false), b = tree(40000, 1e9, false), c = tree(6000, 1e9, true);
      entries = [a, b, c].reduce((k, t) => k + t.filter((x) => x.kind === 'entry').length, 0);
      expect(b.length).toBeGreaterThan(2 * 16384);
      const cut = a.findIndex((x, i) => i > 9000 && x.kind === 'entry');
      r.calls(100, 11, 1e9, a.slice(0, cut)).calls(100, 11, a[cut].ts, a.slice(cut));
      r.calls(100, 12, 1e9, b);
      r.calls(101, 13, 1e9, c);
      r.end({ ...END, ts: 3e9 });
    });
  });

  test('the addon counts the calls, totals, self times, extremes, unwound calls and percentiles that the event path counts', () => {
    const n = native(file), e = fromEvents(file);
    expect(n.rows).toEqual(e.rows);
    expect(n.rows.reduce((k, r) => k + r.calls, 0)).toBe(entries);
    expect(n.rows.find((r) => r.function === 'f0')!.unwound).toBeGreaterThan(0);
    expect([n.entries, n.events, n.orphans]).toEqual([e.entries, e.events, e.orphans]);
    expect(n.entries).toBe(entries - 1); // the inherited call is not one thread 13 made
  });

  test('per thread, and with one thread kept (--tid), the same rows as the event path', () => {
    expect(native(file, null, true).rows).toEqual(fromEvents(file, null, true).rows);
    const only = new Set([12]);
    expect(native(file, only).rows).toEqual(fromEvents(file, only).rows);
  });
});

describe('damage reads as the same one line on either path', () => {
  function error(file: string, h: RecordHandlers): string {
    try {
      readRecord(file, h);
    } catch (e) {
      return (e as Error).message;
    }
    return 'read';
  }
  const both = (file: string) => {
    const s = new Summary();
    let cs: ColumnSummary | null = null;
    const viaAddon = error(file, {
      header: () => void (cs = new ColumnSummary(s, null, 1 << 17)),
      sites: (added) => cs!.sites(added),
      callsChunk: (_pid, tid, baseTs, buf, start, end, at) => cs!.chunk(buf, start, end, at, tid, baseTs, true),
    });
    return [viaAddon, error(file, { timesOnly: true, calls: () => undefined })];
  };

  test('a record of kind 7 after 20,000 good ones (past the addon\'s first batch)', () => {
    const calls = tree(10000, 1e9, false);
    const file = writeRecord('kind7.rethook', (r) => {
      const good = new RecordBuilder(null);
      good.sites.push(...r.sites);
      const bytes = (good.calls(100, 11, 1e9, calls).parts[2] as Buffer).subarray(16);
      r.rawCalls(100, 11, 1e9, Buffer.concat([bytes, varint(7), varint(0), varint(0)]));
    });
    const [viaAddon, viaDecoder] = both(file);
    expect(viaAddon).toMatch(/kind7.rethook at byte \d+: a record of kind 7 \(1 to 6 are known\)$/);
    expect(viaAddon).toBe(viaDecoder);
  });

  test('an EXTRA record that is not JSON, and one whose field is wrong', () => {
    for (const [name, json] of [['notjson', '{nope'], ['field', '{"inherited":3}']]) {
      const file = writeRecord(`${name}.rethook`, (r) => {
        const head = new RecordBuilder(null);
        head.sites.push(...r.sites);
        const bytes = (head.calls(100, 11, 1e9, [{ kind: 'entry', site: 2, ts: 1e9, depth: 0 }]).parts[2] as Buffer).subarray(16);
        const j = Buffer.from(json);
        r.rawCalls(100, 11, 1e9, Buffer.concat([bytes, varint(5), varint(0), varint(j.length), j]));
      });
      const [viaAddon, viaDecoder] = both(file);
      expect(viaAddon).toMatch(name === 'notjson' ? /an EXTRA record that is not JSON/ : /EXTRA field 'inherited'/);
      expect(viaAddon).toBe(viaDecoder);
    }
  });

  test('a HELD record after an ENTRY, and a varint of 11 bytes', () => {
    for (const [name, tail] of [['held', [varint(6), varint(0), varint(5)]], ['long', [Buffer.alloc(11, 0x80)]]] as [string, Buffer[]][]) {
      const file = writeRecord(`${name}.rethook`, (r) => {
        const head = new RecordBuilder(null);
        head.sites.push(...r.sites);
        const bytes = (head.calls(100, 11, 1e9, [{ kind: 'entry', site: 2, ts: 1e9, depth: 0 }]).parts[2] as Buffer).subarray(16);
        r.rawCalls(100, 11, 1e9, Buffer.concat([bytes, ...tail]));
      });
      const [viaAddon, viaDecoder] = both(file);
      expect(viaAddon).toMatch(name === 'held' ? /at byte \d+: a HELD record after no EXIT or UNWOUND record of its chunk$/ : /at byte \d+: a varint of more than 64 bits$/);
      expect(viaAddon).toBe(viaDecoder);
    }
  });
});
