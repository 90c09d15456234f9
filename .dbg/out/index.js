"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.RethookError = exports.ExitContext = exports.EntryContext = exports.CallContext = exports.Hook = exports.resolveProgram = exports.Tracer = void 0;
// The public API. Only re-exports: each piece lives in its own file.
var tracer_1 = require("./tracer");
Object.defineProperty(exports, "Tracer", { enumerable: true, get: function () { return tracer_1.Tracer; } });
var program_1 = require("./program");
Object.defineProperty(exports, "resolveProgram", { enumerable: true, get: function () { return program_1.resolveProgram; } });
var hook_1 = require("./hook");
Object.defineProperty(exports, "Hook", { enumerable: true, get: function () { return hook_1.Hook; } });
var context_1 = require("./context");
Object.defineProperty(exports, "CallContext", { enumerable: true, get: function () { return context_1.CallContext; } });
Object.defineProperty(exports, "EntryContext", { enumerable: true, get: function () { return context_1.EntryContext; } });
Object.defineProperty(exports, "ExitContext", { enumerable: true, get: function () { return context_1.ExitContext; } });
var errors_1 = require("./errors");
Object.defineProperty(exports, "RethookError", { enumerable: true, get: function () { return errors_1.RethookError; } });
