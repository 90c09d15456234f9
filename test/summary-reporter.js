// Ends the run with the plain line CI reads: "N passed, N failed, N skipped".
class SummaryReporter {
  onRunComplete(_contexts, r) {
    const skipped = r.numPendingTests + r.numTodoTests;
    process.stdout.write(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : '') + '\n');
  }
}
module.exports = SummaryReporter;
