// Finding the program to start, and naming signals.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isElf } from './elf';
import { RethookError } from '../errors';

export function signalName(n: number): NodeJS.Signals {
  for (const [name, num] of Object.entries(os.constants.signals as Record<string, number>)) {
    if (num === n) return name as NodeJS.Signals;
  }
  return `SIG${n}` as NodeJS.Signals; // a real-time signal: Node has no name for it
}

/** The executable `file` names (a path, or a name looked up in PATH), checked to be one we can trace. */
export function resolveProgram(file: string, envPath = process.env.PATH ?? ''): string {
  if (typeof file !== 'string' || file === '') throw new TypeError('Expected the program to be a non-empty string');
  const candidates = file.includes('/') ? [path.resolve(file)] : envPath.split(':').filter(Boolean).map((d) => path.join(d, file));
  for (const c of candidates) {
    let st: fs.Stats;
    try {
      st = fs.statSync(c);
    } catch {
      continue;
    }
    if (!st.isFile()) throw new RethookError(`${file} is not a regular file`, 'EEXEC');
    try {
      fs.accessSync(c, fs.constants.X_OK);
    } catch {
      throw new RethookError(`${file} is not executable`, 'EEXEC');
    }
    if (!isElf(c)) throw new RethookError(`${file} is not an ELF executable (scripts are not traced; name their interpreter)`, 'EEXEC');
    return c;
  }
  throw new RethookError(`${file}: no such program`, 'EEXEC');
}

