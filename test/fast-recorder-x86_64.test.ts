// Fast mode's x86-64 recorder and planner, in one host process with no ptrace:
// test/fast/harness_x86_64.cc lays out an arena as native/fast/recorder.h
// says, patches its own functions and checks every record. It prints one
// line per scenario ("ok NAME" / "FAIL NAME: why") and a benchmark line.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'test', 'fixtures', 'bin');
const HARNESS = path.join(BIN, 'fast-harness-x86_64');
const SOURCES = [
  'test/fast/harness_x86_64.cc',
  'test/fast/harness_arena.cc',
  'test/fast/harness_threads_x86_64.cc',
  'test/fast/harness_capture_x86_64.cc',
  'test/fast/planner_x86_64.cc',
  'test/fast/funcs_x86_64.S',
  'native/fast/fast_x86_64.cc',
  'native/fast/recorder_x86_64.S',
].map((s) => path.join(ROOT, s));

/** The scenarios the harness must report, each exactly once. */
const SCENARIOS = [
  'planner: too short',
  'planner: a branch into the window',
  'planner: ret in the window',
  'planner: rip-relative load relocated',
  'planner: jcc rel8 expanded',
  'planner: endbr64 stays, the patch goes after it',
  'planner: call emulated with its genuine return address',
  'planner: EVEX rip-relative load relocated',
  'planner: VEX rip-relative operand before an imm8 relocated',
  'planner: EVEX and VEX decoded across the whole function',
  'planner: a branch from elsewhere into the window, no padding',
  'planner: a branch from elsewhere into the middle of an instruction',
  'planner: no jmp in padding that is code',
  'planner: a jmp rel8 to a jmp rel32 in the padding when a branch lands at +3',
  'planner: the direct branches of an object\'s functions',
  'planner: a size ending inside an instruction',
  'hook every test function',
  '6 args in, every register kept, rax rdx xmm0 out (fs:[0])',
  'nested hooked calls',
  'recursion',
  'tail call',
  'longjmp out of two hooked frames',
  'frame reused after a longjmp',
  'rip-relative load and short jcc relocated',
  'endbr64 first',
  'call among the displaced bytes (emulated)',
  'maxActive and nodes_max reached',
  'busy, no thread block, disabled: unhooked and counted',
  'return with no node: nomatch counted, int3 at blob+0',
  '6 args in, every register kept with every argument captured (6 bad pointers)',
  'capture: hook the capture functions',
  'capture: a short string: ENTRY, then STRING 0 (96 bytes read, past its NUL)',
  'capture: a string crossing into the next page: 96 bytes read in two parts',
  'capture: a string running into an unmapped page: cut at the page end, no crash',
  'capture: a NULL pointer: no STRING record',
  'capture: bad pointers (0x10, -1, a kernel address): STRING records of 0 bytes, no crash',
  'capture: arguments 0 and 2: two STRING records in order',
  'capture: a string longer than 96 bytes: 96 read',
  "capture: the pool is the site word's low 32 bits (maxActive with a mask)",
  'capture: consumer = 0: STRING records dropped and counted',
  'capture: a ring of 4 and 6 strings per call: 3 kept, 3 dropped, no deadlock',
  '4 threads x 100000 calls, one consumer: every record, in order',
  'a ring of 16 and a slow consumer: nothing lost',
  'consumer = 0: records dropped and counted, calls fine',
  'tracer gone (kill says ESRCH): consumer = 0, records dropped',
  'benchmark: every record drained',
  'benchmark: captured strings, every record kept',
];

function newer(out: string, inputs: string[]): boolean {
  if (!fs.existsSync(out)) return true;
  const t = fs.statSync(out).mtimeMs;
  return inputs.some((i) => fs.statSync(i).mtimeMs > t);
}

const x64 = process.arch === 'x64';

(x64 ? describe : describe.skip)('the x86-64 fast-mode recorder, in process', () => {
  let lines: string[] = [];
  let status: number | null = null;

  beforeAll(() => {
    fs.mkdirSync(BIN, { recursive: true });
    const headers = ['native/fast/recorder.h', 'native/fast/planner.h', 'test/fast/harness.h'].map((h) => path.join(ROOT, h));
    if (newer(HARNESS, [...SOURCES, ...headers])) {
      execFileSync('g++', ['-std=c++20', '-O1', '-g', '-Wall', '-Wextra', '-o', HARNESS, ...SOURCES, '-lZydis', '-lpthread'], {
        stdio: 'inherit',
      });
    }
    const run = spawnSync(HARNESS, { encoding: 'utf8', timeout: 120000 });
    status = run.status;
    lines = run.stdout.split('\n').filter((l) => l);
    process.stdout.write(`${run.stdout}${run.stderr}`);
  }, 240000);

  test('every scenario passes', () => {
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    for (const s of SCENARIOS) expect(lines.filter((l) => l === `ok ${s}`)).toHaveLength(1);
    expect(lines[lines.length - 1]).toBe('ALL OK');
    expect(status).toBe(0);
  });

  test('the benchmark line is printed', () => {
    expect(lines.some((l) => /^bench: .* hooked [\d.]+ ns\/call/.test(l))).toBe(true);
    expect(lines.some((l) => /^bench: .* hooked [\d.]+ ns\/call with the string captured/.test(l))).toBe(true);
  });
});
