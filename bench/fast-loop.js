// One fast-mode measurement in its own process (as hooked-loop.js for trap
// mode). Prints JSON.
//   loop FILE N          tiny() hooked, every exit delivered to a handler: wall ns per call
//   duration FILE N      work100() hooked: mean reported durationNs, and the program's own mean
//   threads FILE T N     T threads x N calls of work(): exits delivered (none may be lost)
//   plant FILE           hooking f_0..f_999 in fast mode: ms
//   batches FILE N       tiny()'s calls through tracer.batches() in fast mode, rows counted: wall ns per call
// RETHOOK_DIST=DIR takes the Tracer from another build's dist (to set a change against the code before it, in one run).
'use strict';
const { Tracer } = require(process.env.RETHOOK_DIST || '../dist');
const fs = require('fs');

(async () => {
  const [what, file, a, b] = process.argv.slice(2);
  const devnull = fs.openSync('/dev/null', 'w');
  if (what === 'plant') {
    const t = await Tracer.spawn(file, [], { stdio: [0, devnull, 2] });
    const start = process.hrtime.bigint();
    const h = t.hook('f_*', { mode: 'fast', onExit: () => undefined });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    await t.run();
    console.log(JSON.stringify({ hooks: h.functions.length, fellBack: h.fellBack.length, plantMs: ms }));
    return;
  }
  if (what === 'batches') {
    const t = await Tracer.spawn(file, [a], { stdio: [0, devnull, 2] });
    const stream = t.batches('tiny', { mode: 'fast' });
    if (stream.hook.fellBack.length) throw new Error(stream.hook.fellBack.join('; '));
    const start = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let rows = 0;
    for await (const batch of stream) rows += batch.length;
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpu0);
    const calls = Number(a);
    if (rows !== 2 * calls) throw new Error(`${rows} rows for ${calls} calls`);
    console.log(JSON.stringify({ calls, rows, wallNsPerCall: ns / calls, tracerCpuNsPerCall: ((cpu.user + cpu.system) * 1000) / calls, nmissed: stream.hook.nmissed }));
    return;
  }
  const args = what === 'threads' ? [a, b] : [a];
  let out = '';
  const t = await Tracer.spawn(file, args, { stdio: [0, 'pipe', 2] });
  t.stdout.on('data', (d) => (out += d));
  let exits = 0, durations = 0n;
  const fn = what === 'loop' ? 'tiny' : what === 'duration' ? 'work100' : 'work';
  const h = t.hook(fn, { mode: 'fast', onExit: (c) => { exits++; durations += c.durationNs; } });
  if (h.fellBack.length) throw new Error(h.fellBack.join('; '));
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const st = await t.run();
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setImmediate(r));
  if (st.code !== 0) throw new Error(`bad run: ${JSON.stringify(st)}`);
  const calls = what === 'threads' ? Number(a) * Number(b) : Number(a);
  console.log(JSON.stringify({ calls, exits, wallNsPerCall: ns / calls, tracerCpuNsPerCall: ((cpu.user + cpu.system) * 1000) / calls, meanDurationNs: Number(durations) / Math.max(exits, 1), programSays: out.trim(), nmissed: h.nmissed }));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
