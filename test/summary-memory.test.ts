// A long `-c` run holds no memory per call: the CLI's heap and array buffers
// at its end (after a full collection, measured by test/memory-probe.js) are
// about the same after 2,000,000 calls as after 100,000. Keeping every
// duration, as the summary did before its histograms, was 16 MB more.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, fixture, scratchDir } from './helpers';

/** `rethook trace -c --mode fast` of loop (tiny() called n times): the summary row and the bytes in use at the end. */
function summaryRun(n: number): { calls: number; bytes: number } {
  const out = path.join(scratchDir(), `memory-${n}.json`);
  const r = spawnSync(process.execPath, ['--expose-gc', '-r', path.join(__dirname, 'memory-probe.js'), CLI, 'trace', '-c', '--format', 'json', '--mode', 'fast', '-f', 'tiny', '--', fixture('loop'), String(n)], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, RETHOOK_TEST_MEMORY_OUT: out },
  });
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(`${(n * (n - 1)) / 2}\n`); // the sum of i ^ 1 over 0..n-1, n even
  const { rows } = JSON.parse(r.stderr.trim().split('\n').pop()!);
  const m = JSON.parse(fs.readFileSync(out, 'utf8'));
  return { calls: rows[0].calls, bytes: m.heapUsed + m.arrayBuffers };
}

test('-c over two million calls ends holding under 2 MB more than over a hundred thousand', () => {
  const short = summaryRun(100_000);
  const long = summaryRun(2_000_000);
  expect([short.calls, long.calls]).toEqual([100_000, 2_000_000]);
  expect(long.bytes - short.bytes).toBeLessThan(2 << 20);
});
