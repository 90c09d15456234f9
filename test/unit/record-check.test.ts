// The record validator (lib/views/record-check.ts) and the bound on calls held in flight
// (InFlightBound), in-process: every field of a crafted record wrong in type
// and in range is refused with its name.
import { checkEnd, checkEvent, checkHeader, LIMITS, RecordFieldError } from '../../lib/views/record-check';
import { InFlightBound } from '../../lib/views/record';
import { deepJson, END, EVENTS, HEADER, lines, MUTANTS } from '../record-corpus';

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
