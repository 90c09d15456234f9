// jest globalSetup: fixtures are real programs built by the system compiler.
module.exports = async () => {
  // What /dev/shm held before (global-teardown.js checks the suite adds nothing).
  globalThis.__rethookShmBefore = new Set(require('fs').readdirSync('/dev/shm'));
  require('./build-fixtures').build();
};
