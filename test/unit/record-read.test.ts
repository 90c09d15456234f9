// The version-2 record reader (lib/record/read.ts) and the views of a record
// (report, replay, dump, dump --chrome, dump --folded), in-process, on
// records made by the test encoder (test/record-v2-encoder.ts): every kind
// of event round trips; a damaged record is one line naming the file, the
// byte and the problem; a version-1 record is one line; a cut one is shown
// up to the cut.
import * as fs from 'fs';
import * as path from 'path';
import { parseCommand } from '../../lib/cli/args';
import { reportCommand } from '../../lib/cli/commands/report';
import { RethookError } from '../../lib/errors';
import { readRecord } from '../../lib/record/read';
import { CallEvent, CallEvents, eventsOf } from '../../lib/record/events';
import type { CallBatch, SiteInfo } from '../../lib/record/batch';
import { BATCH_ROWS } from '../../lib/record/calls';
import { scratchDir } from '../helpers';
import { bulkRecord, END, HEADER, RecordBuilder, REASONS, sampleRecord, varint } from '../record-v2-encoder';

type Obj = Record<string, unknown>;

let n = 0;
function write(bytes: Buffer | string): string {
  const file = path.join(scratchDir(), `r${n++}.rethook`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** A view of a record, in-process: its output, what it said on stderr, its exit code (or what it threw). */
function view(args: string[], file: string): { out: string; err: string; code: number | null; thrown: unknown } {
  const out = path.join(scratchDir(), `out${n++}`);
  let err = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  let code: number | null = null, thrown: unknown = null;
  try {
    code = reportCommand(parseCommand([...args, '-o', out, file]));
  } catch (e) {
    thrown = e;
  } finally {
    spy.mockRestore();
  }
  return { out: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '', err, code, thrown };
}

const json = (text: string): Obj[] => text.trim().split('\n').map((l) => JSON.parse(l));

describe('every kind of event round trips through the views', () => {
  let file = '';
  beforeAll(() => {
    file = write(sampleRecord().bytes());
  });

  test('dump: the events, merged from the threads by ts, with typed values from the signatures and captured strings, and EXTRA fields', () => {
    const r = view(['dump'], file);
    expect([r.code, r.err]).toEqual([0, '']);
    const ev = json(r.out);
    const ts = ev.map((e) => e.ts as number);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const calls = ev.filter((e) => e.type === 'entry' || e.type === 'exit');
    expect(calls.filter((e) => e.type === 'entry')).toHaveLength(12);
    expect(calls.filter((e) => e.type === 'exit')).toHaveLength(12);
    expect(ev.find((e) => e.function === 'lookup' && e.type === 'entry')).toEqual({
      type: 'entry', pid: 100, tid: 100, function: 'lookup', address: '0x401100', depth: 1, args: ['0x7f0000001000', '0x5'],
      backtrace: ['f+0x10', 'main+0x20'], backtraceReliable: true,
      argv: [{ name: 'key', type: 'const char *', value: 'alpha' }, { name: 'len', type: 'int', value: 5 }], ts: 1.2e9,
    });
    expect(ev.find((e) => e.function === 'lookup' && e.type === 'exit')).toEqual({
      type: 'exit', pid: 100, tid: 100, function: 'lookup', depth: 1, retval: '0x1', unwound: false, durationNs: 1e8, ret: { type: 'int', value: 1 }, ts: 1.3e9,
    });
    expect(ev.find((e) => e.function === 'atof' && e.type === 'exit')!.ret).toEqual({ type: 'double', value: 1.5 });
    expect(ev.find((e) => e.function === 'atof' && e.type === 'entry')!.argv).toEqual([{ name: 'nptr', type: 'const char *', value: '1.5' }]);
    // Every unwinding reason, then the call still open at END, ended there as the process's exit.
    expect(calls.filter((e) => e.unwound).map((e) => [e.reason, e.retval, e.durationNs])).toEqual([
      ...REASONS.map((why) => [why, null, 5e5]), ['exit', null, 5e7]]);
    expect(calls.filter((e) => e.tid === 101 && e.function === 'f').map((e) => e.goroutine)).toEqual([3, 3]);
    expect(ev.find((e) => e.function === 'f' && e.tid === 100 && e.type === 'exit')!.durationNs).toBe(3e8);
    expect(ev.filter((e) => e.type !== 'entry' && e.type !== 'exit').map((e) => e.type)).toEqual(['fork', 'exec', 'process-exit', 'warning', 'missed', 'thread-exit']);
  });

  test('replay: the tree renders typed values as the live tree does, with unwindings, markers and the call closed at END', () => {
    const r = view(['replay'], file);
    expect([r.code, r.err]).toEqual([0, '']);
    for (const s of ['    100 f(0x5, 0x0) {', '    100   lookup(key="alpha", len=5) = 1 <100.0 ms>  <- f+0x10 <- main+0x20', '    100   atof(nptr="1.5") = 1.5 <10.0 ms>',
      ...REASONS.map((why, i) => `    100   g(0x${i}) unwound (${why}) <500.0 us>`), '    102 === process 102 forked from 100 ===', '    102 === process 102 executed /bin/true ===',
      '    100 } = 0x0 <300.0 ms> /* f */', '    101 f(0x1, 0x2) = 0x2 <100.0 ms>', '    101 } unwound (exit) <50.0 ms> /* g */', 'rethook: a warning']) {
      expect([s, r.out.split('\n').includes(s)]).toEqual([s, true]);
    }
  });

  test('report: the summary from the columns, as the summary of the events', () => {
    const cols = view(['report', '--format', 'json'], file);
    expect([cols.code, cols.err]).toEqual([0, '']);
    const rows = JSON.parse(cols.out).rows as Obj[];
    const by = (fn: string) => rows.find((x) => x.function === fn)!;
    expect(by('f')).toMatchObject({ calls: 2, totalNs: 4e8, selfNs: 3e8 - 1e8 - 1e7 - 7 * 5e5 + 1e8, unwound: 0, nmissed: 0 });
    expect(by('g')).toMatchObject({ calls: 8, totalNs: 7 * 5e5 + 5e7, unwound: 8, nmissed: 2 });
    expect(by('lookup')).toMatchObject({ calls: 1, totalNs: 1e8, selfNs: 1e8 });
    // A filter that keeps everything takes the events path: the same rows.
    const events = view(['report', '--format', 'json', '--max-depth', '1000'], file);
    expect(JSON.parse(events.out).rows).toEqual(rows);
    const text = view(['report'], file);
    expect(text.out).toMatch(/^rethook: 12 calls traced, 2 missed, in 500\.0 ms; process 100 exited with 0\n/);
  });

  test('report --tid: only that thread\'s calls, from the columns', () => {
    const rows = JSON.parse(view(['report', '--format', 'json', '--tid', '101'], file).out).rows as Obj[];
    expect(rows.map((x) => [x.function, x.calls, x.nmissed])).toEqual([['f', 1, 0], ['g', 1, 2]]);
  });

  test('dump --chrome: valid JSON, one complete event per call', () => {
    const r = view(['dump', '--chrome'], file);
    const chrome = JSON.parse(r.out);
    const x = chrome.traceEvents.filter((e: Obj) => e.ph === 'X');
    expect(x).toHaveLength(12);
    expect(x.filter((e: Obj) => (e.args as Obj).unwound).length).toBe(8);
  });

  test('dump --folded: self time per stack', () => {
    expect(view(['dump', '--folded'], file).out).toBe('f 286500000\nf;atof 10000000\nf;g 3500000\nf;lookup 100000000\ng 50000000\n');
  });

  test('calls open at END of a detached run end as unwound by the detach', () => {
    const r = sampleRecord();
    r.parts.splice(-3); // the END chunk
    r.end({ ...END, ts: 1.5e9, status: { pid: 100, code: null, signal: null, detached: true } });
    const ev = json(view(['dump'], write(r.bytes())).out);
    expect(ev[ev.length - 1]).toMatchObject({ type: 'exit', function: 'g', unwound: true, reason: 'detach', ts: 1.5e9 });
  });

  test('an exit with no open call is skipped, unless EXTRA says it was inherited', () => {
    const r = new RecordBuilder().site({ function: 'f', args: 0 });
    r.calls(100, 100, 1e9, [
      { kind: 'exit', site: 0, ts: 1.1e9, depth: 0, ret: 1n },
      { kind: 'exit', site: 0, ts: 1.2e9, depth: 0, ret: 2n, extra: { inherited: true } },
    ]).end();
    const ev = json(view(['dump'], write(r.bytes())).out);
    expect(ev).toEqual([{ type: 'exit', pid: 100, tid: 100, function: 'f', depth: 0, retval: '0x2', unwound: false, durationNs: 0, inherited: true, ts: 1.2e9 }]);
  });
});

describe('eventsOf and the columns', () => {
  test('batches of a long chunk carry each thread\'s open calls across: report from the columns equals report from the events', () => {
    const file = write(bulkRecord(3 * BATCH_ROWS));
    const cols = JSON.parse(view(['report', '--format', 'json'], file).out).rows;
    const events = JSON.parse(view(['report', '--format', 'json', '--max-depth', '9'], file).out).rows;
    expect(cols).toEqual(events);
    expect(cols.reduce((a: number, x: Obj) => a + (x.calls as number), 0)).toBe(3 * BATCH_ROWS);
  });

  test('eventsOf gives one event per row, durations matched by site and depth', () => {
    const r = new RecordBuilder().site({ function: 'a', args: 1 }, { function: 'b', args: 1 });
    r.calls(100, 7, 0, [
      { kind: 'entry', site: 0, ts: 10, depth: 0, args: [2n ** 64n - 1n] },
      { kind: 'entry', site: 1, ts: 20, depth: 1, args: [300n] },
      { kind: 'exit', site: 1, ts: 25, depth: 1, ret: 2n ** 63n },
      { kind: 'exit', site: 0, ts: 40, depth: 0, ret: 0n },
    ]).end();
    let sites: readonly SiteInfo[] = [];
    const out: CallEvent[] = [];
    readRecord(write(r.bytes()), { sites: (_a, all) => (sites = all), calls: (b: CallBatch) => out.push(...eventsOf(b, sites)) });
    expect(out.map((e) => [e.type, e.function, e.type === 'entry' ? e.args : e.retval, e.type === 'exit' ? e.durationNs : null])).toEqual([
      ['entry', 'a', ['0xffffffffffffffff'], null], ['entry', 'b', ['0x12c'], null], ['exit', 'b', '0x8000000000000000', 5], ['exit', 'a', '0x0', 30]]);
    expect(new CallEvents(sites).open).toBe(0);
  });

  test('a trap-mode call\'s HELD time (the tracer holding its thread) is left out of its duration, in events and in report', () => {
    const r = new RecordBuilder().site({ function: 'a' }, { function: 'b' });
    r.calls(100, 7, 0, [
      { kind: 'entry', site: 0, ts: 1000, depth: 0 },
      { kind: 'entry', site: 1, ts: 1100, depth: 1 },
      { kind: 'exit', site: 1, ts: 1400, depth: 1, held: 100 },
      { kind: 'unwound', site: 0, ts: 2000, depth: 0, reason: 0, held: 600 },
    ]).end();
    const file = write(r.bytes());
    let sites: readonly SiteInfo[] = [];
    const out: CallEvent[] = [];
    readRecord(file, { sites: (_a, all) => (sites = all), calls: (b: CallBatch) => out.push(...eventsOf(b, sites)) });
    expect(out.filter((e) => e.type === 'exit').map((e) => [e.function, e.type === 'exit' ? e.durationNs : null])).toEqual([['b', 200], ['a', 400]]);
    const rows = JSON.parse(view(['report', '--format', 'json'], file).out).rows as Obj[];
    expect(rows.map((x) => [x.function, x.totalNs, x.selfNs])).toEqual([['a', 400, 200], ['b', 200, 200]]);
    // The event path (a filter) counts the same.
    expect(JSON.parse(view(['report', '--format', 'json', '--max-depth', '9'], file).out).rows).toEqual(rows);
  });

  test('threads whose chunks interleave out of order are merged by ts, each thread\'s order kept', () => {
    const r = new RecordBuilder().site({ function: 'a' });
    r.calls(100, 1, 0, [{ kind: 'entry', site: 0, ts: 10, depth: 0 }, { kind: 'exit', site: 0, ts: 40, depth: 0 }]);
    r.calls(100, 2, 0, [{ kind: 'entry', site: 0, ts: 5, depth: 0 }, { kind: 'exit', site: 0, ts: 30, depth: 0 }]);
    r.end();
    expect(json(view(['dump'], write(r.bytes())).out).map((e) => [e.tid, e.ts])).toEqual([[2, 5], [1, 10], [2, 30], [1, 40]]);
  });
});

/** The one line a damaged record gives: the file, the byte, the problem. */
function refusal(bytes: Buffer | string, args = ['report']): string {
  const file = write(bytes);
  const r = view(args, file);
  expect(r.thrown).toBeInstanceOf(RethookError);
  const e = r.thrown as RethookError;
  expect(e.code).toBe('ERECORD');
  expect(e.message).not.toMatch(/\n/);
  return e.message.replace(file, 'FILE');
}

const HEAD_LEN = 16 + Buffer.byteLength(JSON.stringify(HEADER));

describe('a damaged record is one line naming the file, the byte and the problem', () => {
  test('a version-1 JSON-lines record', () => {
    const v1 = '{"type":"rethook-record","version":1,"command":[],"pid":1}\n{"type":"end"}\n';
    expect(refusal(v1)).toBe('FILE is a JSON-lines record (version 1, rethook 0.1); this rethook reads versions 2 and 3: record it again');
  });

  test.each<[string, () => Buffer, string]>([
    ['an empty file', () => Buffer.alloc(0), 'FILE is not a rethook record (it is empty)'],
    ['bad magic', () => Buffer.from('RHRECORX\x02\0\0\0\0\0\0\0', 'latin1'), 'FILE is not a rethook record (it does not start with RHRECORD)'],
    ['an ELF file', () => Buffer.from('\x7fELF\x02\x01\x01\0', 'latin1'), 'FILE is not a rethook record (it does not start with RHRECORD)'],
    ['bad version', () => new RecordBuilder(HEADER, 4).bytes(), 'FILE is a record of format version 4; this rethook reads versions 2 and 3'],
    ['a file cut in its first 16 bytes', () => new RecordBuilder().bytes().subarray(0, 11), 'FILE at byte 11: the file ends inside the record\'s first 16 bytes (magic, version, header length)'],
    ['a truncated header', () => new RecordBuilder().bytes().subarray(0, 40), `FILE at byte 40: the file ends inside the header (24 of its ${HEAD_LEN - 16} bytes)`],
    ['a header of 4 GiB', () => { const b = new RecordBuilder().bytes(); b.writeUInt32LE(0xffffffff, 12); return b; }, 'FILE at byte 12: a header of 4294967295 bytes (at most 64 MiB)'],
    ['a header that is not JSON', () => { const b = new RecordBuilder().bytes(); b[16] = 0x41; return b; }, 'FILE at byte 16: the header is not JSON'],
    ['a header field wrong', () => new RecordBuilder({ ...HEADER, pid: -1 }).end().bytes(), 'FILE at byte 16: header field \'pid\': expected an integer from 1 to 4194304, found -1'],
    ['a chunk of 4 GiB', () => new RecordBuilder().raw(Buffer.from([2, 0xff, 0xff, 0xff, 0xff])).bytes(), `FILE at byte ${HEAD_LEN + 1}: a chunk of 4294967295 bytes (at most 64 MiB)`],
    ['a NOTE of 2 MiB', () => new RecordBuilder().raw(Buffer.from([3, 0, 0, 0x20, 0])).bytes(), `FILE at byte ${HEAD_LEN + 1}: a NOTE chunk of 2097152 bytes (at most 1 MiB)`],
    ['a NOTE that is not JSON', () => new RecordBuilder().chunk(3, Buffer.from('{"type":')).end().bytes(), `FILE at byte ${HEAD_LEN + 5}: the NOTE is not JSON`],
    ['a NOTE field wrong', () => new RecordBuilder().note({ type: 'fork', pid: 1, parent: 'x', ts: 1 }).end().bytes(), `FILE at byte ${HEAD_LEN + 5}: NOTE field 'parent': expected an integer from 1 to 4194304, found "x"`],
    ['a NOTE nested 40 deep', () => new RecordBuilder().chunk(3, Buffer.from(`{"type":"x","v":${'['.repeat(40)}${']'.repeat(40)}}`)).end().bytes(), `FILE at byte ${HEAD_LEN + 5}: NOTE field 'v': expected at most 32 levels of arrays and objects, found "more"`],
    ['an END field wrong', () => new RecordBuilder().end({ ...END, calls: -3 }).bytes(), `FILE at byte ${HEAD_LEN + 5}: END field 'calls': expected an integer from 0 to 9007199254740991, found -3`],
    ['a SITES field wrong', () => new RecordBuilder().site({ function: 'f', args: 17 }).end().bytes(), `FILE at byte ${HEAD_LEN + 5}: SITES chunk field '[0].args': expected an integer from 0 to 16, found 17`],
    ['a site id out of order', () => new RecordBuilder().chunk(1, Buffer.from(JSON.stringify([{ id: 3, pid: 1, function: 'f', address: '0x1', module: '', args: 0, ret: true, fp: false, signature: null }]))).bytes(),
      `FILE at byte ${HEAD_LEN + 5}: SITES chunk field '[0].id': expected an integer from 0 to 0, found 3`],
    ['a signature of the wrong shape', () => new RecordBuilder().site({ function: 'f', signature: { params: [{ name: 'x', type: { n: 'int', k: 'nope', s: 4 } }], ret: null, variadic: false, source: 'spec' } }).end().bytes(),
      `FILE at byte ${HEAD_LEN + 5}: SITES chunk field '[0].signature.params[0].type.k': expected a kind of C type, found "nope"`],
    ['a CALLS chunk too short for its header', () => new RecordBuilder().chunk(2, Buffer.alloc(8)).bytes(), `FILE at byte ${HEAD_LEN + 1}: a CALLS chunk of 8 bytes (its pid, tid and baseTs take 16)`],
    ['a CALLS chunk of tid 0', () => new RecordBuilder().rawCalls(100, 0, 0, Buffer.alloc(0)).bytes(), `FILE at byte ${HEAD_LEN + 9}: a CALLS chunk of tid 0 (1 to 4194304)`],
  ])('%s', (_name, make, line) => {
    expect(refusal(make())).toBe(line);
  });

  /** A record with one site (f: one argument word, a return word) and a CALLS chunk of these bytes, and where they start. */
  const calls = (bytes: Buffer): [Buffer, number] => {
    const r = new RecordBuilder().site({ function: 'f', args: 1 });
    const at = r.bytes().length + 5 + 16;
    return [r.rawCalls(100, 100, 0, bytes).end().bytes(), at];
  };

  test.each<[string, Buffer, number, string]>([
    ['a varint of 11 bytes', Buffer.concat([varint(1), varint(0), varint(0), Buffer.alloc(10, 0xff), Buffer.from([1])]), 0, 'a varint of more than 64 bits'],
    ['a varint past 64 bits', Buffer.concat([varint(1), varint(0), varint(0), Buffer.alloc(9, 0xff), Buffer.from([2])]), 0, 'a varint of more than 64 bits'],
    ['a call of a site not declared', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(1 + 8 * 5), varint(0), varint(0)]), 4, 'a call of site 5, which no SITES chunk before it declared (1 are)'],
    ['a record of kind 7', Buffer.concat([varint(7), varint(0)]), 0, 'a record of kind 7 (1 to 6 are known)'],
    ['a HELD after an ENTRY', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(6), varint(0), varint(5)]), 4, 'a HELD record after no EXIT or UNWOUND record of its chunk'],
    ['a depth past 2^31 - 1', Buffer.concat([varint(1), varint(0), varint(2 ** 31), varint(0)]), 0, 'a depth of 2147483648 (at most 2147483647)'],
    ['an unwinding reason of 9', Buffer.concat([varint(3), varint(0), varint(0), Buffer.from([9])]), 0, 'an unwinding reason of 9 (0 to 6 are known)'],
    ['a record cut by its chunk\'s end', Buffer.concat([varint(1), varint(0), varint(0)]), 0, 'a call record runs past the end of its CALLS chunk'],
    ['a STRING of 5000 bytes', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(4), varint(0), varint(0), varint(5000)]), 4, 'a STRING record of 5000 bytes (at most 4096)'],
    ['a STRING of argument 16', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(4), varint(0), varint(16), varint(1)]), 4, 'a STRING record of argument 16 (there are at most 16)'],
    ['an EXTRA that is not JSON', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(5), varint(0), varint(3), Buffer.from('{x}')]), 4, 'an EXTRA record that is not JSON'],
    ['an EXTRA with a column\'s field', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(5), varint(0), varint(11), Buffer.from('{"depth":1}')]), 4,
      'EXTRA field \'depth\': expected no such field in EXTRA (the record\'s columns give it), found 1'],
    ['an EXTRA field wrong', Buffer.concat([varint(1), varint(0), varint(0), varint(1), varint(5), varint(0), varint(16), Buffer.from('{"goroutine":-1}')]), 4,
      'EXTRA field \'goroutine\': expected an integer from 0 to 9007199254740991, found -1'],
  ])('%s', (_name, bytes, offset, problem) => {
    const [record, at] = calls(bytes);
    // STRING and EXTRA records are named at their first byte after the tag and dt.
    const where = at + offset + (/STRING|EXTRA/.test(problem) ? 2 : 0);
    expect(refusal(record)).toBe(`FILE at byte ${where}: ${problem}`);
  });

  test('every view says the same line, and what it showed before the damage is kept', () => {
    const r = sampleRecord();
    r.parts.splice(-3);
    r.chunk(3, Buffer.from('nope'));
    const bytes = r.bytes();
    for (const args of [['report'], ['replay'], ['dump'], ['dump', '--chrome'], ['dump', '--folded']]) {
      expect(refusal(bytes, args)).toMatch(/^FILE at byte \d+: the NOTE is not JSON$/);
    }
  });
});

