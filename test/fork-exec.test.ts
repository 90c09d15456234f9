import { cli, fixture, MODES, untraced } from './helpers';

function jsonEvents(stderr: string): { type: string; pid: number; function: string; retval?: string }[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((e) => e.type === 'entry' || e.type === 'exit');
}

const CASES = MODES.flatMap((mode) => ['O0', 'O2'].map((v) => [mode, v] as const));

describe.each(CASES)('fork and exec (%s mode, %s)', (mode, v) => {
  test('without --follow-fork a child forked inside a hooked call is released cleaned and runs unharmed', () => {
    const plain = untraced(fixture('forker', v));
    const r = cli(['trace', '--mode', mode, '--format', 'json', '-f', 'work', '-f', 'spawn_child', '--', fixture('forker', v)]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(plain.status);
    const ev = jsonEvents(r.stderr);
    expect(new Set(ev.map((e) => e.pid)).size).toBe(1);
    expect(ev.map((e) => `${e.type} ${e.function} ${e.retval ?? ''}`.trim())).toEqual([
      'entry spawn_child', 'exit spawn_child 0x5', 'entry work', 'exit work 0x2',
    ]);
  });

  test('with --follow-fork the child is traced as its own process, its copy of the call in flight included', () => {
    const r = cli(['trace', '--mode', mode, '--follow-fork', '--format', 'json', '-f', 'work', '-f', 'spawn_child', '--', fixture('forker', v)]);
    expect(r.stdout).toBe(untraced(fixture('forker', v)).stdout);
    const ev = jsonEvents(r.stderr);
    const parent = ev[0].pid;
    const child = ev.find((e) => e.pid !== parent)!.pid;
    const show = (pid: number) => ev.filter((e) => e.pid === pid).map((e) => [e.type, e.function, e.retval, (e as { inherited?: boolean }).inherited && 'inherited'].filter(Boolean).join(' '));
    // The call it inherited in flight opens its stream (test/inherited-calls.test.ts).
    expect(show(child)).toEqual(['entry spawn_child inherited', 'entry work', 'exit work 0x2a', 'exit spawn_child 0x64 inherited']);
    expect(show(parent)).toEqual(['entry spawn_child', 'exit spawn_child 0x5', 'entry work', 'exit work 0x2']);
  });

  test('after exec the new image is hooked again by name; a vfork child is released at its exec', () => {
    const plain = untraced(fixture('execer', v));
    const r = cli(['trace', '--mode', mode, '--format', 'json', '-f', 'work', '--', fixture('execer', v)]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(0);
    const ev = jsonEvents(r.stderr);
    expect(ev.map((e) => `${e.type} ${e.retval ?? ''}`.trim())).toEqual(['entry', 'exit 0x2', 'entry', 'exit 0x15']);
    expect(new Set(ev.map((e) => e.pid)).size).toBe(1);
  });

  test('with --follow-fork a vfork child is traced through its exec', () => {
    const r = cli(['trace', '--mode', mode, '--follow-fork', '--format', 'json', '-f', 'work', '--', fixture('execer', v)]);
    expect(r.stdout).toBe(untraced(fixture('execer', v)).stdout);
    const ev = jsonEvents(r.stderr).filter((e) => e.type === 'exit');
    expect(ev.map((e) => e.retval)).toEqual(['0x2', '0xb', '0x15']);
    expect(new Set(ev.map((e) => e.pid)).size).toBe(2);
  });
});
