// Whether a process is being killed: what fails while it dies (a write, a
// resume) failed because of that, and is no error of ours.
import * as fs from 'fs';

/** Process `pid` (its thread `tid`) is being killed: SIGKILL pending, exiting, a zombie, or gone. */
export function processDying(pid: number, tid: number): boolean {
  for (const file of [`/proc/${pid}/task/${tid}/status`, `/proc/${pid}/status`]) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return true;
    }
    const state = /^State:\s*(\S)/m.exec(text)?.[1];
    if (state === 'Z' || state === 'X') return true;
    for (const m of text.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)/gm)) if ((BigInt('0x' + m[1]) >> 8n) & 1n) return true;
  }
  return false;
}
