// What a user runs, end to end, side by side with uftrace in the same run:
// the CLI with no --mode (the default) over a loop calling tiny(). Every
// per-call figure is a slope between N and N/10 calls of the whole process
// (start-up cancels), median of 3; each run writes to a path removed before
// it (truncating the last run's output would be timed). Called by bench/run.js; alone:
//   node bench/cli.js [N]      (after `npm run bench` built bench/bin)
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = path.join(__dirname, 'bin');
const RETHOOK = path.join(__dirname, '..', 'bin', 'rethook.js');
const LOOP = path.join(BIN, 'loop');
const scale = Number(process.env.RETHOOK_BENCH_SCALE || 1);
const N = Number(process.argv[2]) || Math.round(2000000 * scale);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-bench-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** What a run writes (files, or uftrace's directory): removed before each timed run, so no run pays for deleting the last one's output. */
const OUTPUTS = () => [rec, ufData, path.join(tmp, 'c.txt'), path.join(tmp, 'h.txt'), path.join(tmp, 'j.json'), path.join(tmp, 't.txt'), path.join(tmp, 'uf.txt')];
function wallNs(cmd, opts = {}) {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore', ...opts });
  return Number(process.hrtime.bigint() - t0);
}
/** Per-call ns: the slope of the whole process's time between n and n/10 calls. */
function slope(make) {
  const fresh = (cmd) => {
    for (const f of OUTPUTS()) fs.rmSync(f, { recursive: true, force: true });
    // Each run starts with no dirty page of an earlier one: three 740 MB JSON files pass the kernel's background
    // writeback threshold, and its flusher then competes with the run being timed (on 2 CPUs), whatever the tool.
    execFileSync('sync');
    return wallNs(cmd);
  };
  const big = median([1, 2, 3].map(() => fresh(make(N))));
  const small = median([1, 2, 3].map(() => fresh(make(Math.round(N / 10)))));
  return (big - small) / (N - Math.round(N / 10));
}
function has(tool) {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** Peak RSS (kB) of the process tree's first process, from its /proc status while it runs. */
function peakRssMB(cmd) {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
    let peak = 0;
    const look = () => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* gone */
      }
    };
    const timer = setInterval(look, 20);
    child.on('exit', () => {
      clearInterval(timer);
      resolve(peak / 1024);
    });
  });
}
const rethook = (...args) => [process.execPath, RETHOOK, ...args];
const rec = path.join(tmp, 'run.rethook');
const ufData = path.join(tmp, 'uftrace.data');

