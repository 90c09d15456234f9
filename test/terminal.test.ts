// On a terminal: colors (unless NO_COLOR or --color=never; never in files
// unless --color=always), trace lines in order with the program's own output,
// and a short end-of-run line. The terminal is a real pseudo-terminal, made
// by script(1) from util-linux.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, fixture, scratchDir } from './helpers';

const ESC = '\x1b[';

/** Run the CLI on a pseudo-terminal (its stdin, stdout and stderr); what the terminal showed. */
function onTerminal(args: string[], env: Record<string, string> = {}): string {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', TERM: 'xterm', ...env }, timeout: 60000 });
  return r.stdout.replace(/\r\n/g, '\n');
}

const CALLS = ['-f', 'add', '-f', 'greet', '-f', 'scale', '--', fixture('calls')];

test('calls: on a terminal, names, return values and slow durations are colored, and trace lines keep their order with the program output', () => {
  // Trap mode: the program is stopped at each call while its line is written; fast mode's calls are written in batches after they happened.
  const out = onTerminal(['--mode', 'trap', '--slow', '1ns', ...CALLS]);
  expect(out).toContain(`${ESC}36madd${ESC}39m`);
  expect(out).toContain(`= ${ESC}32m0xa${ESC}39m`);
  expect(out).toMatch(new RegExp(`${ESC.replace('[', '\\[')}1m${ESC.replace('[', '\\[')}33m<[\\d.]+ [mun]?s>`));
  const plain = out.replace(/\x1b\[\d+m/g, '').split('\n').map((l) => l.replace(/^\s*\d+ /, '').replace(/<[\d.]+ [mun]?s>/, '<T>'));
  // greet's entry is written before the program prints inside it; sum= comes after scale returned.
  expect(plain.slice(0, 6)).toEqual([
    'add(0x0, 0xa, ' + plain[0].split(', ')[2],
    'add(0x1, 0xa, ' + plain[1].split(', ')[2],
    'add(0x2, 0xa, ' + plain[2].split(', ')[2],
    // Registers beyond a function's own arguments hold what the caller left (they differ between architectures).
    expect.stringMatching(/^greet\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+\)hello, world$/),
    ' = 0xd <T>',
    expect.stringMatching(/^scale\(.*\) = 0x[0-9a-f]+ <T>$/),
  ]);
  expect(plain[6]).toBe('sum=33 scaled=10.00');
  expect(plain[7]).toMatch(/^rethook: 5 calls traced, 0 missed, in [\d.]+ [mun]?s; process \d+ exited with 7$/);
});

test('calls: no colors with NO_COLOR, with --color=never, or in a file; --color=always colors a file', () => {
  expect(onTerminal(CALLS, { NO_COLOR: '1' })).not.toContain(ESC);
  expect(onTerminal(['--color=never', ...CALLS])).not.toContain(ESC);
  const file = path.join(scratchDir(), 'tree.txt');
  const shown = onTerminal(['-o', file, ...CALLS]);
  expect(shown).not.toContain(ESC);
  expect(shown).toContain('hello, world');
  const text = fs.readFileSync(file, 'utf8');
  expect(text).not.toContain(ESC);
  expect(text.split('\n')[0]).toMatch(/^\s*\d+ add\(0x0, 0xa, 0x[0-9a-f]+\) = 0xa <[\d.]+ [mun]?s>$/);
  // In a file: no end-of-run line (it is for terminals), the tree as before.
  expect(text).not.toMatch(/calls traced/);
  onTerminal(['--color=always', '-o', file, ...CALLS]);
  expect(fs.readFileSync(file, 'utf8')).toContain(`${ESC}36madd${ESC}39m`);
  // The summary too: colored on a terminal, plain with NO_COLOR.
  expect(onTerminal(['-c', ...CALLS])).toContain(`${ESC}1mcalls`);
  expect(onTerminal(['-c', ...CALLS], { NO_COLOR: '1' })).not.toContain(ESC);
});

test('forker: with --follow-fork the tree marks the fork and the exit of the child (status 5)', () => {
  const file = path.join(scratchDir(), 'fork.txt');
  onTerminal(['--follow-fork', '-o', file, '-f', 'work', '-f', 'spawn_child', '--', fixture('forker')]);
  const text = fs.readFileSync(file, 'utf8');
  expect(text).toMatch(/^\s*(\d+) === process (\d+) forked from \d+ ===$/m);
  const child = /=== process (\d+) forked/.exec(text)![1];
  expect(text).toMatch(new RegExp(`^\\s*${child} === process ${child} exited with 5 ===$`, 'm'));
});
