/** Tests drive real programs under real ptrace: run them one file at a time. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  testTimeout: 60000,
  // A test that fails between Tracer.spawn and run() leaves a stopped tracee:
  // it dies with us (PTRACE_O_EXITKILL), so jest need not wait for it.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { strict: true, esModuleInterop: true, types: ['node', 'jest'] }, diagnostics: { warnOnly: false } }] },
};