async function main() {
  const rows = [];
  const uf = has('uftrace');
  const ufRecord = uf ? slope((n) => ['uftrace', 'record', '-P', 'tiny', '-d', ufData, LOOP, String(n)]) : null;
  const add = (what, ns, target) => rows.push({ what, ns, target });
  add('rethook record', slope((n) => rethook('record', '-o', rec, '-f', 'tiny', '--', LOOP, String(n))), 1);
  add('rethook trace -c', slope((n) => rethook('trace', '-c', '-o', path.join(tmp, 'c.txt'), '-f', 'tiny', '--', LOOP, String(n))), 1);
  add('rethook trace --hist', slope((n) => rethook('trace', '--hist', 'tiny', '-o', path.join(tmp, 'h.txt'), '-f', 'tiny', '--', LOOP, String(n))), 1);
  add('rethook trace --format json -o FILE', slope((n) => rethook('trace', '--format', 'json', '-o', path.join(tmp, 'j.json'), '-f', 'tiny', '--', LOOP, String(n))), 4);
  // The call tree as text to a file, against uftrace's own live text (record, then replay to stdout, redirected to a file).
  const text = slope((n) => rethook('trace', '-o', path.join(tmp, 't.txt'), '-f', 'tiny', '--', LOOP, String(n)));
  const ufLive = uf ? slope((n) => ['sh', '-c', `exec uftrace live -P tiny -d "${ufData}" "${LOOP}" ${n} > "${path.join(tmp, 'uf.txt')}"`]) : null;
  console.log(`\nThe CLI end to end, no --mode, ${N} and ${Math.round(N / 10)} calls of tiny() (per call = the slope of whole-process time, median of 3)`);
  if (uf) console.log(`  uftrace record -P tiny                         ${ufRecord.toFixed(0).padStart(7)} ns per call`);
  for (const r of rows) {
    const ratio = uf ? ` = ${(r.ns / ufRecord).toFixed(2)}x uftrace record (target <= ${r.target})` : '';
    console.log(`  ${r.what.padEnd(46)} ${r.ns.toFixed(0).padStart(7)} ns per call${ratio}`);
  }
  console.log(`  ${'rethook trace -o FILE (the tree, text)'.padEnd(46)} ${text.toFixed(0).padStart(7)} ns per call${uf ? ` = ${(text / ufLive).toFixed(2)}x uftrace live -P tiny > FILE (${ufLive.toFixed(0)} ns)` : ''}`);

  // Bytes per call, and reading back N calls.
  execFileSync(RETHOOK, ['record', '-o', rec, '-f', 'tiny', '--', LOOP, String(N)], { stdio: 'ignore' });
  const recBytes = fs.statSync(rec).size / N;
  const reportNs = median([1, 2, 3].map(() => wallNs(rethook('report', rec))));
  const txt = path.join(tmp, 't.txt');
  const replayNs = median([1, 2, 3].map(() => wallNs(rethook('replay', '-o', txt, rec))));
  let ufBytes = null;
  let ufReportNs = null;
  let ufReplayNs = null;
  if (uf) {
    execFileSync('uftrace', ['record', '-P', 'tiny', '-d', ufData, LOOP, String(N)], { stdio: 'ignore' });
    ufBytes = fs.readdirSync(ufData).filter((f) => f.endsWith('.dat')).reduce((s, f) => s + fs.statSync(path.join(ufData, f)).size, 0) / N;
    ufReportNs = median([1, 2, 3].map(() => wallNs(['uftrace', 'report', '-d', ufData])));
    ufReplayNs = median([1, 2, 3].map(() => wallNs(['sh', '-c', `exec uftrace replay -d "${ufData}" > "${txt}"`])));
  }
  console.log(`  record size: ${recBytes.toFixed(1)} bytes per call${uf ? `, uftrace ${ufBytes.toFixed(1)} = ${(recBytes / ufBytes).toFixed(2)}x (target <= 1)` : ''}`);
  console.log(`  report of ${N} calls: ${(reportNs / 1e6).toFixed(0)} ms${uf ? `, uftrace report ${(ufReportNs / 1e6).toFixed(0)} ms = ${(reportNs / ufReportNs).toFixed(2)}x (target <= 1)` : ''}`);
  console.log(`  replay of ${N} calls to a file: ${(replayNs / 1e6).toFixed(0)} ms${uf ? `, uftrace replay ${(ufReplayNs / 1e6).toFixed(0)} ms = ${(replayNs / ufReplayNs).toFixed(2)}x` : ''}`);

  // Start-up: exec to the program's first instruction, against Node's own (bench/startup.js).
  const startup = require('./startup');
  console.log('  ' + startup.table(startup.measure(startup.CONFIGS, 9), '    '));
  if (uf) {
    const ufStart = median([1, 2, 3, 4, 5].map(() => wallNs(['uftrace', 'record', '-P', 'tiny', '-d', ufData, LOOP, '1'])));
    console.log(`  uftrace record -P tiny, a 1-call program, whole process: ${(ufStart / 1e6).toFixed(0)} ms`);
  }

  // Memory over a long run: the tracer's peak RSS for -c over 10x N calls.
  const long = N * 5;
  const rss = await peakRssMB(rethook('trace', '-c', '-o', path.join(tmp, 'c.txt'), '-f', 'tiny', '--', LOOP, String(long)));
  const rssSmall = await peakRssMB(rethook('trace', '-c', '-o', path.join(tmp, 'c.txt'), '-f', 'tiny', '--', LOOP, String(Math.round(long / 10))));
  console.log(`  tracer peak RSS, -c: ${rss.toFixed(0)} MB over ${long} calls, ${rssSmall.toFixed(0)} MB over ${Math.round(long / 10)} (flat: it must not grow with calls)`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
main().catch((e) => {
  console.error(e);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
});
