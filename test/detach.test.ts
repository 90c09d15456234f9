import * as fs from 'fs';
import { Tracer } from '../lib';
import { Captured, fixture, MODES, waitForState } from './helpers';
import { timeBound } from './time-bound';

/** How long the sleeper naps: long enough, under emulation too, for a timer to act while it sleeps. */
const NAP = Math.min(timeBound(400), 8000);

/** The program was our child and runs on untraced: wait until it has written a line. */
async function outputOf(out: Captured): Promise<string> {
  for (const end = Date.now() + timeBound(6000); Date.now() < end; ) {
    const text = fs.readFileSync(out.file, 'utf8');
    if (text.endsWith('\n')) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
  return fs.readFileSync(out.file, 'utf8');
}

test.each(MODES)('detaching from a timer while a hooked call sits in a system call leaves the program unharmed (%s mode)', async (mode) => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('sleeper'), [String(NAP)], { stdio: [0, out.fd, 2] });
  const events: string[] = [];
  t.hook('nap', { mode, onEntry: () => void events.push('> nap'), onExit: () => void events.push('< nap') });
  const done = t.run();
  // Once nap is asleep in its system call.
  expect(await waitForState(t.pid, 'S', timeBound(10000))).toBe('S');
  setTimeout(() => void t.detach(), 10); // the scenario: from a timer, not a handler (the state was awaited above)
  expect(await done).toEqual({ pid: t.pid, code: null, signal: null, detached: true });
  expect(events).toEqual(['> nap']);
  expect(await outputOf(out)).toBe(`slept=${NAP}\n`);
}, timeBound(60000));

test.each(MODES)('detaching from an onExit handler with four recursive calls in flight puts every return address back (%s mode)', async (mode) => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('recursion'), [], { stdio: [0, out.fd, 2] });
  const exits: bigint[] = [];
  t.hook('fact', { mode, onExit: (c) => { exits.push(c.retval!); void t.detach(); } });
  expect((await t.run()).detached).toBe(true);
  expect(exits).toEqual([1n]);
  expect(await outputOf(out)).toBe('fact(5)=120\n');
});

test('hooks added from a timer while the program runs take effect', async () => {
  const out = new Captured();
  const t = await Tracer.spawn(fixture('sleeper'), [String(NAP)], { stdio: [0, out.fd, 2] });
  const done = t.run();
  const napEvents: string[] = [];
  const events: string[] = [];
  // Wait until nap is in flight (asleep in usleep), then plant the hooks from a timer (the scenario: not a wait).
  expect(await waitForState(t.pid, 'S', timeBound(20000))).toBe('S');
  await new Promise<void>((resolve) =>
    setTimeout(() => {
      // nap is in flight: a hook planted now sees no entry of it, and must not break its return.
      t.hook('nap', { onEntry: () => void napEvents.push('> nap'), onExit: () => void napEvents.push('< nap') });
      // printf is called after nap returns: this hook must see that call, with its arguments and return value.
      t.hook('printf', {
        onEntry: (c) => void events.push(`> ${c.function} ${JSON.stringify(c.readCString(c.args[0]))} ${c.args[1]}`),
        onExit: (c) => void events.push(`< ${c.function} = ${c.retval}`),
      });
      resolve();
    }, 10),
  );
  expect((await done).code).toBe(0);
  expect(napEvents).toEqual([]);
  expect(events).toEqual([`> printf "slept=%d\\n" ${NAP}`, `< printf = ${`slept=${NAP}\n`.length}`]);
  expect(out.text()).toBe(`slept=${NAP}\n`);
}, timeBound(60000));
