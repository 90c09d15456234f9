// `rethook record --mode fast` against `uftrace record -P .` on the same loop
// of a tiny function (test/fixtures/bin/loop.O2, built by the tests): bytes of
// the record per call, and the per-call cost as the slope of the wall time
// between N and N/10 calls (the fixed costs cancel out). Best of 3 runs each.
//   node bench/record-vs-uftrace.js [N]
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const N = Number(process.argv[2] ?? 2_000_000);
const prog = path.join(__dirname, '..', 'test', 'fixtures', 'bin', 'loop.O2');
const cliPath = path.join(__dirname, '..', 'bin', 'rethook.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-rvu-'));
const protos = path.join(dir, 'tiny.h');
fs.writeFileSync(protos, 'long tiny(long x);\n');

function du(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, f) => n + du(path.join(p, f)), 0);
}

/** Wall seconds of one run (best of 3) and the bytes it wrote. */
function run(tool, n) {
  let best = Infinity, bytes = 0;
  for (let i = 0; i < 3; i++) {
    const out = path.join(dir, `${tool}.${n}`);
    fs.rmSync(out, { recursive: true, force: true });
    const argv = tool === 'uftrace' ? ['uftrace', ['record', '-P', '.', '-d', out, prog, String(n)]]
      : [process.execPath, [cliPath, 'record', '--mode', 'fast', ...(tool === 'rethook-typed' ? ['--prototypes', protos] : []), '-o', out, '-f', 'tiny', '--', prog, String(n)]];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv[1], { stdio: ['ignore', 'ignore', 'pipe'] });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr}`);
    best = Math.min(best, s);
    bytes = du(out);
  }
  return { s: best, bytes };
}

let haveUftrace = true;
try {
  execFileSync('uftrace', ['--version'], { stdio: 'ignore' });
} catch {
  haveUftrace = false;
}
const rows = [];
for (const tool of ['rethook', 'rethook-typed', ...(haveUftrace ? ['uftrace'] : [])]) {
  const small = run(tool, N / 10), big = run(tool, N);
  rows.push({ tool, calls: N, bytesPerCall: +(big.bytes / N).toFixed(2), nsPerCall: +(((big.s - small.s) * 1e9) / (N - N / 10)).toFixed(1), wallS: +big.s.toFixed(3) });
}
fs.rmSync(dir, { recursive: true, force: true });
console.table(rows);
console.log(JSON.stringify(rows));
