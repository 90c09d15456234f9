// Every entry into the unwinder sees real return addresses in both modes,
// and the calls are hooked again after: Rust panics (_Unwind_RaiseException,
// caught by catch_unwind, which calls no __cxa_begin_catch) and glibc's
// backtrace() (_Unwind_Backtrace, which returns). pthread_cancel
// (_Unwind_ForcedUnwind) is in exceptions.test.ts.
import * as fs from 'fs';
import { fixture, MODES, trace, untraced } from './helpers';

const { RUST, haveRustc } = require('./build-fixtures');
const rust = haveRustc();
if (!rust) console.warn('unwinder-entries.test.ts: rustc is not installed (apt-get install rustc): the Rust panic tests are skipped');

const CASES = MODES.flatMap((mode) => (RUST as string[]).map((v) => [mode, v.split('.')[1]] as const));

(rust ? describe.each(CASES) : describe.skip.each(CASES))('Rust panics through hooked functions (%s mode, %s)', (mode, v) => {
  test('are caught by catch_unwind as untraced: the frames they remove end as unwound(exception), the catching call returns', async () => {
    const file = fixture('panics', v);
    expect(fs.existsSync(file)).toBe(true);
    const r = await trace(file, ['catcher', 'middle', 'thrower'], { mode });
    const plain = untraced(file);
    expect({ code: r.status.code, signal: r.status.signal }).toEqual({ code: plain.status, signal: plain.signal });
    expect(r.stdout).toBe(plain.stdout);
    const ok = (i: number) => [`> catcher ${i}`, `> middle ${i}`, `> thrower ${i}`, '< thrower = 1', '< middle = 2', '< catcher = 2'];
    const panic = (i: number) => [`> catcher ${i}`, `> middle ${i}`, `> thrower ${i}`, '< thrower unwound(exception)', '< middle unwound(exception)', '< catcher = -1'];
    expect(r.events).toEqual([...ok(0), ...panic(1), ...ok(0), ...panic(2), ...ok(0)]);
  });
});

describe.each(MODES)('backtrace() inside hooked functions (%s mode)', (mode) => {
  test('sees the real frames, as untraced, and the calls return through their hooks after it', async () => {
    const file = fixture('unwind_backtrace', 'O2');
    const r = await trace(file, ['outer', 'inner'], { mode });
    const plain = untraced(file);
    expect(plain.stdout).toMatch(/^inner\nouter\nmain\n/);
    expect({ code: r.status.code, signal: r.status.signal }).toEqual({ code: plain.status, signal: plain.signal });
    expect(r.stdout).toBe(plain.stdout);
    expect(r.events).toEqual(['> outer 1', '> inner 2', '< inner = 3', '< outer = 6', '> outer 2', '> inner 3', '< inner = 4', '< outer = 8']);
  });
});
