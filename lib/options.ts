// Options of Tracer.spawn and Tracer.attach, validated in JavaScript before
// any native call (as node-pty and better-sqlite3 do): a wrong option is a
// TypeError naming it, never a crash in the addon.

/** Default maxActive: calls of one hook in flight at once, all threads together. */
export const DEFAULT_MAX_ACTIVE = 4096;

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default maxActive of hooks that do not set their own. */
  maxActive?: number;
  /** Trace children made by fork/vfork as processes of their own (default: release them, cleaned). */
  followForks?: boolean;
  /**
   * A SIGINT to the program (Ctrl-C) is not delivered: the tracer detaches
   * instead and the program goes on untraced (the CLI's --detach-on-exit).
   */
  detachOnInterrupt?: boolean;
  /**
   * The program's stdin, stdout, stderr, as child_process.spawn takes them:
   * one value for all three or an array of up to three (missing ones
   * 'inherit'). 'inherit' (default): ours. 'ignore': /dev/null. 'pipe': a
   * pipe to tracer.stdin, tracer.stdout or tracer.stderr. A number: that
   * file descriptor of ours.
   */
  stdio?: StdioOption | readonly StdioOption[];
}

export type StdioOption = 'inherit' | 'ignore' | 'pipe' | number;

export type AttachOptions = Pick<SpawnOptions, 'maxActive' | 'followForks'>;

function checkMaxActive(v: unknown): number {
  const maxActive = v ?? DEFAULT_MAX_ACTIVE;
  if (!Number.isInteger(maxActive) || (maxActive as number) < 1) throw new TypeError('Expected maxActive to be a positive integer');
  return maxActive as number;
}

function checkBoolean(v: unknown, name: string): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`Expected ${name} to be a boolean`);
  return v === true;
}

export interface ValidSpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  maxActive: number;
  followForks: boolean;
  detachOnInterrupt: boolean;
  /** Always three: 'inherit', 'ignore', 'pipe' or a file descriptor. */
  stdio: StdioOption[];
}

export function validateSpawn(args: unknown, options: unknown): ValidSpawnOptions {
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('Expected args to be an array of strings');
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected options to be an object');
  const o = options as SpawnOptions;
  const maxActive = checkMaxActive(o.maxActive);
  if (o.cwd !== undefined && typeof o.cwd !== 'string') throw new TypeError('Expected cwd to be a string');
  const followForks = checkBoolean(o.followForks, 'followForks');
  const detachOnInterrupt = checkBoolean(o.detachOnInterrupt, 'detachOnInterrupt');
  const raw: unknown = o.stdio ?? [];
  const stdio: unknown[] = Array.isArray(raw) ? [...raw] : [raw, raw, raw];
  const valid = (f: unknown) => f === 'inherit' || f === 'ignore' || f === 'pipe' || (Number.isInteger(f) && (f as number) >= 0);
  if (stdio.length > 3 || stdio.some((f) => f !== undefined && f !== null && !valid(f)))
    throw new TypeError("Expected stdio to be 'inherit', 'ignore', 'pipe' or a file descriptor, or an array of up to 3 of them");
  while (stdio.length < 3) stdio.push('inherit');
  return {
    env: o.env ?? process.env,
    cwd: o.cwd ?? '',
    maxActive,
    followForks,
    detachOnInterrupt,
    stdio: stdio.map((f) => (f ?? 'inherit') as StdioOption),
  };
}

export function validateAttach(pid: unknown, options: unknown): { maxActive: number; followForks: boolean } {
  if (!Number.isInteger(pid) || (pid as number) <= 0) throw new TypeError('Expected pid to be a positive integer');
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected options to be an object');
  const o = options as AttachOptions;
  return { maxActive: checkMaxActive(o.maxActive), followForks: checkBoolean(o.followForks, 'followForks') };
}
