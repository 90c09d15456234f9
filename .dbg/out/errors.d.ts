/**
 * An error meant for the user: its message is one line that names the
 * problem. The CLI prints it as is (no stack trace) and exits non-zero.
 */
export declare class RethookError extends Error {
    constructor(message: string);
}