describe('a cut record is shown up to the cut, and says so in one line', () => {
  const cutLine = /^rethook: \S+ was cut short \(the tracer did not finish recording\): shown up to its last complete event, \d+ events, [\d.]+ \w+ into the run; \d+ calls were in flight there\n$/;

  test('without its END: every call shown, the open one left open', () => {
    const r = sampleRecord();
    r.parts.splice(-3);
    const v = view(['dump'], write(r.bytes()));
    expect(v.code).toBe(0);
    expect(v.err).toMatch(cutLine);
    expect(v.err).toContain('29 events, 460.0 ms into the run; 1 calls were in flight there');
    expect(json(v.out).filter((e) => e.type === 'exit')).toHaveLength(11);
  });

  test('cut inside its last chunk: the chunks before it shown', () => {
    const bytes = sampleRecord().bytes();
    const v = view(['replay'], write(bytes.subarray(0, bytes.length - 10)));
    expect(v.code).toBe(0);
    expect(v.err).toMatch(cutLine);
    expect(v.out).toContain('lookup(key="alpha", len=5) = 1');
  });

  test('cut inside a CALLS chunk: what came before it shown, report too', () => {
    const r = sampleRecord();
    const whole = r.bytes();
    // The cut falls inside the third CALLS chunk (the unwindings).
    const at = whole.indexOf(Buffer.from('1.5\0')) + 20;
    const v = view(['report', '--format', 'json'], write(whole.subarray(0, at)));
    expect(v.code).toBe(0);
    expect(v.err).toMatch(cutLine);
    const rows = JSON.parse(v.out).rows as Obj[];
    expect(rows.map((x) => x.function).sort()).toEqual(['f', 'lookup']);
  });
});

