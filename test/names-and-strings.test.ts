// C++ names as people write them, and strings typed as unsigned char (issue
// 24, item 9): `-f geo::label` names `geo::label[abi:cxx11](char const*, int)`;
// `const unsigned char *` arguments and returns are strings.
import * as fs from 'fs';
import * as path from 'path';
import { cli, FIXTURES, MODES, scratchDir } from './helpers';

let runs = 0;

/** The JSON events of `rethook trace --format json`, and the program's own output. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function jsonEvents(args: string[]): { status: number | null; events: Record<string, any>[]; programOut: string } {
  const out = path.join(scratchDir(), `events-${runs++}.json`);
  const r = cli(['trace', '--format', 'json', '-o', out, ...args]);
  const events = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, events, programOut: r.stdout };
}

describe.each(MODES)('%s mode', (mode) => {
  const cxx = path.join(FIXTURES, 'cxxvalues.g-O0');

  test.each([
    ['geo::label', 'the plain name'],
    ['geo::label(char const*, int)', 'the name with its parameters'],
    ['geo::lab*', 'a glob'],
  ])("-f '%s' (%s) hooks geo::label[abi:cxx11](char const*, int), and only it", (pattern) => {
    const r = jsonEvents(['--mode', mode, '-f', pattern, '--', cxx]);
    expect(r.status).toBe(0);
    const calls = r.events.filter((e) => e.type === 'entry').map((e) => [e.function, e.argv.map((a: { value: unknown }) => a.value)]);
    expect(calls).toEqual([['geo::label[abi:cxx11](char const*, int)', ['box', 12]]]);
  });

  test('a pattern whose parameters differ matches nothing, and says so', () => {
    const r = cli(['trace', '--mode', mode, '-f', 'geo::label(int)', '--', cxx]);
    expect(r.stderr).toMatch(/'geo::label\(int\)'/);
    expect(r.stderr).not.toMatch(/^ *\d+ geo::label/m);
  });

  test.each(['g-O0', 'g-O2'])('const unsigned char * arguments and returns are strings, a uint8_t * an address (%s)', (variant) => {
    const file = path.join(FIXTURES, `ustrings.${variant}`);
    const r = jsonEvents(['--mode', mode, '-f', 'shout', '-f', 'column_text', '-f', 'bytes', '--', file]);
    expect(r.status).toBe(0);
    expect(r.programOut).toBe('QUIET! second first 2\n');
    const entry = (f: string) => r.events.filter((e) => e.type === 'entry' && e.function === f);
    const exits = (f: string) => r.events.filter((e) => e.type === 'exit' && e.function === f).map((e) => e.ret);
    // Arguments: read at the call in trap mode, copied at the call in fast mode.
    expect(entry('shout')[0].argv).toEqual([{ name: 'word', type: 'const unsigned char *', value: 'quiet' }]);
    if (mode === 'trap') {
      expect(exits('shout')).toEqual([{ type: 'const unsigned char *', value: 'QUIET!' }]);
      // A typedef of unsigned char (libxml2's xmlChar) reads the same; -O2 calls column_text(0) first.
      expect(exits('column_text').map((v) => v.value).sort()).toEqual(['first', 'second']);
      expect(exits('column_text')[0].type).toBe('const xchar *');
    } else {
      // A returned string is not copied at the return in fast mode: read later, as for `const char *`, or said unreadable.
      for (const v of [...exits('shout'), ...exits('column_text')]) expect(v.error === 'unreadable' || typeof v.value === 'string').toBe(true);
    }
    expect(exits('bytes')).toEqual([{ type: 'const uint8_t *', value: expect.stringMatching(/^0x[0-9a-f]+$/) }]);
  });

  test('a const unsigned char * declared with -f shows as a string', () => {
    const file = path.join(FIXTURES, 'ustrings.g-O0');
    const r = jsonEvents(['--mode', mode, '-f', 'shout(const unsigned char *w) -> const unsigned char *', '--', file]);
    expect(r.events.find((e) => e.type === 'entry')?.argv).toEqual([{ name: 'w', type: 'const unsigned char *', value: 'quiet' }]);
    if (mode === 'trap') expect(r.events.find((e) => e.type === 'exit')?.ret).toEqual({ type: 'const unsigned char *', value: 'QUIET!' });
  });
});
