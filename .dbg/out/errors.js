"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.RethookError = void 0;
/**
 * An error meant for the user: its message is one line that names the
 * problem. The CLI prints it as is (no stack trace) and exits non-zero.
 */
class RethookError extends Error {
    constructor(message) {
        super(message);
        this.name = 'RethookError';
    }
}
exports.RethookError = RethookError;
