import { escapeText } from './symbols/text';

/**
 * What went wrong, as a stable string to test instead of the message (as
 * Node's `err.code`). New codes may be added; existing ones keep their meaning.
 */
export type RethookErrorCode =
  /** No function matches a pattern, or a target names none or several. */
  | 'ENOSYMBOL'
  /** ptrace was refused (not root, kernel.yama.ptrace_scope, another tracer). */
  | 'EPERM_PTRACE'
  /** A handler threw (or its promise rejected): `cause` is what it threw. */
  | 'EHANDLER'
  /** No such process, or it could not be attached to. */
  | 'ENOPROCESS'
  /** The program could not be started (not found, not executable, not ELF). */
  | 'EEXEC'
  /** An ELF file could not be read or is damaged. */
  | 'EELF'
  /** A function was found but cannot be hooked (its first instruction, no slot, an IFUNC, a CET shadow stack). */
  | 'EHOOK'
  /** Memory of the program could not be read or written, or pages not mapped in it. */
  | 'EMEMORY'
  /** The call needs a thread stopped in a handler, or a tracer still tracing. */
  | 'ESTATE'
  /** A fast-mode context was asked for what needs the thread stopped at the call (it ran already). */
  | 'EFASTMODE'
  /** The program ended during its startup, before it could be hooked. */
  | 'ESTARTUP'
  /** An error of rethook's own while a stop was handled (the program was killed or detached from). */
  | 'EINTERNAL'
  /** The native addon could not be loaded (no prebuilt binary, no build, a system library missing). */
  | 'EADDON'
  /** The CLI's output file could not be opened. */
  | 'EOUTPUT'
  /** A record file (`rethook report`, `replay`, `dump`) cannot be read, or a field of it is wrong. */
  | 'ERECORD';

/**
 * An error meant for the user: its message is one line that names the
 * problem. The CLI prints it as is (no stack trace) and exits non-zero.
 * `code` says what kind of problem it is; `cause`, when there is one, is
 * the error underneath (a throwing handler's own error, with its stack).
 */
export class RethookError extends Error {
  readonly code: RethookErrorCode;

  constructor(message: string, code: RethookErrorCode = 'EINTERNAL', options?: { cause?: unknown }) {
    // Names from the traced program (symbols, paths) may hold control characters: shown escaped, on one line.
    super(escapeText(message), options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'RethookError';
    this.code = code;
  }
}

/** The code of a ptrace failure's message: refused (EPERM) or `fallback`. */
export function ptraceCode(message: string, fallback: RethookErrorCode): RethookErrorCode {
  return /Operation not permitted|EPERM/.test(message) ? 'EPERM_PTRACE' : fallback;
}
