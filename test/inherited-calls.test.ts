// A followed fork child's stream stands alone (issue 24, item 6): the calls it
// inherited in flight from the thread that forked open its stream as entries
// marked `inherited`, so that each process's events nest on their own: every
// exit closes the innermost open call of its thread, every entry's depth is
// the number of calls open below it (execve in a posix_spawn child included),
// and nothing is left open.
import * as fs from 'fs';
import * as path from 'path';
import { cli, fixture, MODES, scratchDir } from './helpers';

let runs = 0;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

function followed(mode: string, patterns: string[], program: string[]): { status: number | null; stdout: string; events: Ev[] } {
  const out = path.join(scratchDir(), `events-${runs++}.json`);
  const r = cli(['trace', '--mode', mode, '--follow-fork', '--format', 'json', '-o', out, ...patterns.flatMap((p) => ['-f', p]), '--', ...program]);
  const events = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, stdout: r.stdout, events };
}

/** Each thread's calls, checked to nest on their own; returns the lines `pid > fn depth [inherited]` / `pid < fn depth`, per pid. */
function balanced(events: Ev[]): Map<number, string[]> {
  const stacks = new Map<number, Ev[]>();
  const lines = new Map<number, string[]>();
  for (const e of events) {
    if (e.type !== 'entry' && e.type !== 'exit') continue;
    let st = stacks.get(e.tid);
    if (!st) stacks.set(e.tid, (st = []));
    if (!lines.has(e.pid)) lines.set(e.pid, []);
    if (e.type === 'entry') {
      expect({ at: `${e.pid} entry ${e.function}`, depth: e.depth }).toEqual({ at: `${e.pid} entry ${e.function}`, depth: st.length });
      st.push(e);
      lines.get(e.pid)!.push(`> ${e.function} ${e.depth}${e.inherited ? ' inherited' : ''}`);
    } else {
      const top = st.pop();
      expect({ at: `${e.pid} exit ${e.function} ${e.depth}`, top: top && `${top.function} ${top.depth}` }).toEqual({ at: `${e.pid} exit ${e.function} ${e.depth}`, top: `${e.function} ${e.depth}` });
      lines.get(e.pid)!.push(`< ${e.function} ${e.depth}${e.unwound ? ` unwound(${e.reason})` : ''}`);
    }
  }
  for (const [tid, st] of stacks) expect({ tid, open: st.map((e) => e.function) }).toEqual({ tid, open: [] });
  return lines;
}

describe.each(MODES)('%s mode', (mode) => {
  test('a fork child opens with the calls it inherited, then returns from them on its own', () => {
    const r = followed(mode, ['main', 'spawn_child', 'fork', 'work'], [fixture('forker')]);
    expect(r.status).toBe(0);
    const [parent, child] = [...balanced(r.events).values()];
    expect(child).toEqual([
      '> main 0 inherited', '> spawn_child 1 inherited', '> fork 2 inherited',
      '< fork 2', '> work 2', '< work 2', '< spawn_child 1', '< main 0',
    ]);
    expect(parent).toEqual(['> main 0', '> spawn_child 1', '> fork 2', '< fork 2', '< spawn_child 1', '> work 1', '< work 1', '< main 0']);
    // The inherited entries are the parent's calls: their addresses and arguments.
    const first = (pid: number) => r.events.find((e) => e.type === 'entry' && e.pid === pid && e.function === 'spawn_child')!;
    const pids = [...new Set(r.events.filter((e) => e.type === 'entry').map((e) => e.pid))];
    expect(first(pids[1]!).args).toEqual(first(pids[0]!).args);
  });

  test('posix_spawn children: execve at the depth of the inherited posix_spawn, each stream balanced', () => {
    const r = followed(mode, ['main', 'posix_spawn', 'execve', 'waitpid'], [fixture('spawn_twice')]);
    expect(r.status).toBe(0);
    const streams = [...balanced(r.events).values()];
    expect(streams).toHaveLength(3);
    for (const child of streams.slice(1)) {
      expect(child).toEqual([
        '> main 0 inherited', '> posix_spawn 1 inherited', '> execve 2',
        '< execve 2 unwound(exec)', '< posix_spawn 1 unwound(exec)', '< main 0 unwound(exec)',
      ]);
    }
  });

  test('bash: the forked child returns from fork and _Fork it inherited, then execs, each stream balanced', () => {
    const r = followed(mode, ['fork', '_Fork', 'execve', 'waitpid'], ['/bin/bash', '-c', '/bin/true; /bin/echo hi']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'hi\n' });
    const streams = [...balanced(r.events).values()];
    expect(streams).toHaveLength(2);
    expect(streams[1]).toEqual(['> fork 0 inherited', '> _Fork 1 inherited', '< _Fork 1', '< fork 0', '> execve 0', '< execve 0 unwound(exec)']);
  });
});

test('a record of a followed fork counts each call once: the inherited entries are not new calls', () => {
  const rec = path.join(scratchDir(), 'forker.rethook');
  expect(cli(['record', '--mode', 'trap', '--follow-fork', '-o', rec, '-f', 'spawn_child', '-f', 'work', '--', fixture('forker')]).status).toBe(0);
  const report = cli(['report', '--format', 'json', rec]);
  expect(report.status).toBe(0);
  // spawn_child returns twice (in the parent and in the child); work is called once in each.
  const rows: { function: string; calls: number }[] = JSON.parse(report.stdout).rows;
  expect(Object.fromEntries(rows.map((x) => [x.function, x.calls]))).toEqual({ spawn_child: 2, work: 2 });
  // Calls made: spawn_child once (in the parent), work once in each process; the child's inherited entry is not one.
  expect(cli(['report', rec]).stdout).toMatch(/^rethook: 3 calls traced, 0 missed, /);
});
