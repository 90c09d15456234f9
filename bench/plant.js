// Time to plant N hooks (one pattern matching N functions), in its own process.
'use strict';
const { Tracer } = require('../dist');
(async () => {
  const t = await Tracer.spawn(process.argv[2], [], { stdio: [0, require('fs').openSync('/dev/null', 'w'), 2] });
  const start = process.hrtime.bigint();
  const h = t.hook('f_*');
  const ns = Number(process.hrtime.bigint() - start);
  const st = await t.run();
  console.log(JSON.stringify({ hooks: h.functions.length, plantMs: ns / 1e6, code: st.code }));
})();
