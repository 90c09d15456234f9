// One measurement, in its own process (so that `taskset` pins it): N calls of
// a tiny hooked function, traced through the API. Prints JSON.
'use strict';
const { Tracer } = require('../dist');
const fs = require('fs');

(async () => {
  const [file, n, mode, fn] = process.argv.slice(2);
  const devnull = fs.openSync('/dev/null', 'w');
  const t = await Tracer.spawn(file, [n], { stdio: [0, devnull, 2] });
  let calls = 0;
  let sink = 0n;
  let formatNs;
  if (mode === 'stream') {
    // The CLI's path: every event formatted and written (to /dev/null).
    const { JsonFormat, Sink } = require('../dist/cli/format');
    const f = new JsonFormat(new Sink(devnull));
    t.hook('tiny', { onEntry: (c) => f.entry(c), onExit: (c) => { f.exit(c); calls++; } });
  } else if (mode === 'format-text' || mode === 'format-json') {
    // Typed values read and rendered as the CLI does (text tree or JSON lines),
    // timed apart from the rest of each call.
    const { JsonFormat, TextFormat, Sink } = require('../dist/cli/format');
    const f = mode === 'format-json' ? new JsonFormat(new Sink(devnull)) : new TextFormat(new Sink(devnull), 3);
    formatNs = 0n;
    const timed = (fn) => (c) => {
      const t0 = process.hrtime.bigint();
      fn(c);
      formatNs += process.hrtime.bigint() - t0;
    };
    t.hook(fn || 'tiny', { onEntry: timed((c) => f.entry(c)), onExit: timed((c) => { f.exit(c); calls++; }) });
  } else {
    t.hook('tiny', { onExit: (c) => { sink ^= c.retval; calls++; } });
  }
  const start = process.hrtime.bigint();
  const st = await t.run();
  const ns = Number(process.hrtime.bigint() - start);
  if (st.code !== 0 || calls !== Number(n)) throw new Error(`bad run: ${JSON.stringify(st)} calls=${calls}`);
  if (global.gc) global.gc();
  const heapMB = process.memoryUsage().heapUsed / 1048576;
  console.log(JSON.stringify({ perCallNs: ns / calls, formatNs: formatNs === undefined ? 0 : Number(formatNs) / calls, calls, maxRssMB: process.resourceUsage().maxRSS / 1024, heapAfterGcMB: heapMB }));
})();
