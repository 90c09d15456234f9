// One measurement, in its own process (so that `taskset` pins it): N calls of
// a tiny hooked function, traced through the API. Prints JSON.
'use strict';
const { Tracer } = require('../dist');
const fs = require('fs');

/** The CLI's own view of events (JSON lines or the text tree), writing to fd: entry(ctx) and exit(ctx). */
function views(fd, format) {
  const { Sink } = require('../dist/views/format');
  const { entryEvent, exitEvent } = require('../dist/views/format');
  const sink = new Sink(fd);
  let v;
  if (format === 'json') v = new (require('../dist/views/jsonl').JsonView)(sink, false);
  else {
    const run = { command: [], pid: 0, startTs: 0, startWallNs: 0, overheadNs: null };
    v = new (require('../dist/views/tree').TreeView)(sink, { nargs: 3, backtraces: false, colors: require('../dist/views/colors').palette(false), time: 'none', run, slowNs: Infinity });
  }
  // The fields the CLI gives each view (the tree reads no typed JSON fields).
  const fields = format === 'json' ? 'all' : 'text';
  return { entry: (c) => v.entry(entryEvent(c, false, fields)), exit: (c) => v.exit(exitEvent(c, fields)) };
}

(async () => {
  const [file, n, mode, fn] = process.argv.slice(2);
  const devnull = fs.openSync('/dev/null', 'w');
  const t = await Tracer.spawn(file, [n], { stdio: [0, devnull, 2] });
  let calls = 0;
  let sink = 0n;
  let formatMs; // ms spent formatting, after the warm-up (format modes only)
  if (mode === 'stream') {
    // The CLI's path: every event formatted and written (to /dev/null).
    const f = views(devnull, 'json');
    t.hook('tiny', { onEntry: (c) => f.entry(c), onExit: (c) => { f.exit(c); calls++; } });
  } else if (mode === 'format-text' || mode === 'format-json') {
    // Typed values read and rendered as the CLI does (text tree or JSON lines),
    // timed apart from the rest of each call.
    const f = views(devnull, mode === 'format-json' ? 'json' : 'text');
    // Steady state: the first WARMUP calls are left out (the function's
    // signature is read from its debug information once, at the first call).
    // The clock is performance.now() (a double: no BigInt made per reading),
    // and what one timed region costs with nothing in it is measured here and
    // taken off each region: the timing is not the formatting.
    formatMs = 0;
    let seen = 0;
    const WARMUP = 200;
    const timed = (fn) => (c) => {
      const t0 = performance.now();
      fn(c);
      if (seen >= 2 * WARMUP) formatMs += performance.now() - t0 - emptyMs;
      seen++;
    };
    let emptyMs = 0;
    const empty = timed(() => {});
    const N = 200000;
    seen = 2 * WARMUP;
    const e0 = performance.now();
    for (let i = 0; i < N; i++) empty(null);
    const perRegion = (performance.now() - e0) / N; // the region and its call, as the handlers pay them
    seen = 0;
    formatMs = 0;
    emptyMs = perRegion;
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
  console.log(JSON.stringify({ perCallNs: ns / calls, formatNs: formatMs === undefined ? 0 : (formatMs * 1e6) / (calls - 200), calls, maxRssMB: process.resourceUsage().maxRSS / 1024, heapAfterGcMB: heapMB }));
})();
