// `--otlp URL`: calls as OpenTelemetry spans, received by a collector started
// here on 127.0.0.1 that decodes each request with the OpenTelemetry project's
// own protobuf definitions (the generated code of opentelemetry-proto shipped in
// @opentelemetry/otlp-transformer 0.216, installed as otlp-proto-definitions),
// not with the encoder rethook uses.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { CLI, cli, expectUsageError, fixture, FIXTURES, scratchDir, untraced } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const proto = require('otlp-proto-definitions/build/src/generated/root').opentelemetry.proto;
const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest;

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Span {
  traceId: string;
  spanId: string;
  parentId: string;
  name: string;
  start: bigint;
  end: bigint;
  status: number;
  statusMessage: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

/** An AnyValue as a plain value. */
function anyValue(v: Any): unknown {
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.arrayValue) return v.arrayValue.values.map(anyValue);
  return undefined;
}
const attrs = (kvs: Any[]) => Object.fromEntries(kvs.map((kv) => [kv.key, anyValue(kv.value)]));
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

interface Receiver {
  url: string;
  spans: Span[];
  requests: number;
  /** What was not as an OTLP/HTTP exporter sends it (path, content type, scope). */
  bad: string[];
  close(): Promise<void>;
}

/** An OTLP/HTTP collector on 127.0.0.1: decodes every request (protobuf) and answers 200. */
async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', spans: [], requests: 0, bad: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      // Answered first, decoded after: the decoding here (in jest's process) must not be what a loaded machine's tracer waits on.
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') r.bad.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const msg = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(Buffer.concat(chunks)), { longs: String });
      for (const rs of msg.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes ?? []);
        for (const ss of rs.scopeSpans ?? []) {
          if (ss.scope?.name !== 'rethook') r.bad.push(`scope ${ss.scope?.name}`);
          for (const s of ss.spans ?? []) {
            r.spans.push({
              traceId: hex(s.traceId), spanId: hex(s.spanId), parentId: hex(s.parentSpanId), name: s.name,
              start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano),
              status: s.status?.code ?? 0, statusMessage: s.status?.message ?? '',
              attributes: attrs(s.attributes ?? []), resource,
            });
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => {
    expect(r.bad).toEqual([]);
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return r;
}

/** A port nothing listens on: one that was just bound and closed. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The tracer's peak RSS (kB), from wait4 (python3's os.wait4: Node has none). */
  maxRssKb: number;
}

/** The CLI, run without blocking this process (its event loop answers the collector's requests). */
function run(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const wrapper = 'import os,sys\np=os.spawnv(os.P_NOWAIT,sys.argv[1],sys.argv[1:])\n_,st,ru=os.wait4(p,0)\nos.write(3,str(ru.ru_maxrss).encode())\nsys.exit(os.waitstatus_to_exitcode(st))';
  const child = spawn('python3', ['-c', wrapper, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { ...process.env, RETHOOK_DEBUG_DIRS: '', ...env } });
  const out: Record<string, string> = { stdout: '', stderr: '', rss: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (out.rss += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code, stdout: out.stdout, stderr: out.stderr, maxRssKb: Number(out.rss) })));
}

