// npm run bench: per-call overhead of one hooked function, as a ratio to a
// bare ptrace stop measured in the same run (absolute times drift on shared
// machines), pinned to one CPU and not; peak memory over 1,000,000 calls;
// time to plant 1,000 hooks.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const BIN = path.join(__dirname, 'bin');
const scale = Number(process.env.RETHOOK_BENCH_SCALE || 1);
fs.mkdirSync(BIN, { recursive: true });
const cc = (out, ...args) => execFileSync('gcc', ['-O2', '-o', path.join(BIN, out), ...args], { stdio: 'inherit' });
cc('bare-stop', path.join(__dirname, 'bare-stop.c'));
cc('loop', path.join(__dirname, '..', 'test', 'fixtures', 'loop.c'));
cc('typed-loop', '-g', path.join(__dirname, 'typed-loop.c'));
cc('loop-g', '-g', path.join(__dirname, '..', 'test', 'fixtures', 'loop.c'));
const many = path.join(BIN, 'many.c');
let src = '#include <stdio.h>\n';
for (let i = 0; i < 1000; i++) src += `__attribute__((noinline)) int f_${i}(int x) { return x + ${i}; }\n`;
src += 'int main(void) { int s = 0;\n';
for (let i = 0; i < 1000; i++) src += `  s += f_${i}(1);\n`;
src += '  printf("%d\\n", s); return 0; }\n';
fs.writeFileSync(many, src);
cc('many', many);

const pin = (cmd) => ['taskset', '-c', '0', ...cmd];
function run(cmd) {
  return execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8' }).trim();
}
const node = (script, ...args) => [process.execPath, '--expose-gc', path.join(__dirname, script), ...args];
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
for (const [label, wrap] of [['pinned to one CPU', pin], ['unpinned', (c) => c]]) {
  const n = Math.round((label === 'unpinned' ? 20000 : 100000) * scale);
  const bare = median([1, 2, 3].map(() => Number(run(wrap([path.join(BIN, 'bare-stop'), String(n)])))));
  const hooked = median([1, 2, 3].map(() => JSON.parse(run(wrap(node('hooked-loop.js', path.join(BIN, 'loop'), String(n / 5))))).perCallNs));
  rows.push({ label, bare, hooked });
}

console.log('rethook benchmark (a hooked call = entry stop + return stop)\n');
for (const r of rows) {
  console.log(`${r.label.padEnd(18)} bare ptrace stop ${(r.bare / 1000).toFixed(1).padStart(6)} us   hooked call ${(r.hooked / 1000).toFixed(1).padStart(7)} us   = ${(r.hooked / r.bare).toFixed(2)} bare stops (target <= 3 pinned)`);
}

const million = Math.round(1000000 * scale);
const mem = JSON.parse(run(pin(node('hooked-loop.js', path.join(BIN, 'loop'), String(million), 'stream'))));
console.log(`\n${million} traced calls, every event formatted as JSON: tracer peak RSS ${mem.maxRssMB.toFixed(0)} MB (target < 150 MB), heap after GC ${mem.heapAfterGcMB.toFixed(1)} MB, ${(mem.perCallNs / 1000).toFixed(1)} us per call`);
const small = JSON.parse(run(pin(node('hooked-loop.js', path.join(BIN, 'loop'), String(Math.round(million / 10)), 'stream'))));
console.log(`${Math.round(million / 10)} traced calls: peak RSS ${small.maxRssMB.toFixed(0)} MB, heap after GC ${small.heapAfterGcMB.toFixed(1)} MB (what is live must not grow with the number of calls)`);

// Typed values (from DWARF: the programs are built with -g) read and rendered
// as the CLI does, timed apart inside each call's handlers.
console.log('');
for (const [what, prog, fn] of [['the loop, tiny(x=5) = 4', 'loop-g', 'tiny'], ['a string argument, lookup(key="alpha", len=5) = 0', 'typed-loop', 'lookup']]) {
  for (const mode of ['format-text', 'format-json']) {
    const runs = [1, 2, 3].map(() => JSON.parse(run(pin(node('hooked-loop.js', path.join(BIN, prog), String(Math.round(20000 * scale)), mode, fn)))));
    const share = median(runs.map((f) => f.formatNs / f.perCallNs));
    const f = runs.find((r) => r.formatNs / r.perCallNs === share);
    console.log(`formatting ${mode.slice(7).padEnd(4)} ${what}: ${(f.formatNs / 1000).toFixed(1)} us of ${(f.perCallNs / 1000).toFixed(1)} us per call = ${(100 * share).toFixed(1)}%${prog === 'loop-g' ? ' (target <= 10%)' : ' (one read of the string from the tracee included)'}`);
  }
}

const plant = JSON.parse(run(node('plant.js', path.join(BIN, 'many'))));
console.log(`\nplanting ${plant.hooks} hooks: ${plant.plantMs.toFixed(0)} ms (target < 500 ms)`);
