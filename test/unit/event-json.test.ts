// The JSON lines of live events (lib/views/event-json.ts) are byte for byte
// what JSON.stringify writes, for every shape an event takes.
import { entryJson, exitJson, IN_ORDER, withoutShownDepth } from '../../lib/views/event-json';
import type { EntryEvent, ExitEvent } from '../../lib/events';

const live = <T extends object>(o: T): T => Object.assign(o, { [IN_ORDER]: true });
const stringified = (e: object) => JSON.stringify(withoutShownDepth(e)) + '\n';

const entry = (extra: object = {}): EntryEvent => live({
  type: 'entry', pid: 41, tid: 42, function: 'lookup', address: '0x401136', depth: 2, args: ['0x5', '0x7ffd0000', '0x0'],
  ...extra,
} as EntryEvent);

const exit = (extra: object = {}, tail: object = {}): ExitEvent => live({
  type: 'exit', pid: 41, tid: 42, function: 'lookup', depth: 2, retval: '0xffffffffffffffff', unwound: false, durationNs: 1234,
  ...extra, ts: 98765432101234, ...tail,
} as ExitEvent);

const withTs = (e: EntryEvent, ts: number) => Object.assign(e, { ts });

test.each([
  ['without a signature', withTs(entry(), 123456789012345)],
  ['with typed arguments of every JSON kind', withTs(entry({ argv: [
    { name: 'key', type: 'const char *', value: 'al"ph\\a\n\u0001é😀' },
    { name: 'n', type: 'long', value: -9007199254740991 },
    { name: 'big', type: 'unsigned long', value: '18446744073709551615' },
    { name: 'd', type: 'double', value: 1.5e-300 },
    { name: 'ok', type: '_Bool', value: true },
    { name: 'p', type: 'struct pair', value: { a: 1, b: [2, 'x'] } },
    { name: 's', type: 'char *', value: null },
    { type: 'int', value: 0 },
    { name: 'bad', type: 'char *', value: '0x10', error: 'unreadable' },
    { name: 'long', type: 'char *', value: 'aaaa', truncated: true },
  ] }), 1)],
  ['with a lone surrogate and a line separator in a name', withTs(entry({ function: 'f\ud800\u2028' }), 5)],
  ['with no arguments', withTs(entry({ args: [], argv: [] }), 0)],
  ['with a non-finite timestamp', withTs(entry(), NaN)],
  ['with the tree\'s shownDepth', { ...withTs(entry(), 7), shownDepth: 0 }],
  ['with a backtrace', withTs(entry({ backtrace: ['main+0x10'], backtraceReliable: true }), 7)],
  ['with a field it does not know', withTs(entry({ inherited: true }), 7)],
  ["of a Go program (its goroutine's id)", withTs(entry({ argv: [{ name: 'x', type: 'int', value: 5 }], goroutine: 18 }), 7)],
  ['not built live (a replayed record, fields in another order)', { ts: 1, ...JSON.parse(JSON.stringify(entry())) }],
  ['with an undefined value', withTs(entry({ argv: [{ name: 'x', type: 'int', value: undefined }] }), 1)],
])('an entry event %s is written as JSON.stringify writes it', (_what, e) => {
  expect(entryJson(e as EntryEvent)).toBe(stringified(e));
});

test.each([
  ['without a signature', exit()],
  ['with a typed return', exit({ ret: { type: 'double', value: -0.5 } })],
  ['of a void function', exit({ ret: { type: 'void' } })],
  ['unwound, with a reason, inherited', exit({ unwound: true, reason: 'longjmp', inherited: true })],
  ["of a Go program (its goroutine's id)", exit({ ret: { type: 'int', value: 4 }, unwound: true, reason: 'thread-exit', goroutine: 18 })],
  ['with the tree\'s shownDepth', { ...exit(), shownDepth: 1 }],
  ['with a field after ts', exit({}, { extra: 'x' })],
  ['not built live', { ...exit(), [IN_ORDER]: undefined }],
])('an exit event %s is written as JSON.stringify writes it', (_what, e) => {
  expect(exitJson(e as ExitEvent)).toBe(stringified(e));
});

test('a live event with typed scalars is written without calling JSON.stringify (the point of the writer)', () => {
  const e = withTs(entry({ argv: [{ name: 'x', type: 'int', value: 5 }], goroutine: 7 }), 3);
  const x = exit({ ret: { type: 'int', value: 4 }, goroutine: 7 });
  const want = [stringified(e), stringified(x)];
  const spy = jest.spyOn(JSON, 'stringify');
  try {
    expect([entryJson(e), exitJson(x)]).toEqual(want);
    expect(spy).not.toHaveBeenCalled();
  } finally {
    spy.mockRestore();
  }
});

test('timestamps and durations of every size are written as JSON.stringify writes them', () => {
  const sizes = [0, 1, 2147483647, 2147483648, 1e9, 1e9 + 1, 999999999999, 123456789012345, 2 ** 53 - 1, 2 ** 53, 1e21, 1.5, -3, 4e9 + 0.5];
  for (const ts of sizes) {
    const x = exit({ durationNs: ts }, { ts });
    expect(exitJson(x)).toBe(stringified(x));
  }
});
