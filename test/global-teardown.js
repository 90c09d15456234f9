// jest globalTeardown: after the whole suite, /dev/shm holds nothing of ours
// (the tracer creates no named file in a shared place: issue "nobody gets in
// through the tracer"). Names there before the run (an older version's) are not ours to judge.
const fs = require('fs');

module.exports = async () => {
  const before = globalThis.__rethookShmBefore ?? new Set();
  const left = fs.readdirSync('/dev/shm').filter((n) => /rethook/i.test(n) && !before.has(n));
  if (left.length) throw new Error(`the suite left ${left.length} file(s) of ours in /dev/shm: ${left.slice(0, 5).join(', ')}`);
};
