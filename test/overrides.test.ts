import { fixture, linkedAddressOfString, loadBias, trace, untraced } from './helpers';

test('onEntry can skip a call and return a given value at once', async () => {
  const file = fixture('override');
  let guess = 0;
  let read = '';
  const r = await trace(file, 'check_password', {
    handlers: {
      onEntry: (c) => {
        // The argument is main's "guess": its address in the binary, moved by the load bias.
        guess = linkedAddressOfString(file, 'guess') + loadBias(c.pid, file);
        read = c.readCString(c.args[0]);
        c.skip(1);
      },
    },
  });
  expect(read).toBe('guess');
  // Only the entry: a skipped call has no return to hook.
  expect(r.events).toEqual([`> check_password ${guess}`]);
  // "guess" is the wrong password: only the skip's 1 grants access.
  expect(untraced(file).stdout).toBe('access=denied\ncompute=2\nratio=0.25\n');
  expect(r.stdout).toBe('access=granted\ncompute=2\nratio=0.25\n');
  expect(r.status.code).toBe(0);
});

test.each(['O0', 'O2'])('onEntry can redirect a call to a replacement that calls the original (%s)', async (v) => {
  const r = await trace(fixture('override', v), 'compute', { handlers: { onEntry: (c) => c.redirect('compute_v2') } });
  // The replacement's own call of compute is not redirected again.
  expect(r.events).toEqual(['> compute 1', '> compute 1', '< compute = 2', '< compute = 200']);
  expect(r.stdout).toBe('access=denied\ncompute=200\nratio=0.25\n');
});

test('onExit can replace the integer return value', async () => {
  const r = await trace(fixture('override'), 'compute', { handlers: { onExit: (c) => c.setReturnValue(41) } });
  expect(r.stdout).toBe('access=denied\ncompute=41\nratio=0.25\n');
});

test('onExit can replace the floating-point return value', async () => {
  const r = await trace(fixture('override', 'O2'), 'ratio', { handlers: { onExit: (c) => c.setFpReturnValue(0.75) } });
  expect(r.stdout).toBe('access=denied\ncompute=2\nratio=0.75\n');
});

test('a context used after its handler returned throws', async () => {
  let saved: { readMemory(a: number, n: number): Buffer } | null = null;
  await trace(fixture('override'), 'compute', { handlers: { onEntry: (c) => void (saved = c) } });
  expect(() => saved!.readMemory(0, 1)).toThrow('a context was used after its handler returned');
});
