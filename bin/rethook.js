#!/bin/sh
//bin/true; RETHOOK_CALLER_SIGIGN=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2>/dev/null); export RETHOOK_CALLER_SIGIGN; exec node "$0" "$@"
// The line above runs in sh (for JavaScript it is a comment): Node resets the
// signal dispositions it inherits, so the shell notes which ones our caller
// ignored (nohup, trap '' HUP) for the program rethook starts (methods/spawn.ts).
'use strict';
require('../dist/cli/compile-cache').enableCompileCache();
require('../dist/cli/main').main(process.argv.slice(2));
