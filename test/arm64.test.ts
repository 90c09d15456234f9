// arm64 specifics: first instructions that are PC-relative (emulated at the
// breakpoint), a leaf with no frame record (the hijacked x30 never leaves the
// register), and functions built with PAC and BTI (-mbranch-protection=standard).
// Also, on every architecture: detaching while a hooked call is in flight.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Tracer } from '../lib';
import { Captured, fixture, FIXTURES, timeBound, waitUntil } from './helpers';
import { trace } from './helpers';

const ARM64 = process.arch === 'arm64';
const SRC = path.join(__dirname, 'fixtures');
const A64FIRST = path.join(FIXTURES, 'a64first');
const PACBTI = path.join(FIXTURES, 'pacbti');

function objdumpFunction(file: string, fn: string): string[] {
  const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', file], { encoding: 'utf8' });
  const start = asm.indexOf(`<${fn}>:`);
  if (start < 0) return [];
  return asm
    .slice(start, asm.indexOf('\n\n', start))
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t').slice(1).join(' ').trim());
}

(ARM64 ? describe : describe.skip)('arm64', () => {
  beforeAll(() => {
    fs.mkdirSync(FIXTURES, { recursive: true });
    execFileSync('gcc', ['-O0', '-g0', '-o', A64FIRST, path.join(SRC, 'a64first_main.c'), path.join(SRC, 'a64first.S')]);
    execFileSync('gcc', ['-O2', '-g0', '-mbranch-protection=standard', '-o', PACBTI, path.join(SRC, 'pacbti.c')]);
  });

  test('emulates PC-relative first instructions (adrp, adr, ldr literal, cbz, tbnz, b) and runs ldr d literal from a slot', async () => {
    const names = ['adrp_first', 'adr_first', 'lit_first', 'cbz_first', 'tbnz_first', 'b_first', 'leaf'];
    const fp: number[] = [];
    const r = await trace(A64FIRST, names, {
      nargs: 0,
      setup: (t) => void t.hook('fplit_first', { onExit: (c) => void fp.push(c.fpRetval) }),
    });
    expect(r.events).toEqual([
      '> adrp_first', '< adrp_first = 101', '> adrp_first', '< adrp_first = 102',
      '> adr_first', '< adr_first = 77',
      '> lit_first', '< lit_first = 1005',
      '> cbz_first', '< cbz_first = 9', '> cbz_first', '< cbz_first = 7',
      '> tbnz_first', '< tbnz_first = 10', '> tbnz_first', '< tbnz_first = 11',
      '> b_first', '< b_first = 5',
      '> leaf', '< leaf = 42',
    ]);
    expect(fp).toEqual([1.5]);
    expect(r.stdout).toBe('adrp=101,102 adr=77 lit=1005 fp=1.5 cbz=9,7 tbnz=10,11 b=5 leaf=42\n');
    expect(r.status.code).toBe(0);
  });

  test('hooks functions built with PAC and BTI: paciasp runs out of line and signs the trampoline', async () => {
    expect(objdumpFunction(PACBTI, 'twice')[0]).toMatch(/^paciasp/);
    expect(objdumpFunction(PACBTI, 'leaf_add')[0]).toMatch(/^bti\s+c/);
    const r = await trace(PACBTI, ['twice', 'leaf_add']);
    expect(r.events).toEqual([
      '> twice 0', '> leaf_add 0', '< leaf_add = 0', '< twice = 1',
      '> twice 1', '> leaf_add 1', '< leaf_add = 2', '< twice = 3',
      '> twice 2', '> leaf_add 2', '< leaf_add = 4', '< twice = 5',
    ]);
    expect(r.stdout).toBe('s=9\n');
  });
});

test('detaching while a hooked call is in flight puts its real return address back', async () => {
  const out = new Captured();
  const tracer = await Tracer.spawn(fixture('inflight'), [], { stdio: ['inherit', out.fd, 'inherit'] });
  const events: string[] = [];
  tracer.hook('slow', { onEntry: (c) => void events.push(`> slow ${c.args[0]}`), onExit: () => void events.push('< slow') });
  tracer.hook('inner', { onEntry: () => void tracer.detach() });
  const status = await tracer.run();
  expect(status.detached).toBe(true);
  expect(events).toEqual(['> slow 1']);
  // The program goes on untraced: `slow` returns to main, not into the trampoline.
  await waitUntil('its line', () => fs.readFileSync(out.file, 'utf8').includes('\n'), timeBound(30000));
  expect(fs.readFileSync(out.file, 'utf8')).toBe('slow=4,6\n');
});
