// The CLI and the API refuse input that needs no program to judge with a
// one-line error (moved from bad-input.test.ts: nothing here is traced; where a
// program path is only an argument after a usage error, it is /bin/true).
import * as path from 'path';
import { RethookError, Tracer } from '../../lib';
import { cli, expectOneLineError, expectUsageError } from '../helpers';

const NOTELF = path.join(__dirname, '..', 'fixtures', 'notelf.sh');

describe('the CLI refuses bad input with a one-line error', () => {
  test('a missing program', () => expectOneLineError(cli(['trace', '-f', 'x', '--', '/nonexistent/prog']), /^rethook: \/nonexistent\/prog: no such program$/));
  test('a file that is not ELF', () =>
    expectOneLineError(cli(['trace', '-f', 'x', '--', NOTELF]), new RegExp(`^rethook: ${NOTELF.replace(/[.]/g, '\\.')} is not an ELF executable`)));
  test('an unknown option', () => expectUsageError(cli(['trace', '--frobnicate', '--', '/bin/true']), /^rethook: Unknown option '--frobnicate'$/));
  test('no pattern', () => expectUsageError(cli(['trace', '--', '/bin/true']), /^rethook: nothing to trace: give at least one -f PATTERN$/));
  test('a bad --max-active', () =>
    expectUsageError(cli(['trace', '--max-active', '0', '-f', 'add', '--', '/bin/true']), /^rethook: --max-active expects a positive integer, got '0'$/));
  test('an unknown command', () => expectUsageError(cli(['frob']), /^rethook: unknown command 'frob'$/));
  test('a pid that does not exist', () => expectOneLineError(cli(['trace', '-p', '999999999', '-f', 'x']), /^rethook: no process 999999999$/));
});

describe('the API refuses bad input', () => {
  test('a missing program rejects with a RethookError', async () => {
    await expect(Tracer.spawn('/nonexistent/prog')).rejects.toThrow(new RethookError('/nonexistent/prog: no such program'));
  });
});
