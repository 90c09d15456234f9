// Start-up: from rethook being exec'd to the traced program's first own
// instruction (a constructor: ld.so has loaded libc, so hooks planted in libc
// are in place by then), against `node -e 0` measured the same way in the same
// run. bench/startup-launch.c takes CLOCK_MONOTONIC right before exec and
// hands it down in the environment; bench/startup-first.c subtracts it at its
// first instruction, with the CPU time the tracer used by then (all its
// threads: a figure the machine's load changes far less than wall time).
// Configurations are interleaved round by round (the machine's load drifts),
// median of RUNS (default 11). Target: node + 100 ms.
//   node bench/startup.js [RUNS] [--json] [--against OTHER/bin/rethook.js]   (after `npx tsc`)
// Runs under `nice -n -5` when allowed (root), as it is.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = path.join(__dirname, 'bin');
const RETHOOK = path.join(__dirname, '..', 'bin', 'rethook.js');
const LAUNCH = path.join(BIN, 'startup-launch');
const FIRST = path.join(BIN, 'startup-first');

function build() {
  fs.mkdirSync(BIN, { recursive: true });
  for (const [out, src, flags] of [[LAUNCH, 'startup-launch.c', ['-O2']], [FIRST, 'startup-first.c', ['-O2', '-g']]]) {
    const from = path.join(__dirname, src);
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs > fs.statSync(from).mtimeMs) continue;
    execFileSync('gcc', [...flags, '-o', out, from], { stdio: 'inherit' });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const argAfter = (flag) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
// --against OTHER/bin/rethook.js: another checkout's CLI (built), measured in the same rounds (before/after).
const AGAINST = argAfter('--against');
const rethook = (bin) => (...args) => [process.execPath, bin, 'trace', ...args, '-o', '/dev/null', '--', FIRST];
const modes = (bin, tag) => [
  [`--mode trap -f tiny${tag}`, rethook(bin)('--mode', 'trap', '-f', 'tiny')],
  [`default -f tiny${tag}`, rethook(bin)('-f', 'tiny')],
  [`--mode trap -f 'libc.so.6:*'${tag}`, rethook(bin)('--mode', 'trap', '-f', 'libc.so.6:*')],
  [`default -f 'libc.so.6:*'${tag}`, rethook(bin)('-f', 'libc.so.6:*')],
];
const CONFIGS = [
  ['node -e 0', [process.execPath, '-e', '0']],
  ['the program alone', [FIRST]],
  ...modes(RETHOOK, ''),
  ...(AGAINST ? modes(AGAINST, ' (against)') : []),
];

/** Whether `nice -n -5` is allowed here. */
function niceAllowed() {
  try {
    const base = Number(execFileSync('nice', { encoding: 'utf8' }).trim());
    return Number(execFileSync('nice', ['-n', '-5', 'nice'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) === base - 5;
  } catch {
    return false;
  }
}

/**
 * One run: ns to the program's first instruction and the tracer's CPU ns by
 * then (null for node -e 0), ns of the whole process and its CPU ns.
 */
function once(cmd, nice, stamp) {
  fs.writeFileSync(stamp, '');
  const full = [...(nice ? ['nice', '-n', '-5'] : []), LAUNCH, ...cmd];
  const out = execFileSync(full[0], full.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, RETHOOK_STARTUP_OUT: stamp } });
  const [whole, wholeCpu] = out.trim().split('\n').pop().split(' ').map(Number);
  const line = fs.readFileSync(stamp, 'utf8').trim().split('\n')[0];
  const [first, firstCpu] = line ? line.split(' ').map(Number) : [null, null];
  return { first, firstCpu, whole, wholeCpu };
}

/**
 * Each configuration `runs` times, round by round (the machine's load
 * drifts): the median time to the program's first instruction and of the
 * whole process, with the load average around it.
 */
function measure(configs = CONFIGS, runs = 11) {
  build();
  const nice = niceAllowed();
  const stamp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-startup-')), 'stamp');
  const loadBefore = os.loadavg();
  const KEYS = ['first', 'firstCpu', 'whole', 'wholeCpu'];
  const got = configs.map(() => Object.fromEntries(KEYS.map((k) => [k, []])));
  try {
    for (let r = 0; r < runs; r++) {
      configs.forEach(([, cmd], i) => {
        const one = once(cmd, nice, stamp);
        for (const k of KEYS) if (one[k] !== null && one[k] >= 0) got[i][k].push(one[k]);
      });
    }
  } finally {
    fs.rmSync(path.dirname(stamp), { recursive: true, force: true });
  }
  const ms = (ns) => (ns === undefined ? null : Number((ns / 1e6).toFixed(1)));
  const rows = configs.map(([what], i) => ({
    what, firstMs: ms(median(got[i].first)), wholeMs: ms(median(got[i].whole)), firstCpuMs: ms(median(got[i].firstCpu)), wholeCpuMs: ms(median(got[i].wholeCpu)),
  }));
  return { runs, nice, load: { before: loadBefore, after: os.loadavg() }, cpus: os.cpus().length, rows };
}

/** The figures as lines of text; `indent` before each. */
function table(m, indent = '  ') {
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const node = m.rows.find((r) => r.what === 'node -e 0');
  const f = (x) => (x === null || x === undefined ? '-' : `${x.toFixed(1)} ms`);
  const out = [`Start-up, median of ${m.runs} interleaved runs${m.nice ? ' under nice -n -5' : ''}; load average ${load(m.load.before)} before, ${load(m.load.after)} after, ${m.cpus} CPUs`];
  out.push(`${indent}${''.padEnd(36)} ${'wall: to first instruction'.padStart(26)} ${'whole'.padStart(10)}   ${'CPU: to first instruction'.padStart(25)} ${'whole'.padStart(10)}`);
  for (const r of m.rows) {
    const over = (a, b) => (a !== null && b !== null && r.what !== 'the program alone' ? ` = node + ${(a - b).toFixed(0)}` : '');
    const wall = `${f(r.firstMs)}${over(r.firstMs, node?.wholeMs ?? null)}`;
    const cpu = `${f(r.firstCpuMs)}${over(r.firstCpuMs, node?.wholeCpuMs ?? null)}`;
    out.push(`${indent}${r.what.padEnd(36)} ${wall.padStart(26)} ${f(r.wholeMs).padStart(10)}   ${cpu.padStart(25)} ${f(r.wholeCpuMs).padStart(10)}`);
  }
  out.push(`${indent}(target: wall to the first instruction <= node -e 0 + 100 ms; CPU: the tracer's, all its threads, by then; node -e 0: its whole process)`);
  return out.join('\n');
}

module.exports = { measure, table, CONFIGS };

if (require.main === module) {
  const runs = Number(process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--against') ?? 11);
  const m = measure(CONFIGS, runs);
  console.log(process.argv.includes('--json') ? JSON.stringify(m) : table(m));
}
