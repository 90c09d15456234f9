// A vfork child (vfork, posix_spawn) shares its parent's memory until it
// execs or exits. The parent's calls stay the parent's, the child's are the
// child's (followed) or nobody's (not followed), cut exactly at the parent's
// vfork-done stop, in both modes; a child we do not follow runs untraced, so
// its parent may trace it.
import { cli, fixture, MODES, untraced } from './helpers';

interface Ev { type: string; pid: number; function: string; retval?: string; unwound?: boolean; reason?: string; inherited?: boolean }

function events(stderr: string): Ev[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((e) => e.type === 'entry' || e.type === 'exit');
}

const show = (e: Ev) => `${e.type} ${e.function}${e.unwound ? ` unwound(${e.reason})` : ''}${e.inherited ? ' inherited' : ''}`;

const SPAWN_HOOKS = ['-f', 'run', '-f', 'posix_spawn', '-f', 'posix_spawn_file_actions_destroy', '-f', 'waitpid', '-f', 'dup2', '-f', 'execve'];
/** What the parent of spawn_twice calls, per round (dup2 and execve are its children's). */
const PARENT_ROUND = ['entry run', 'entry posix_spawn', 'exit posix_spawn', 'entry posix_spawn_file_actions_destroy', 'exit posix_spawn_file_actions_destroy', 'entry waitpid', 'exit waitpid', 'exit run'];

describe.each(MODES)('%s mode', (mode) => {
  test.each(['O0', 'O2'])('posix_spawn and waitpid twice: every call of the parent is its own, none lost (%s)', (v) => {
    const plain = untraced(fixture('spawn_twice', v));
    expect(plain.stdout).toBe('child 0\nchild 1\nrun 0 = 13\nrun 1 = 14\n');
    const r = cli(['trace', '--mode', mode, '--format', 'json', ...SPAWN_HOOKS, '--', fixture('spawn_twice', v)]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(plain.status);
    const ev = events(r.stderr);
    expect(new Set(ev.map((e) => e.pid)).size).toBe(1);
    expect(ev.map(show)).toEqual([...PARENT_ROUND, ...PARENT_ROUND]);
    const rets = ev.filter((e) => e.type === 'exit').map((e) => `${e.function}=${e.retval}`);
    expect(rets.filter((x) => /^(run|posix_spawn)=/.test(x))).toEqual(['posix_spawn=0x0', 'run=0xd', 'posix_spawn=0x0', 'run=0xe']);
  });

  test.each(['O0', 'O2'])('posix_spawn with --follow-fork: the parent keeps its calls, each child has its own and ends them at its exec (%s)', (v) => {
    const plain = untraced(fixture('spawn_twice', v));
    const r = cli(['trace', '--mode', mode, '--follow-fork', '--format', 'json', ...SPAWN_HOOKS, '--', fixture('spawn_twice', v)]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(plain.status);
    const ev = events(r.stderr);
    const parent = ev[0].pid;
    expect(ev.filter((e) => e.pid === parent).map(show)).toEqual([...PARENT_ROUND, ...PARENT_ROUND]);
    const children = [...new Set(ev.filter((e) => e.pid !== parent).map((e) => e.pid))];
    expect(children).toHaveLength(2);
    for (const c of children) {
      // The calls it inherited in flight (run, posix_spawn) open its stream; its own calls, all ended by its exec.
      expect(ev.filter((e) => e.pid === c).map(show)).toEqual([
        'entry run inherited', 'entry posix_spawn inherited', 'entry dup2', 'exit dup2', 'entry execve', 'exit execve unwound(exec)',
        'exit posix_spawn unwound(exec) inherited', 'exit run unwound(exec) inherited',
      ]);
    }
  });

  test('a vfork child we do not follow can be traced by its parent (PTRACE_TRACEME)', () => {
    const plain = untraced(fixture('vfork_traceme'));
    expect(plain.stdout).toBe('traced: 1, exit 0\ntraced: 1, exit 0\n');
    const r = cli(['trace', '--mode', mode, '--format', 'json', '-f', 'launch', '-f', 'follow', '--', fixture('vfork_traceme')]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.status).toBe(plain.status);
    const ev = events(r.stderr);
    expect(ev.map((e) => `${show(e)}${e.function === 'follow' && e.type === 'exit' ? ` ${e.retval}` : ''}`)).toEqual([
      'entry launch', 'exit launch', 'entry follow', 'exit follow 0x3e8', 'entry launch', 'exit launch', 'entry follow', 'exit follow 0x3e8',
    ]);
  });
});

test.each(['O0', 'O2'])('vfork inside a hooked function: fast mode reports exactly what trap mode does, followed or not (%s)', (v) => {
  const plain = untraced(fixture('vfork_inflight', v));
  for (const follow of [[], ['--follow-fork']]) {
    const runs = MODES.map((mode) => cli(['trace', '--mode', mode, ...follow, '--format', 'json', '-f', 'launch', '-f', 'child_work', '--', fixture('vfork_inflight', v)]));
    const [trap, fast] = runs.map((r) => {
      expect(r.stdout).toBe(plain.stdout);
      expect(r.status).toBe(plain.status);
      const ev = events(r.stderr);
      const parent = ev[0].pid;
      // Per process, in order (the two processes' events may interleave either way).
      const line = (e: Ev) => `${show(e)} ${e.function === 'launch' && e.type === 'exit' && !e.unwound ? 'pid' : e.retval ?? ''}`.trim();
      return { parent: ev.filter((e) => e.pid === parent).map(line), child: ev.filter((e) => e.pid !== parent).map(line) };
    });
    expect(fast).toEqual(trap);
    expect(trap).toEqual(follow.length
      ? { parent: ['entry launch', 'exit launch pid'], child: ['entry launch inherited', 'entry child_work', 'exit child_work 0x2a', 'exit launch unwound(thread-exit) inherited'] }
      : { parent: ['entry launch', 'exit launch pid'], child: [] });
  }
});
