// The ESM entry point (package.json "exports" -> "import"): the CommonJS
// build's exports under their names, one module instance for both (so
// `instanceof RethookError` holds whichever way it was loaded).
import cjs from '../dist/index.js';

export const { Tracer, Hook, CallContext, EntryContext, ExitContext, RethookError, resolveProgram } = cjs;
export default cjs;
