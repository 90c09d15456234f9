// The record validator (lib/views/record-check.ts), the record reader's
// bounds and errors (readRecord), and the bound on calls held in flight
// (InFlightBound), in-process: every field of a crafted record wrong in type
// and in range is refused with its name.
import * as fs from 'fs';
import * as path from 'path';
import { RethookError } from '../../lib/errors';
import { checkEnd, checkEvent, checkHeader, LIMITS, RecordFieldError } from '../../lib/views/record-check';
import { InFlightBound, LINE_MAX, LONG_LINE_MAX, readRecord } from '../../lib/views/record';
import type { TraceEvent } from '../../lib/views/events';
import { deepJson, END, EVENTS, HEADER, lines, MUTANTS, mutated, text } from '../record-corpus';
import { scratchDir } from '../helpers';

type Obj = Record<string, unknown>;

/** The check a line of the corpus goes through: the header's, the end line's, or an event's. */
function check(o: Obj): unknown {
  if (o.type === 'rethook-record') return checkHeader(o);
  if (o.type === 'end') return checkEnd(o);
  return checkEvent(o);
}

/** The field a check refuses, or null when it passes. */
function refused(o: Obj): string | null {
  try {
    check(o);
    return null;
  } catch (e) {
    if (e instanceof RecordFieldError) return e.field;
    throw e;
  }
}

describe('the validator', () => {
  test('every line of a valid record passes, and comes back as it was', () => {
    for (const o of lines()) {
      expect(refused(o)).toBeNull();
      expect(check(o)).toBe(o);
    }
  });

  test('fields and event types it does not know pass (new ones are only ever added)', () => {
    expect(refused({ ...EVENTS[0], colour: 'blue', extra: { a: [1, { b: 2 }] } })).toBeNull();
    expect(refused({ type: 'checkpoint', anything: [1, 'two', null], nested: { deeper: {} } })).toBeNull();
    expect(refused({ ...HEADER, host: 'box' })).toBeNull();
    expect(refused({ ...END, pipeline: { v: 2 } })).toBeNull();
  });

  test.each(MUTANTS.map((mu) => [mu.line, mu.field, JSON.stringify(mu.value) ?? 'nothing', mu] as const))(
    'line %i with %s set to %s is refused, naming the field',
    (_line, _field, _shown, mu) => {
      const o = lines()[mu.line - 1];
      if (mu.value === undefined) delete o[mu.field];
      else o[mu.field] = mu.value;
      expect(refused(o)).toBe(mu.named);
    },
  );

  test('the message says the field, what it should be and what it is, on one short line', () => {
    const e = new RecordFieldError('depth', 'an integer from 0 to 7', -1);
    expect(e.message).toBe("field 'depth': expected an integer from 0 to 7, found -1");
    expect(new RecordFieldError('function', 'a string', 'x'.repeat(100000)).message).toBe(`field 'function': expected a string, found "${'x'.repeat(40)}"...`);
    expect(new RecordFieldError('f', 'a string', undefined).message).toMatch(/found nothing$/);
    expect(new RecordFieldError('f', 'a string', [1]).message).toMatch(/found an array$/);
    expect(new RecordFieldError('f', 'a string', {}).message).toMatch(/found an object$/);
  });

  test(`values nest at most ${LIMITS.nesting} levels: one more is refused, and a 100,000-deep one is refused at once`, () => {
    const nested = (n: number) => ({ ...EVENTS[0], x: JSON.parse(deepJson(n)) });
    expect(refused(nested(LIMITS.nesting - 1))).toBeNull();
    expect(refused(nested(LIMITS.nesting))).toBe('x');
    const t0 = process.hrtime.bigint();
    const deep = JSON.parse(deepJson(100000));
    expect(refused({ ...EVENTS[1], argv: [{ name: 'v', type: 'struct s', value: deep }] })).toBe('argv');
    expect(refused({ type: 'checkpoint', state: deep })).toBe('state');
    expect(refused({ ...HEADER, modules: deep })).toBe('modules');
    expect(refused({ ...END, functions: deep })).toBe('functions');
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(1000);
  });

  test('the largest values in range pass', () => {
    const e = { ...EVENTS[0], pid: LIMITS.pid, tid: LIMITS.pid, depth: LIMITS.depth, ts: LIMITS.ns, address: '0xffffffffffffffff', args: Array(LIMITS.args).fill('0x0') };
    expect(refused(e)).toBeNull();
    expect(refused({ ...END, calls: LIMITS.count, nmissed: { '': LIMITS.count } })).toBeNull();
  });
});

