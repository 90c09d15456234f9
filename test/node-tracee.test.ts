// Node.js itself as the tracee: a multi-threaded JIT runtime with signals of
// its own, calling a C library through ffi-rs.
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, FIXTURES, scaled } from './helpers';

test('a Node program calling a C function in a loop through ffi-rs is traced with exact events', async () => {
  const n = scaled(200);
  const out = new Captured();
  const t = await Tracer.spawn(process.execPath, [path.join(__dirname, 'fixtures', 'ffi-caller.js'), path.join(FIXTURES, 'libffidemo.so'), String(n)], {
    stdio: [0, out.fd, 2],
    env: { ...process.env, NODE_PATH: path.join(__dirname, '..', 'node_modules') },
  });
  const events: string[] = [];
  t.hook('libffidemo.so:ffi_mul', {
    onEntry: (c) => void events.push(`> ${c.args[0]} ${c.args[1]}`),
    onExit: (c) => void events.push(`< ${c.retval}`),
  });
  const status = await t.run();
  expect(status.code).toBe(0);
  const expected: string[] = [];
  for (let i = 0; i < n; i++) expected.push(`> ${i} 3`, `< ${3 * i}`);
  expect(events).toEqual(expected);
  expect(out.text()).toBe(`sum=${(3 * n * (n - 1)) / 2}\n`);
}, 120000);
