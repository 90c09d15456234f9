// Types of the ESM entry point: those of the CommonJS build.
export * from '../dist/index.js';
import * as rethook from '../dist/index.js';
export default rethook;
