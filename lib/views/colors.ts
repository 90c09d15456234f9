// Colors of the text views. picocolors does the escape codes (createColors:
// on or off as we decide, never from its own look at the environment); when
// to color is decided here: --color=auto|always|never, NO_COLOR respected.
import * as tty from 'tty';
import { createColors } from 'picocolors';

export type ColorMode = 'auto' | 'always' | 'never';

export interface Palette {
  /** false: every function below returns its argument as it is. */
  enabled: boolean;
  fn(s: string): string;
  ret(s: string): string;
  slow(s: string): string;
  unwound(s: string): string;
  dim(s: string): string;
  marker(s: string): string;
  header(s: string): string;
}

/**
 * Whether text written to `fd` is colored. auto: when it is a terminal and
 * NO_COLOR is unset or empty (https://no-color.org); always: even with
 * NO_COLOR (an explicit flag wins, as that convention says); never: not.
 */
export function colorEnabled(mode: ColorMode, fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return tty.isatty(fd);
}

export function palette(enabled: boolean): Palette {
  const c = createColors(enabled);
  return {
    enabled,
    fn: c.cyan,
    ret: c.green,
    slow: (s) => c.bold(c.yellow(s)),
    unwound: (s) => c.bold(c.red(s)),
    dim: c.dim,
    marker: (s) => c.bold(c.magenta(s)),
    header: c.bold,
  };
}
