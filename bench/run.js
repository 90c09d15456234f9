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
    console.log(`formatting ${mode.slice(7).padEnd(4)} ${what}: ${(f.formatNs / 1000).toFixed(1)} us of ${(f.perCallNs / 1000).toFixed(1)} us per call = ${(100 * share).toFixed(1)}%${prog === 'loop-g' ? ' (target <= 10%; formatting after the first 200 calls)' : ' (one read of the string from the tracee included)'}`);
  }
}

const plant = JSON.parse(run(node('plant.js', path.join(BIN, 'many'))));
console.log(`\nplanting ${plant.hooks} hooks: ${plant.plantMs.toFixed(0)} ms (target < 500 ms)`);

// ---- fast mode -------------------------------------------------------------
// In-process recording: per call, against the untraced loop and uftrace's
// dynamic patching (uftrace record -P) measured in the same run.
cc('hundred-ns', path.join(__dirname, 'hundred-ns.c'));
cc('threads', '-lpthread', path.join(__dirname, '..', 'test', 'fixtures', 'threads.c'));
const wallNs = (cmd) => {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t0);
};
const fastN = Math.round(2000000 * scale);
const bareNs = median([1, 2, 3].map(() => wallNs([path.join(BIN, 'loop'), String(fastN)]))) / fastN;
const fastRuns = [1, 2, 3].map(() => JSON.parse(run(node('fast-loop.js', 'loop', path.join(BIN, 'loop'), String(fastN)))));
const fastNs = median(fastRuns.map((r) => r.wallNsPerCall));
console.log(`\nfast mode, ${fastN} calls of tiny(), every exit delivered to a handler: ${fastNs.toFixed(0)} ns per call, untraced ${bareNs.toFixed(1)} ns: ${(fastNs / bareNs).toFixed(0)}x the untraced loop, +${(fastNs - bareNs).toFixed(0)} ns per call (target <= 500 ns)`);
const batchRuns = [1, 2, 3].map(() => JSON.parse(run(node('fast-loop.js', 'batches', path.join(BIN, 'loop'), String(fastN)))));
const batchNs = median(batchRuns.map((r) => r.wallNsPerCall));
const batchCpu = batchRuns.find((r) => r.wallNsPerCall === batchNs).tracerCpuNsPerCall;
console.log(`fast mode, the same calls through tracer.batches() (rows counted, from the rings: no object per call): ${batchNs.toFixed(0)} ns per call, the tracer's CPU ${batchCpu.toFixed(0)} ns per call`);
let uftrace = null;
try {
  execFileSync('uftrace', ['--version'], { stdio: 'ignore' });
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'uftrace-'));
  uftrace = median([1, 2, 3].map(() => wallNs(['uftrace', 'record', '-P', 'tiny', '-d', path.join(dir, 'data'), path.join(BIN, 'loop'), String(fastN)]))) / fastN;
  fs.rmSync(dir, { recursive: true, force: true });
} catch {
  /* not installed */
}
console.log(uftrace === null ? 'uftrace record -P: not installed (apt-get install uftrace) - not measured' : `uftrace record -P tiny, same loop: ${uftrace.toFixed(0)} ns per call = ${(fastNs / uftrace).toFixed(2)}x rethook's fast mode cost over uftrace's`);
const durN = Math.round(200000 * scale);
const untracedMean = median([1, 2, 3].map(() => Number(run([path.join(BIN, 'hundred-ns'), String(durN)]).split(' ')[0])));
const durRuns = [1, 2, 3].map(() => JSON.parse(run(node('fast-loop.js', 'duration', path.join(BIN, 'hundred-ns'), String(durN)))));
const reported = median(durRuns.map((r) => r.meanDurationNs));
console.log(`a ~100 ns function (work100): untraced it takes ${untracedMean.toFixed(0)} ns; fast mode reports ${reported.toFixed(0)} ns = ${(reported / untracedMean).toFixed(2)}x (target within 2x; trap mode reports the tracer's round trip, tens of us)`);
const thr = JSON.parse(run(node('fast-loop.js', 'threads', path.join(BIN, 'threads'), '8', String(Math.round(1000000 * scale)))));
console.log(`8 threads x ${Math.round(1000000 * scale)} calls in fast mode: ${thr.exits} of ${thr.calls} exits delivered, ${thr.nmissed} missed (target: none lost), ${(thr.wallNsPerCall).toFixed(0)} ns per call`);
const fastPlant = JSON.parse(run(node('fast-loop.js', 'plant', path.join(BIN, 'many'))));
console.log(`patching ${fastPlant.hooks} functions in fast mode: ${fastPlant.plantMs.toFixed(0)} ms (target < 500 ms), ${fastPlant.fellBack} left in trap mode`);

// ---- what a user runs: the CLI end to end, against uftrace ----------------------
execFileSync(process.execPath, [path.join(__dirname, 'cli.js')], { stdio: 'inherit' });
