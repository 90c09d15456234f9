// Fast mode's arm64 recorder and planner, in process: test/fast/harness_arm64*
// is one program that lays out an arena, installs the recorder
// (native/fast/recorder_arm64.S), patches its own functions with the planner's
// stubs (native/fast/fast_arm64.cc) and checks every record. On x86-64 it is
// cross-built static and run under qemu-aarch64-static (user-mode emulation,
// with PAC and BTI); on arm64 it is built and run natively. Skipped when
// neither toolchain is present. qemu-user does not implement process_vm_readv
// (captured strings): there the harness plays it with a SIGTRAP handler in its
// copy of the recorder (test/fast/harness_arm64_strings.cc) and prints a note.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'test', 'fixtures', 'bin');
const HARNESS = path.join(BIN, 'fast-harness-arm64');
const SRC = path.join(ROOT, 'test', 'fast');

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

const NATIVE = process.arch === 'arm64';
const CROSS = !NATIVE && process.arch === 'x64' && has('aarch64-linux-gnu-g++') && has('qemu-aarch64-static');
const CC = NATIVE ? 'gcc' : 'aarch64-linux-gnu-gcc';
const CXX = NATIVE ? 'g++' : 'aarch64-linux-gnu-g++';

const SCENARIOS = [
  'plain call, 8 integer args, every register',
  'nested hooked calls',
  'recursion',
  'tail calls (b into a hooked function)',
  'longjmp out of hooked frames',
  'first instruction PC-relative (adrp, adr, ldr literal x/w/sw/d)',
  "first instruction a branch (b.cond on the caller's flags, cbz, tbnz)",
  'double argument and return in d0',
  'PAC and BTI prologues kept in place',
  'return with no node: nomatch trap',
  'busy set by hand, disabled, disabled mid-call',
  'maxActive reached',
  'nodes_max reached',
  'thread without a block',
  '4 threads x 20000 calls, a consumer draining',
  'full ring, slow consumer: nothing lost',
  'full ring, consumer = 0: dropped and counted',
  'full ring, tracer gone: consumer cleared, dropped',
  'captured string (bit 0): ENTRY, then STRING',
  'captured string up to an unmapped page',
  'captured NULL pointer: no STRING record',
  'captured bad pointer: STRING record, 0 bytes',
  'captured arguments x0 and x2 (and x7, all eight): in order',
  'captured string longer than 96 bytes: 96 read',
  'pool index (bits 0-31) with a capture mask',
  'captured strings, full ring, slow consumer: nothing lost',
  'captured strings, ring smaller than an entry: no deadlock',
  'captured strings, consumer = 0: dropped and counted',
  'planner byte tables',
];

(NATIVE || CROSS ? describe : describe.skip)('fast mode: the arm64 recorder and planner, in process', () => {
  let output = '';

  beforeAll(() => {
    fs.mkdirSync(BIN, { recursive: true });
    const cfuncs = path.join(BIN, 'fast-harness-arm64-cfuncs.o');
    // The C test functions begin as distribution code does: paciasp / bti c.
    execFileSync(CC, ['-O1', '-mbranch-protection=standard', '-Wall', '-Wextra', '-c', '-o', cfuncs,
      path.join(SRC, 'harness_arm64_cfuncs.c')], { stdio: 'inherit' });
    execFileSync(CXX, [
      '-std=c++20', '-O1', '-Wall', '-Wextra', '-pthread', ...(NATIVE ? [] : ['-static']), '-o', HARNESS,
      ...['harness_arm64.cc', 'harness_arm64_arena.cc', 'harness_arm64_hooks.cc', 'harness_arm64_threads.cc',
        'harness_arm64_planner.cc', 'harness_arm64_strings.cc', 'harness_arm64_funcs.S'].map((f) => path.join(SRC, f)),
      path.join(ROOT, 'native', 'fast', 'fast_arm64.cc'),
      path.join(ROOT, 'native', 'fast', 'recorder_arm64.S'),
      path.join(ROOT, 'native', 'arch', 'arm64_decode.cc'),
      cfuncs,
    ], { stdio: ['ignore', 'inherit', 'pipe'] });  // static glibc's link warnings are noise
    const run = spawnSync(NATIVE ? HARNESS : 'qemu-aarch64-static', NATIVE ? [] : [HARNESS], {
      encoding: 'utf8',
      timeout: 240000,
    });
    output = `${run.stdout}${run.stderr}${run.signal ? `\n(killed by ${run.signal})` : ''}`;
    process.stdout.write(output);
  }, 300000);

  test.each(SCENARIOS)('%s', (name) => {
    const line = output.split('\n').find((l) => l.endsWith(` ${name}`));
    expect({ line, output }).toMatchObject({ line: `ok ${name}` });
  });

  test('every scenario ran and passed, and the benchmark printed', () => {
    expect(output).toMatch(/^PASSED: 0 scenario\(s\) failed$/m);
    expect(output).toMatch(/^bench: empty function, unhooked [\d.]+ ns\/call, hooked [\d.]+ ns\/call/m);
    expect(output).not.toMatch(/FAIL/);
  });
});
