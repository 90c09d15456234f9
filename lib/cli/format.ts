// How the CLI writes: the sink (buffered to files and pipes, at once to a
// terminal), and how a call's arguments and return value are rendered.
import * as fs from 'fs';
import * as tty from 'tty';
import type { EntryContext, ExitContext } from '../context';
import type { EntryEvent, ExitEvent } from '../views/events';

export { formatDuration } from '../views/events';

const hex = (v: bigint | number) => '0x' + v.toString(16);

// ---- a call's arguments and return value: the one place they are rendered ----

/** A call's arguments as its entry event carries them (JSON `args`). */
export function renderArgs(ctx: EntryContext): string[] {
  return ctx.args.map(hex);
}

/** A call's return value as its exit event carries it (JSON `retval`). */
export function renderRet(ctx: ExitContext): string {
  return hex(ctx.retval);
}

/** The arguments as the text tree shows them (from the event: a replay shows what the live run did). */
export function argsText(e: EntryEvent, nargs: number): string {
  return e.args.slice(0, nargs).join(', ');
}

/** The return value as the text tree shows it. */
export function retText(e: ExitEvent): string {
  return e.retval;
}

// ---- the sink ----------------------------------------------------------------

/** True when `fd` is a terminal that the program's own stdout or stderr (ours, inherited) also writes to. */
export function sharesTerminal(fd: number): boolean {
  if (!tty.isatty(fd)) return false;
  try {
    const dev = fs.fstatSync(fd).rdev;
    return [1, 2].some((o) => tty.isatty(o) && fs.fstatSync(o).rdev === dev);
  } catch {
    return false;
  }
}

/**
 * Writes to a file descriptor. Buffered (one syscall per batch of events,
 * not per event) unless `sync`: then each write goes out at once, while the
 * program is still stopped at the event, so the trace and the program's own
 * output appear on a shared terminal in the order they happened. When the
 * reader goes away (EPIPE: `| head`), nothing more is written and `onClosed`
 * runs, once.
 */
export class Sink {
  private buf: string[] = [];
  private size = 0;
  private scheduled = false;
  closed = false;
  onClosed: (() => void) | null = null;
  constructor(readonly fd: number, readonly sync = false) {}
  write(s: string): void {
    if (this.sync) {
      this.out(s);
      return;
    }
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (!this.buf.length) return;
    const s = this.buf.join('');
    this.buf = [];
    this.size = 0;
    this.out(s);
  }
  private out(s: string): void {
    if (this.closed) return;
    let data = Buffer.from(s);
    for (let tries = 0; data.length; ) {
      try {
        const n = fs.writeSync(this.fd, data);
        data = data.subarray(n);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && ++tries < 100000) continue; // a non-blocking terminal or pipe that is full
        if (code !== 'EPIPE') throw e;
        this.closed = true;
        this.onClosed?.();
        return;
      }
    }
  }
}