describe('readRecord', () => {
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(scratchDir(), name);
    fs.writeFileSync(file, content);
    return file;
  };
  const read = (file: string) => {
    const events: TraceEvent[] = [];
    const r = readRecord(file, () => undefined, (e) => events.push(e));
    return { ...r, events };
  };
  const error = (file: string): RethookError => {
    try {
      read(file);
    } catch (e) {
      expect(e).toBeInstanceOf(RethookError);
      return e as RethookError;
    }
    throw new Error('no error');
  };

  test('a valid record is read whole: every event, the end line, not cut', () => {
    const r = read(write('valid.rethook', text(lines())));
    expect(r.events).toEqual(EVENTS);
    expect({ cut: r.cut, end: r.end, skipped: r.skipped }).toEqual({ cut: false, end: END, skipped: { lines: 0, first: 0 } });
  });

  test.each([
    [MUTANTS.find((mu) => mu.field === 'command')!, /^\S+mutant\.rethook line 1: header field 'command': expected an array, found "\.\/app"$/],
    [MUTANTS.find((mu) => mu.field === 'depth')!, /^\S+mutant\.rethook line 2: 'entry' event field 'depth': expected an integer from 0 to 2147483647, found "0"$/],
    [MUTANTS.find((mu) => mu.named === 'nmissed["g"]')!, /^\S+mutant\.rethook line 13: end line field 'nmissed\["g"\]': expected an integer from 0 to \d+, found null$/],
  ])('a bad field is a RethookError ERECORD naming the file, the line and the field (%#)', (mu, message) => {
    const e = error(write('mutant.rethook', mutated(mu)));
    expect(e.code).toBe('ERECORD');
    expect(e.message).toMatch(message);
  });

  test('a line that is not JSON is an error when lines follow it, and a cut when it is the last', () => {
    const all = text(lines()).split('\n');
    all.splice(3, 0, '{"type":"entry",');
    expect(error(write('garbage.rethook', all.join('\n'))).message).toMatch(/garbage\.rethook line 4: not a JSON object with a "type", and more lines follow it$/);
    const cut = text(lines()).split('\n').slice(0, 4).join('\n') + '\n{"type":"exit","pid":1\n';
    const r = read(write('cut.rethook', cut));
    expect({ cut: r.cut, events: r.events.length, end: r.end }).toEqual({ cut: true, events: 3, end: null });
  });

  test('an event with its line end missing at the end of the file is read, then said to be cut', () => {
    const r = read(write('noeol.rethook', text(lines().slice(0, 3)).trimEnd()));
    expect({ cut: r.cut, events: r.events }).toEqual({ cut: true, events: EVENTS.slice(0, 2) });
  });

  test(`an event line longer than ${LINE_MAX >> 20} MiB is skipped with a warning event in its place; the lines after it are read`, () => {
    const all = lines().map((o) => JSON.stringify(o));
    all.splice(2, 0, JSON.stringify({ type: 'warning', message: 'x'.repeat(LINE_MAX) }));
    const r = read(write('long.rethook', all.join('\n') + '\n'));
    expect(r.skipped).toEqual({ lines: 1, first: 3 });
    expect(r.events).toHaveLength(EVENTS.length + 1);
    expect(r.events[1]).toEqual({ type: 'warning', message: expect.stringMatching(/long\.rethook line 3 skipped: \d+ bytes, longer than the 1 MiB a record line may take$/) });
    expect(r.events.slice(2)).toEqual(EVENTS.slice(1));
    expect(r.end).toEqual(END);
  });

  test('an end line longer than an event line may be (thousands of hooked functions) is read', () => {
    const functions = Array.from({ length: 40000 }, (_, i) => ({ pid: 100, address: 4198400 + i, function: `function_number_${i}` }));
    const file = write('bigend.rethook', text([...lines().slice(0, -1), { ...END, functions }]));
    expect(fs.statSync(file).size).toBeGreaterThan(LINE_MAX);
    const r = read(file);
    expect(r.end?.functions).toHaveLength(40000);
    expect(r.skipped.lines).toBe(0);
  });

  test(`a first line longer than ${LONG_LINE_MAX >> 20} MiB is no record, said before the rest is read`, () => {
    const head = Buffer.from(JSON.stringify({ ...HEADER, command: ['./app'] }).slice(0, -1) + ',"pad":"');
    const file = write('bighead.rethook', Buffer.concat([head, Buffer.alloc(LONG_LINE_MAX, 'a'), Buffer.from('"}\n')]));
    expect(error(file).message).toMatch(/bighead\.rethook is not a rethook record \(its first line is longer than 64 MiB\)$/);
  });

  test('a newer format version is refused as such, before its fields are checked', () => {
    const file = write('v2.rethook', text([{ type: 'rethook-record', version: 2, command: 'changed' }]));
    expect(error(file).message).toMatch(/v2\.rethook is a record of format version 2; this rethook reads version 1$/);
  });
});