describe('captured strings render as the live views render them', () => {
  test('read whole, cut, not readable, not captured; a double argument from the floating-point word', () => {
    const STRLEN = { params: [{ name: 's', type: { n: 'const char *', k: 'ptr', s: 8, to: { n: 'const char', k: 'int', s: 1, sg: true, c: true } } }], ret: { n: 'size_t', k: 'int', s: 8, sg: false }, variadic: false, source: 'prototype' };
    const SQRT = { params: [{ name: 'x', type: { n: 'double', k: 'float', s: 8 } }], ret: { n: 'double', k: 'float', s: 8 }, variadic: false, source: 'prototype' };
    const r = new RecordBuilder().site({ function: 'strlen', args: 1, signature: STRLEN }, { function: 'sqrt', args: 0, fp: true, signature: SQRT });
    const long = 'x'.repeat(96);
    r.calls(100, 100, 0, [
      { kind: 'entry', site: 0, ts: 1, depth: 0, args: [0x1000n], strings: [[0, Buffer.from('hi\n\0')]] },
      { kind: 'exit', site: 0, ts: 2, depth: 0, ret: 3n },
      { kind: 'entry', site: 0, ts: 3, depth: 0, args: [0x2000n], strings: [[0, Buffer.from(long)]] },
      { kind: 'exit', site: 0, ts: 4, depth: 0, ret: 500n },
      { kind: 'entry', site: 0, ts: 5, depth: 0, args: [0x3000n], strings: [[0, Buffer.alloc(0)]] },
      { kind: 'exit', site: 0, ts: 6, depth: 0, ret: 0n },
      { kind: 'entry', site: 0, ts: 7, depth: 0, args: [0n] },
      { kind: 'exit', site: 0, ts: 8, depth: 0, ret: 0n },
      { kind: 'entry', site: 1, ts: 9, depth: 0, fp: 2.25 },
      { kind: 'exit', site: 1, ts: 10, depth: 0, fp: 1.5 },
    ]).end();
    const file = write(r.bytes());
    const tree = view(['replay'], file).out.split('\n').filter((l) => l);
    expect(tree).toEqual([
      '    100 strlen(s="hi\\n") = 3 <1 ns>',
      `    100 strlen(s="${'x'.repeat(64)}"...) = 500 <1 ns>`,
      '    100 strlen(s=0x3000 <unreadable>) = 0 <1 ns>',
      '    100 strlen(s=NULL) = 0 <1 ns>',
      '    100 sqrt(x=2.25) = 1.5 <1 ns>',
    ]);
    const argv = json(view(['dump'], file).out).filter((e) => e.type === 'entry').map((e) => (e.argv as Obj[])[0]);
    expect(argv.slice(0, 3)).toEqual([
      { name: 's', type: 'const char *', value: 'hi\n' },
      { name: 's', type: 'const char *', value: 'x'.repeat(64), truncated: true },
      { name: 's', type: 'const char *', value: '0x3000', error: 'unreadable' },
    ]);
  });
});