/** "parent > child" for every span with a parent, sorted; roots as "> name". */
function pairs(spans: Span[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return spans.map((s) => `${s.parentId ? byId.get(s.parentId)?.name ?? '?' : ''} > ${s.name}`).sort();
}

const CALLTREE_PAIRS = [' > other', ' > outer', ...Array(3).fill('outer > middle'), ...Array(6).fill('middle > inner'), 'middle > slow', 'other > inner'].sort();
const TREE = ['-f', 'outer', '-f', 'middle', '-f', 'inner', '-f', 'slow', '-f', 'other'];

describe.each(['trap', 'fast'])('trace --otlp in %s mode', (mode) => {
  test('one span per call, each parented by the enclosing hooked call, one trace per outermost call; the program output as without it', async () => {
    const rx = await receiver();
    try {
      const r = await run(['trace', '--mode', mode, '--otlp', rx.url, ...TREE, '--', fixture('calltree')]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(untraced(fixture('calltree')).stdout);
      expect(r.stderr).toBe(''); // the spans were the only output, and all were sent
      expect(rx.spans).toHaveLength(13);
      expect(pairs(rx.spans)).toEqual(CALLTREE_PAIRS);
      expect(new Set(rx.spans.map((s) => s.spanId)).size).toBe(13);
      // Two outermost calls: two traces, every span in its root's.
      const roots = rx.spans.filter((s) => !s.parentId);
      expect(new Set(rx.spans.map((s) => s.traceId))).toEqual(new Set(roots.map((s) => s.traceId)));
      expect(roots).toHaveLength(2);
      const byId = new Map(rx.spans.map((s) => [s.spanId, s]));
      for (const s of rx.spans) {
        expect(s.end - s.start).toBe(BigInt(s.attributes['rethook.duration_ns'] as number));
        if (s.parentId) {
          const p = byId.get(s.parentId)!;
          expect(s.traceId).toBe(p.traceId);
          expect(s.start).toBeGreaterThanOrEqual(p.start);
        }
        expect(s.status).toBe(0);
        expect(s.attributes['code.function.name']).toBe(s.name);
        expect(typeof s.attributes['thread.id']).toBe('number');
      }
      // slow() sleeps 200 ms: its span says so, in wall-clock time of now.
      const slow = rx.spans.find((s) => s.name === 'slow')!;
      expect(Number(slow.end - slow.start)).toBeGreaterThanOrEqual(190e6);
      expect(Math.abs(Number(slow.start / 1000000n) - Date.now())).toBeLessThan(60000);
      const res = rx.spans[0].resource;
      expect(res).toMatchObject({ 'service.name': 'rethook', 'process.executable.name': 'calltree.O0', 'host.name': require('os').hostname() });
      expect(res['process.command_line']).toBe(fixture('calltree'));
      expect(typeof res['process.pid']).toBe('number');
    } finally {
      await rx.close();
    }
  });
});

test('typed arguments and return values are span attributes, as the JSON view renders them', async () => {
  const rx = await receiver();
  try {
    const r = await run(['trace', '--otlp', rx.url + '/v1/traces', '-f', 'lookup', '-f', 'scale', '-f', 'sum_point', '-f', 'flip', '-f', 'u64max', '--', path.join(FIXTURES, 'types.g-O0')]);
    expect(r.status).toBe(0);
    const span = (name: string) => rx.spans.find((s) => s.name === name)!.attributes;
    expect(span('lookup')).toMatchObject({ 'rethook.arg.key': 'alpha', 'rethook.arg.key.type': 'const char *', 'rethook.arg.len': 5, 'rethook.arg.len.type': 'int', 'rethook.return': 0, 'rethook.return.type': 'int' });
    expect(span('scale')).toMatchObject({ 'rethook.arg.v': 1.5, 'rethook.arg.f': 2, 'rethook.arg.n': 3, 'rethook.return': 9 });
    expect(span('flip')).toMatchObject({ 'rethook.arg.b': true, 'rethook.return': false });
    expect(span('sum_point')).toMatchObject({ 'rethook.arg.p': '{"x":3,"y":4}', 'rethook.return': 7 });
    expect(String(span('u64max')['rethook.return'])).toBe('18446744073709551615');
  } finally {
    await rx.close();
  }
});

test('a call that did not return (longjmp) has status ERROR and its reason', async () => {
  const rx = await receiver();
  try {
    const r = await run(['trace', '--otlp', rx.url, '-f', 'deep', '-f', 'deeper', '-f', 'after', '--', fixture('longjmp')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(untraced(fixture('longjmp')).stdout);
    const by = (n: string) => rx.spans.find((s) => s.name === n)!;
    for (const n of ['deep', 'deeper']) {
      expect(by(n).status).toBe(2); // STATUS_CODE_ERROR
      expect(by(n).attributes['rethook.unwound']).toBe(true);
      expect(by(n).attributes['rethook.unwound.reason']).toEqual(expect.any(String));
      expect(by(n).statusMessage).toBe(`unwound: ${by(n).attributes['rethook.unwound.reason']}`);
    }
    expect(by('after').status).toBe(0);
    expect(pairs(rx.spans)).toEqual([' > after', ' > deep', 'deep > deeper']);
  } finally {
    await rx.close();
  }
});

test('an unreachable collector costs one warning line: the program output and exit status are as without it', async () => {
  const port = await closedPort();
  const r = await run(['trace', '--otlp', `http://127.0.0.1:${port}`, '-f', 'add', '--', fixture('calls')]);
  const plain = untraced(fixture('calls'));
  expect(r.status).toBe(plain.status); // 7
  expect(r.stdout).toBe(plain.stdout);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^rethook: --otlp http://127\\.0\\.0\\.1:${port}/v1/traces: 3 spans not delivered \\(1 request failed: .*ECONNREFUSED.*\\); 0 spans sent$`));
});

test('dump --otlp sends the calls of a record: one span per exit event, the same tree', async () => {
  const file = path.join(scratchDir(), 'calltree.rethook');
  expect(cli(['record', '-o', file, ...TREE, '--', fixture('calltree')]).status).toBe(0);
  const rx = await receiver();
  try {
    const r = await run(['dump', '--otlp', rx.url, file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(pairs(rx.spans)).toEqual(CALLTREE_PAIRS);
    // The record's host may not be this one: no host.name; its command is the record's.
    expect(rx.spans[0].resource['host.name']).toBeUndefined();
    expect(rx.spans[0].resource['process.command_line']).toBe(fixture('calltree'));
    // With a view asked for, it is written as well.
    const both = await run(['dump', '--otlp', rx.url, '--format', 'json', file]);
    expect(both.stdout.trim().split('\n').filter((l) => JSON.parse(l).type === 'exit')).toHaveLength(13);
    expect(rx.spans).toHaveLength(26);
  } finally {
    await rx.close();
  }
});

test('100,000 calls in fast mode: every one a span, and the tracer\'s memory stays bounded', async () => {
  const rx = await receiver();
  try {
    const r = await run(['trace', '--mode', 'fast', '--otlp', rx.url, '-f', 'step', '--', fixture('flood'), '100000', '0']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(rx.spans).toHaveLength(100000);
    expect(new Set(rx.spans.map((s) => s.spanId)).size).toBe(100000);
    expect(rx.spans.every((s) => s.name === 'step' && !s.parentId)).toBe(true);
    // Bounded: 100,000 spans held at once would take far more than this (the queue holds 32 MiB of encoded requests at most).
    const base = await run(['trace', '--mode', 'fast', '-c', '-f', 'step', '--', fixture('flood'), '1000', '0']);
    process.stdout.write(`tracer peak RSS: ${Math.round(r.maxRssKb / 1024)} MiB with --otlp for 100,000 calls; ${Math.round(base.maxRssKb / 1024)} MiB for 1,000 calls summarized\n`);
    expect(r.maxRssKb - base.maxRssKb).toBeLessThan(128 * 1024);
  } finally {
    await rx.close();
  }
});

test('a collector that never answers: 300,000 calls cost one line counting every span, the queue stays within its bound', async () => {
  const stalled = http.createServer((req) => req.resume()); // reads, never answers
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
  try {
    const r = await run(['trace', '--mode', 'fast', '--otlp', url, '-f', 'step', '--', fixture('flood'), '300000', '0']);
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const m = /: (\d+) spans not delivered \(\d+ requests failed: no answer in the 5 s after the run\); (\d+) spans dropped \(more than 32 MiB waiting to be sent\); 0 spans sent$/.exec(lines[0]);
    expect(m).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(300000);
    expect(Number(m![2])).toBeGreaterThan(100000); // the bound held: most were dropped, not queued
    process.stdout.write(`tracer peak RSS: ${Math.round(r.maxRssKb / 1024)} MiB with --otlp to a collector that never answers, 300,000 calls\n`);
    expect(r.maxRssKb).toBeLessThan(256 * 1024);
  } finally {
    stalled.closeAllConnections();
    await new Promise((resolve) => stalled.close(resolve));
  }
});

test('--otlp takes an http(s) URL, on trace and dump only; --html is report\'s', () => {
  expectUsageError(cli(['trace', '--otlp', 'localhost:4318', '-f', 'x', '--', '/bin/true']), /--otlp expects the collector's http:\/\/ or https:\/\/ URL/);
  expectUsageError(cli(['report', '--otlp', 'http://localhost:4318', 'x.rethook']), /--otlp is an option of trace and dump, not of report/);
  expectUsageError(cli(['dump', '--html', 'x.rethook']), /--html is an option of report/);
  expect(fs.existsSync(CLI)).toBe(true);
});
