import { escapeText } from './symbols/text';

/**
 * An error meant for the user: its message is one line that names the
 * problem. The CLI prints it as is (no stack trace) and exits non-zero.
 */
export class RethookError extends Error {
  constructor(message: string) {
    // Names from the traced program (symbols, paths) may hold control characters: shown escaped, on one line.
    super(escapeText(message));
    this.name = 'RethookError';
  }
}
