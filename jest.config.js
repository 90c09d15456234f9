/**
 * Two layers, one jest run (`npm test` runs both):
 * - unit (test/unit/): the pure parts, no ptrace and no fixture programs
 *   built first: `npm run test:unit`, alone, in seconds.
 * - run (the rest of test/): real programs under real ptrace, one file at a
 *   time; its globalSetup builds every fixture first (test/global-setup.js),
 *   its globalTeardown checks /dev/shm is left as it was.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: { strict: true, esModuleInterop: true, types: ['node', 'jest'] }, diagnostics: { warnOnly: false } }] };
const common = { preset: 'ts-jest', testEnvironment: 'node', rootDir: __dirname, transform };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'], testMatch: ['**/*.test.ts'] },
    {
      ...common,
      displayName: 'run',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/'],
      globalSetup: '<rootDir>/test/global-setup.js',
      globalTeardown: '<rootDir>/test/global-teardown.js',
    },
  ],
  testTimeout: 60000,
  // A test that fails between Tracer.spawn and run() leaves a stopped tracee:
  // it dies with us (PTRACE_O_EXITKILL), so jest need not wait for it.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
