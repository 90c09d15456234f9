// `rethook [trace] [options] -- PROGRAM [ARGS...]`, `rethook record`, and the
// views of a record: `rethook report`, `rethook replay`, `rethook dump`.
import { RethookError } from '../errors';
import { escapeText } from '../symbols/text';
import { ignoreAsCallerDid } from '../tracee/caller-signals';
import { parseCommand, UsageError } from './args';
import { USAGE } from './usage';

export async function main(argv: string[]): Promise<void> {
  // What our caller ignored (nohup: SIGHUP) does not end us either: the program would go with us.
  ignoreAsCallerDid();
  // A closed stdout or stderr (`| head`) is no reason to crash: what cannot be said is dropped.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  let code: number;
  try {
    code = await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`rethook: ${escapeText(e.message)}\nTry 'rethook --help'.\n`);
      code = 2;
    } else if (e instanceof RethookError) {
      process.stderr.write(`rethook: ${escapeText(e.message)}\n`);
      code = 1;
    } else {
      process.stderr.write(`rethook: internal error: ${(e as Error)?.stack ?? e}\n`);
      code = 70;
    }
  }
  process.exitCode = code;
  // Nothing of ours may keep the process alive now.
  setImmediate(() => process.exit(code));
}

async function run(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '-h' || first === '--help' || first === undefined) {
    process.stdout.write(USAGE.trace);
    return first === undefined ? 2 : 0;
  }
  if (first === '-V' || first === '--version') {
    process.stdout.write(require('../../package.json').version + '\n');
    return 0;
  }
  const p = parseCommand(argv);
  if (p.help) {
    process.stdout.write(USAGE[p.cmd]);
    return 0;
  }
  // Each command loads what it needs: a trace waits for none of the record reader's modules.
  if (p.cmd === 'trace' || p.cmd === 'record') return (require('./commands/trace') as typeof import('./commands/trace')).traceCommand(p);
  const after = { settle: () => Promise.resolve() };
  const code = (require('./commands/report') as typeof import('./commands/report')).reportCommand(p, after);
  await after.settle(); // --otlp: the last spans sent (the output is written already)
  return code;
}
