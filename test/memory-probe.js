// Preloaded into the CLI by test/summary-memory.test.ts (node --expose-gc -r
// this): at the CLI's exit, after a full collection, writes the heap and array
// buffers in use to $RETHOOK_TEST_MEMORY_OUT. Not part of rethook.
process.on('exit', () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  require('fs').writeFileSync(process.env.RETHOOK_TEST_MEMORY_OUT, JSON.stringify({ heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers }));
});