describe('InFlightBound', () => {
  test('calls past the bound are dropped with the calls inside them, and their exits too; the count says how many', () => {
    const b = new InFlightBound(3, 1 << 20);
    const kept = [0, 1, 2, 3, 4].map((d) => b.entry(7, d, 'f', 100));
    expect(kept).toEqual([true, true, true, false, false]);
    expect([4, 3].map((d) => b.exit(7, d, 'f'))).toEqual([false, false]);
    expect([2, 1, 0].map((d) => b.exit(7, d, 'f'))).toEqual([true, true, true]);
    expect({ dropped: b.dropped, open: b.open }).toEqual({ dropped: 2, open: 0 });
    // Room again: a new call is kept.
    expect(b.entry(7, 0, 'f', 100)).toBe(true);
  });

  test('calls that never return are ended by the next call at their depth, as the views end them: they hold no room', () => {
    const b = new InFlightBound(2, 1 << 20);
    const kept = Array.from({ length: 1000 }, () => b.entry(1, 0, 'f', 100));
    expect(kept.every(Boolean)).toBe(true);
    expect(b.open).toBe(1);
    expect(b.dropped).toBe(0);
  });

  test('an exit that is not of the call on top (another function) leaves that call held, as the views do', () => {
    const b = new InFlightBound(2, 1 << 20);
    expect(b.entry(1, 0, 'f', 100)).toBe(true);
    expect(b.exit(1, 0, 'g')).toBe(true);
    expect(b.open).toBe(1);
    expect(b.entry(1, 1, 'h', 100)).toBe(true);
    expect(b.entry(1, 2, 'i', 100)).toBe(false);
  });

  test('the bound is on all threads together, and on the bytes of their entries', () => {
    const b = new InFlightBound(1000, 250);
    expect([1, 2, 3].map((tid) => b.entry(tid, 0, 'f', 100))).toEqual([true, true, false]);
    expect(b.exit(1, 0, 'f')).toBe(true);
    expect(b.entry(3, 0, 'f', 100)).toBe(true);
    const c = new InFlightBound(2, 1 << 20);
    expect([1, 2, 3].map((tid) => c.entry(tid, 5, 'f', 1))).toEqual([true, true, false]);
  });

  test('an exit whose entry was never seen (inherited in flight) is passed on', () => {
    const b = new InFlightBound(2, 1 << 20);
    expect(b.exit(9, 3, 'f')).toBe(true);
  });
});
