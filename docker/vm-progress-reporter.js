// Jest reporter for the arm64 VM run (docker/arm64-vm.sh): a line as each
// test starts and ends. The default reporter prints a file's results only
// when the whole file is done, and under emulation a file takes minutes: this
// shows where a slow or stuck run is. Ends with the plain summary line.
'use strict';
const path = require('path');

class VmProgressReporter {
  constructor(globalConfig) {
    this.root = globalConfig.rootDir;
  }
  onTestFileStart(test) {
    process.stderr.write(`[file] ${path.relative(this.root, test.path)}\n`);
  }
  onTestCaseStart(test, info) {
    process.stderr.write(`[start] ${info.fullName}\n`);
  }
  onTestCaseResult(test, r) {
    process.stderr.write(`[${r.status}] ${r.fullName} (${r.duration ?? 0} ms)\n`);
  }
  onRunComplete(_contexts, r) {
    const skipped = r.numPendingTests + r.numTodoTests;
    process.stderr.write(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : '') + '\n');
  }
}
module.exports = VmProgressReporter;