test('report subtracts the header\'s round trip once, from the columns as from the events, self times too', () => {
  const r = new RecordBuilder({ ...HEADER, overheadNs: 1000 }).site({ function: 'outer' }, { function: 'inner' });
  r.calls(100, 100, 0, [
    { kind: 'entry', site: 0, ts: 0, depth: 0 },
    { kind: 'entry', site: 1, ts: 1000, depth: 1 },
    { kind: 'exit', site: 1, ts: 6000, depth: 1 },
    { kind: 'entry', site: 1, ts: 7000, depth: 1 },
    { kind: 'exit', site: 1, ts: 7500, depth: 1 },
    { kind: 'exit', site: 0, ts: 10000, depth: 0 },
  ]).end();
  const file = write(r.bytes());
  const cols = JSON.parse(view(['report', '--format', 'json'], file).out).rows as Obj[];
  expect(cols.map((x) => [x.function, x.calls, x.totalNs, x.selfNs, x.minNs])).toEqual([['outer', 1, 9000, 5000, 9000], ['inner', 2, 4000, 4000, 0]]);
  expect(JSON.parse(view(['report', '--format', 'json', '--max-depth', '5'], file).out).rows).toEqual(cols);
  expect(JSON.parse(view(['report', '--format', 'json', '--raw-durations'], file).out).rows.map((x: Obj) => x.totalNs)).toEqual([10000, 5500]);
});

