#!/usr/bin/env node
// The package's install script. The addon that loads (the prebuild for this
// platform, or a build) is used as is. When the prebuild fits but cannot load
// because a system library it links is missing (libdw1, say), the install
// says so in one line and succeeds: a source build would need that library
// too, and `rethook` says the same line until it is installed. Otherwise
// node-gyp-build decides: no prebuild fits, or it does not load (a C library
// too old): build from source.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
try {
  require('node-gyp-build')(root);
  process.exit(0);
} catch (e) {
  const msg = String((e && e.message) || e);
  if (/cannot open shared object file/.test(msg)) {
    let line;
    try {
      line = require('../dist/addon-error').explainAddonError(e);
    } catch {
      line = `the native addon cannot be loaded: ${msg.split('\n')[0]}`;
    }
    console.warn(`rethook: ${line}`);
    process.exit(0);
  }
}
const r = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
