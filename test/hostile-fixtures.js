// Builds the fixtures of the hostile-input tests (test/fixtures/hostile/)
// into test/fixtures/bin/hostile/: one variant each (-O0). Rebuilds only
// what changed.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { newer } = require('./build-fixtures');

const SRC = path.join(__dirname, 'fixtures', 'hostile');
const OUT = path.join(__dirname, 'fixtures', 'bin', 'hostile');

/** The names evilnames.c's functions get: an ESC, a newline forging a trace line, C1 CSI, a byte that is not UTF-8. */
const EVIL = {
  evil_esc: 'esc\x1b[31mred',
  evil_nl: 'nl\n      1 forged(0x0) = 0x0 <1 ns>',
  evil_c1: 'cone\xc2\x9b2J',
  evil_bad: 'bad\xffbyte',
};

function build() {
  fs.mkdirSync(OUT, { recursive: true });
  const src = (f) => path.join(SRC, f);
  const out = (f) => path.join(OUT, f);
  if (newer(out('mapper'), [src('mapper.c'), __filename])) execFileSync('gcc', ['-O0', '-o', out('mapper'), src('mapper.c'), '-ldl']);
  if (newer(out('libsoname.so.0.27.6'), [src('soname_lib.c'), __filename]))
    execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-Wl,-soname,libsoname.so.27', '-o', out('libsoname.so.0.27.6'), src('soname_lib.c')]);
  if (newer(out('overlap'), [src('overlap.c'), __filename])) execFileSync('gcc', ['-O0', '-o', out('overlap'), src('overlap.c')]);
  if (newer(out('evilnames'), [src('evilnames.c'), __filename])) {
    const obj = out('evilnames.o');
    execFileSync('gcc', ['-O0', '-c', '-o', obj, src('evilnames.c')]);
    // Node passes arguments as UTF-8: a byte that is not UTF-8 goes through the shell's printf (octal escapes).
    const octal = (s) => [...Buffer.from(s, 'latin1')].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('');
    const args = Object.entries(EVIL).map(([from, to]) => `--redefine-sym "${from}=$(printf '${octal(to)}')"`);
    execFileSync('sh', ['-c', `objcopy ${args.join(' ')} '${obj}'`]);
    execFileSync('gcc', ['-O0', '-o', out('evilnames'), obj]);
  }
}

module.exports = { build, OUT, EVIL };
if (require.main === module) build();