test('version 3 writes a word XOR its site\'s last in the chunk: the same calls read back as from version 2, in fewer bytes', () => {
  const words = [0n, 1n, 0x7ffcba1b6ac8n, 0xffffffffffffffffn, 0x1999999999999999n, 0x100000000n];
  const make = (version: number) => {
    const r = new RecordBuilder(HEADER, version);
    r.site({ function: 'a', args: 6, ret: true }, { function: 'b', args: 2, ret: true, fp: true });
    for (let c = 0; c < 3; c++) {
      const recs: Parameters<typeof r.calls>[3][number][] = [];
      for (let i = 0; i < 200; i++) {
        const site = i % 3 === 0 ? 1 : 0, ts = 1e9 + c * 1e6 + 10 * i;
        recs.push({ kind: 'entry', site, ts, depth: 0, args: Array.from({ length: 6 }, (_, k) => (k === 0 ? BigInt(i) : words[(i * k) % 6 === 0 ? k : 2])), fp: 1.5 });
        recs.push({ kind: 'exit', site, ts: ts + 5, depth: 0, ret: words[i % 6], fp: 2.5 });
      }
      r.calls(100, 11 + (c % 2), 1e9 + c * 1e6, recs);
    }
    return r.end({ ...END, ts: 2e9 }).bytes();
  };
  const v2 = make(2), v3 = make(3);
  const read = (bytes: Buffer) => {
    const out: string[] = [];
    let state: CallEvents | null = null;
    readRecord(write(bytes), {
      sites: (_a, all) => void (state ??= new CallEvents(all)),
      calls: (b) => state!.events(b, (e) => out.push(JSON.stringify(e))),
    });
    return out;
  };
  const events = read(v3);
  expect(events).toEqual(read(v2));
  expect(events.length).toBe(1200);
  expect(events[3 * 2]).toContain('"args":["0x3"');
  expect(events.some((e) => e.includes('"retval":"0xffffffffffffffff"'))).toBe(true);
  expect(v3.length).toBeLessThan(0.7 * v2.length);
});
