// `npm run fuzz`: a longer run of the ELF reader's fuzz test. Mutants of a
// small executable and a small shared library (and of the C library, with
// RETHOOK_FUZZ_LIBC=1) through readElf's parser, strict and tolerant; every
// outcome must be a RethookError or success, each under RETHOOK_FUZZ_LIMIT_MS.
//   RETHOOK_FUZZ_N      mutants per seed file (default 20000)
//   RETHOOK_FUZZ_SEED   base seed (default: random; printed to replay a run)
'use strict';
const fs = require('fs');
const path = require('path');
const { parseElf } = require('../../dist/symbols/elf');
const { RethookError } = require('../../dist/errors');
const { build, OUT } = require('../build-fixtures');
const { fuzz } = require('./elf-mutants');

build();
const n = Number(process.env.RETHOOK_FUZZ_N ?? 20000);
const baseSeed = Number(process.env.RETHOOK_FUZZ_SEED ?? Math.floor(Math.random() * 1e9));
const limitMs = Number(process.env.RETHOOK_FUZZ_LIMIT_MS ?? 250);
const seeds = [['calls.O0', fs.readFileSync(path.join(OUT, 'calls.O0'))], ['libplugin.so', fs.readFileSync(path.join(OUT, 'libplugin.so'))]];
if (process.env.RETHOOK_FUZZ_LIBC === '1') {
  const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'))[1];
  seeds.push(['libc.so.6', fs.readFileSync(libc)]);
}
console.log(`fuzzing the ELF reader: ${n} mutants of each of ${seeds.map((s) => s[0]).join(', ')} (seed ${baseSeed}, limit ${limitMs} ms each)`);
const t0 = Date.now();
let failed = false;
for (const tolerant of [false, true]) {
  const r = fuzz({ seeds, count: n, baseSeed, limitMs, parse: (name, b) => parseElf(name, b, { tolerant }), isExpected: (e) => e instanceof RethookError && !e.message.includes('\n') && !e.message.includes('(unchecked') });
  console.log(`${tolerant ? 'tolerant' : 'strict'}: ${r.mutants} mutants: ${r.ok} read, ${r.rejected} RethookError, ${r.unexpected.length} other errors, ${r.slow.length} over the limit (slowest ${r.slowestMs.toFixed(1)} ms)`);
  console.log(`  kinds: ${Object.entries(r.kinds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const u of r.unexpected) console.log(`  UNEXPECTED ${u}`);
  for (const s of r.slow.slice(0, 10)) console.log(`  SLOW ${s}`);
  if (r.unexpected.length || r.slow.length) failed = true;
}
console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
process.exitCode = failed ? 1 : 0;
