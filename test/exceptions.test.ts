import { fixture, MODES, trace, untraced, VARIANTS } from './helpers';

const CASES = MODES.flatMap((mode) => VARIANTS.map((v) => [mode, v] as const));

describe.each(CASES)('C++ exceptions through hooked frames (%s mode, %s)', (mode, v) => {
  test('are caught exactly where they are untraced, and the frames they remove end as unwound', async () => {
    const r = await trace(fixture('exceptions', v), ['catcher', 'middle', 'thrower', 'rethrower'], { mode });
    expect(r.stdout).toBe(untraced(fixture('exceptions', v)).stdout);
    expect(r.status.code).toBe(0);
    const strip = (e: string) => e.replace('(int)', '');
    expect(r.events.map(strip)).toEqual([
      '> catcher 0', '> middle 0', '> thrower 0', '< thrower = 0', '< middle = 1', '< catcher = 1',
      // caught two hooked frames up, through a destructor's cleanup pad
      '> catcher 1', '> middle 1', '> thrower 1', '< thrower unwound(exception)', '< middle unwound(exception)', '< catcher = -1',
      // caught one frame up, rethrown, caught in main
      '> rethrower 2', '> thrower 2', '< thrower unwound(exception)', '< rethrower unwound(exception)',
      '> catcher 0', '> middle 0', '> thrower 0', '< thrower = 0', '< middle = 1', '< catcher = 1',
    ]);
  });
});

test.each(MODES)('pthread_cancel unwinds through a hooked call: cleanup runs and the call ends as thread-exit (%s mode)', async (mode) => {
  const r = await trace(fixture('cancel', 'O2'), 'blocked', { mode });
  expect(r.stdout).toBe('cleanup ran\ncanceled=1\n');
  expect(r.events).toEqual(['> blocked 7', '< blocked unwound(thread-exit)']);
});
