// Signals the user's shell ignored (nohup and `trap '' HUP`; SIGINT and
// SIGQUIT for a background job) stay ignored for the program rethook starts,
// and for rethook itself: a hangup of the whole process group leaves both
// running, as it leaves the program untraced. The CLI is run as installed
// (bin/rethook.js executed: its first line notes the caller's ignored
// signals before Node resets them; `node bin/rethook.js` cannot know them).
import { spawn } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, fixture, MODES, scratchDir } from './helpers';
import { timeBound } from './time-bound';

interface Outcome {
  stdout: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `sh -c "trap '' SIG; exec COMMAND"` in a process group of its own: once
 * the program says "ready", SIG goes to the whole group (as a terminal's
 * hangup or Ctrl-C would), then the program is given its line and finishes.
 */
async function signalledGroup(sig: NodeJS.Signals, command: string[], ignore = true): Promise<Outcome> {
  const quoted = command.map((a) => `'${a}'`).join(' ');
  const sh = spawn('/bin/sh', ['-c', `${ignore ? `trap '' ${sig.slice(3)}; ` : ''}exec ${quoted}`], { detached: true, stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  let signalled = false;
  sh.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!signalled && stdout.includes('ready\n')) {
      signalled = true;
      // The program is blocked reading stdin: the signal reaches it (and the tracer) before the line does.
      process.kill(-sh.pid!, sig);
      sh.stdin!.end('go\n');
    }
  });
  sh.stdin!.on('error', () => undefined); // EPIPE when the group died of the signal
  const timer = setTimeout(() => process.kill(-sh.pid!, 'SIGKILL'), timeBound(30000));
  const [code, signal] = (await once(sh, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { stdout, code, signal };
}

const SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT'];

test.each(SIGNALS)('untraced, the fixture dies of %s sent to its group unless the shell ignores it', async (sig) => {
  expect(await signalledGroup(sig, [fixture('hangup')], false)).toEqual({ stdout: 'ready\n', code: null, signal: sig });
  expect(await signalledGroup(sig, [fixture('hangup')])).toEqual({ stdout: 'ready\nalive 2\n', code: 0, signal: null });
});

describe.each(MODES)('%s mode', (mode) => {
  test.each(SIGNALS)('a program traced under a shell that ignores %s keeps it ignored, and so does rethook: as untraced', async (sig) => {
    const events = path.join(scratchDir(), `events-${mode}-${sig}`);
    const traced = await signalledGroup(sig, [CLI, 'trace', '--mode', mode, '--format', 'json', '-o', events, '-f', 'work', '--', fixture('hangup')]);
    expect(traced).toEqual({ stdout: 'ready\nalive 2\n', code: 0, signal: null });
    const exits = fs.readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'exit');
    expect(exits).toEqual([expect.objectContaining({ function: 'work', retval: '0x2' })]);
  });
});
