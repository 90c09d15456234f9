// The CLI's output buffer (lib/views/format.ts Sink): bytes out in the order
// written, UTF-8 encoded once, nothing lost at the buffer's edge.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Sink } from '../../lib/views/format';
import { timeBound, waitUntil } from '../time-bound';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rethook-sink-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function withFile(name: string, body: (fd: number) => void): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  try {
    body(fd);
  } finally {
    fs.closeSync(fd);
  }
  return fs.readFileSync(file, 'utf8');
}

test('buffered writes reach the file only when flushed, in the order written', () => {
  let before = '';
  const out = withFile('order', (fd) => {
    const s = new Sink(fd);
    s.write('one\n');
    s.write('two\n');
    before = fs.readFileSync(path.join(dir, 'order'), 'utf8');
    s.flush();
  });
  expect(before).toBe('');
  expect(out).toBe('one\ntwo\n');
});

test('text beyond ASCII is written as UTF-8, byte for byte', () => {
  const line = 'caf\u00e9 \u4e2d\u6587 \u{1f600} \\x01\n';
  const out = withFile('utf8', (fd) => {
    const s = new Sink(fd);
    for (let i = 0; i < 3; i++) s.write(line);
    s.flush();
  });
  expect(out).toBe(line.repeat(3));
});

test('many lines past the buffer size all arrive, none twice or out of order', () => {
  const lines: string[] = [];
  for (let i = 0; i < 20000; i++) lines.push(`{"n":${i},"s":"\u00e9${'x'.repeat(i % 50)}"}\n`);
  const out = withFile('many', (fd) => {
    const s = new Sink(fd);
    for (const l of lines) s.write(l);
    s.flush();
  });
  expect(out).toBe(lines.join(''));
});

test('one string larger than the buffer goes out after what was waiting', () => {
  const big = 'y'.repeat(1 << 18) + '\n';
  const out = withFile('big', (fd) => {
    const s = new Sink(fd);
    s.write('first\n');
    s.write(big);
    s.write('last\n');
    s.flush();
  });
  expect(out).toBe('first\n' + big + 'last\n');
});

test('a sync sink writes each string at once', () => {
  let seen = '';
  withFile('sync', (fd) => {
    const s = new Sink(fd, true);
    s.write('now\n');
    seen = fs.readFileSync(path.join(dir, 'sync'), 'utf8');
  });
  expect(seen).toBe('now\n');
});

test('a buffered sink flushes by itself shortly after a write', async () => {
  const file = path.join(dir, 'timer');
  const fd = fs.openSync(file, 'w');
  try {
    new Sink(fd).write('later\n');
    expect(fs.readFileSync(file, 'utf8')).toBe(''); // not at once
    // Shortly: within a second (a stretched bound), with no other write or flush.
    await waitUntil('the flush', () => fs.readFileSync(file, 'utf8') !== '', timeBound(1000));
    expect(fs.readFileSync(file, 'utf8')).toBe('later\n');
  } finally {
    fs.closeSync(fd);
  }
});
