import { fixture, trace, untraced, VARIANTS } from './helpers';

describe.each(VARIANTS)('C++ exceptions through hooked frames (%s)', (v) => {
  test('are caught exactly where they are untraced, and the frames they remove end as unwound', async () => {
    const r = await trace(fixture('exceptions', v), ['catcher', 'middle', 'thrower', 'rethrower']);
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

test('pthread_cancel unwinds through a hooked call: cleanup runs and the call ends as thread-exit', async () => {
  const r = await trace(fixture('cancel', 'O2'), 'blocked');
  expect(r.stdout).toBe('cleanup ran\ncanceled=1\n');
  expect(r.events).toEqual(['> blocked 7', '< blocked unwound(thread-exit)']);
});
