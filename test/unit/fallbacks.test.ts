// The functions left in trap mode, as every output's first note says them:
// grouped by reason (per-function details left out), escaped, bounded; and
// which mode the CLI's options choose when no --mode is given.
import { hookMode, parseCommand, trapOptions } from '../../lib/cli/args';
import { fallbackLines, reasonGroup } from '../../lib/views/fallbacks';

describe('fallback lines', () => {
  test('group reasons that differ only in sizes, offsets and addresses, one line per reason in the order first seen', () => {
    expect(reasonGroup('too short (4 bytes)')).toBe('too short');
    expect(reasonGroup('a branch at +0x1c goes into the patched bytes')).toBe('a branch goes into the patched bytes');
    expect(reasonGroup('its code at 0x7f00aa cannot be read')).toBe('its code cannot be read');
    expect(reasonGroup('its returns are caught at the return site (it returns twice or looks at its caller or return address)'))
      .toBe('its returns are caught at the return site (it returns twice or looks at its caller or return address)');
    expect(fallbackLines([
      { function: 'foo', reason: 'too short (4 bytes)' },
      { function: 'baz', reason: '--backtrace' },
      { function: 'bar', reason: 'too short (3 bytes)' },
      { function: 'foo', reason: 'too short (4 bytes)' }, // the same function in a forked child: once
    ])).toEqual(['2 functions in trap mode (too short): foo, bar', '1 function in trap mode (--backtrace): baz']);
    expect(fallbackLines([])).toEqual([]);
  });

  test('list at most 10 names a reason and 10 reasons, counting the rest, with control characters escaped', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ function: `f${i}`, reason: 'too short (2 bytes)' }));
    expect(fallbackLines(many)).toEqual([`25 functions in trap mode (too short): ${many.slice(0, 10).map((f) => f.function).join(', ')} and 15 more`]);
    const reasons = Array.from({ length: 13 }, (_, i) => ({ function: `g${i}`, reason: `reason ${String.fromCharCode(97 + i)}` }));
    const lines = fallbackLines(reasons);
    expect(lines).toHaveLength(11);
    expect(lines[10]).toBe('3 more functions in trap mode for 3 other reasons');
    const [hostile] = fallbackLines([{ function: 'evil\x1b[2J\nname', reason: 'bad\rreason' }]);
    expect(hostile).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(hostile).toContain('evil');
  });
});

describe('the mode with no --mode', () => {
  const hooking = (...argv: string[]) => parseCommand(['trace', ...argv, '-f', 'x', '--', '/bin/true']).hooking!;
  test('is auto: fast, unless an option needs the thread stopped at the call', () => {
    expect(hooking().mode).toBe('auto');
    expect(hookMode(hooking())).toBe('fast');
    expect(trapOptions(hooking())).toEqual([]);
    expect(hookMode(hooking('--backtrace'))).toBe('trap');
    expect(trapOptions(hooking('--backtrace', '--return-mode', 'site'))).toEqual(['--backtrace', '--return-mode site']);
    expect(hookMode(hooking('--return-mode', 'site'))).toBe('trap');
    expect(hookMode(hooking('--return-mode', 'trampoline'))).toBe('fast');
  });

  test('--mode trap and --mode fast keep their meaning; fast with --backtrace is refused', () => {
    expect(hookMode(hooking('--mode', 'trap'))).toBe('trap');
    expect(hookMode(hooking('--mode', 'fast'))).toBe('fast');
    expect(() => hooking('--mode', 'fast', '--backtrace')).toThrow(/--backtrace needs --mode trap/);
  });
});
