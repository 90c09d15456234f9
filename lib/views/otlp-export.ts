// Sends spans to an OpenTelemetry collector over OTLP/HTTP (protobuf). The
// encoding is the OpenTelemetry project's own (@opentelemetry/otlp-transformer's
// ProtobufTraceSerializer, fed ReadableSpan-shaped objects whose ids, parents
// and times we set); the POST is Node's http. Never in the program's way: spans
// are queued, encoded 512 at a time (or after 1 s), sent two requests at a
// time, and what does not fit (encoded requests past OUTBOX_BYTES waiting) is
// dropped and counted. Failures are counted and told in one line at the end.
import * as http from 'http';
import * as https from 'https';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';

/** Spans per request. */
export const BATCH_SPANS = 512;
/** A batch not full goes out after this long. */
const BATCH_MS = 1000;
/** Encoded requests waiting to be sent, at most: past it a batch is dropped (and counted). */
export const OUTBOX_BYTES = 32 << 20;
/** Requests in flight at once. */
const IN_FLIGHT = 2;
/** One request's time limit. */
const REQUEST_MS = 10000;
/** After the run, how long the last spans may take to go out. */
const FINAL_MS = 5000;
/** However fast the collector answers, the wait after the run ends here. */
const FINAL_MAX_MS = 60000;

/** AnyValue as the serializer takes it. */
export type AttributeValue = string | number | boolean | string[];

/** A finished call, as little as it takes (made into a ReadableSpan only to be encoded). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** '' at the root of a trace. */
  parentId: string;
  name: string;
  /** Wall-clock [seconds, nanoseconds]. */
  start: [number, number];
  end: [number, number];
  attributes: Record<string, AttributeValue>;
  /** Set for a call that did not return (status ERROR, with this message). */
  error: string | null;
  /** The process: one resource per pid. */
  pid: number;
}

/** The URL spans are posted to: URL as given when it ends in /v1/traces, else URL/v1/traces. */
export function tracesUrl(url: string): URL {
  const u = new URL(url);
  if (!u.pathname.replace(/\/+$/, '').endsWith('/v1/traces')) u.pathname = u.pathname.replace(/\/+$/, '') + '/v1/traces';
  return u;
}

export interface ExportTotals {
  sent: number;
  /** Spans dropped because OUTBOX_BYTES were already waiting. */
  dropped: number;
  /** Spans in requests that failed (refused, timed out, answered other than 2xx), or still unsent when time ran out at the end. */
  failed: number;
  failedRequests: number;
  /** The first failure, said once. */
  firstError: string | null;
}

export class OtlpExporter {
  private pending: SpanRecord[] = [];
  private readonly outbox: { body: Uint8Array; spans: number }[] = [];
  private outboxBytes = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly agent: http.Agent;
  private readonly resources = new Map<number, ReturnType<typeof resourceFromAttributes>>();
  private readonly scope: { name: string; version: string };
  private idle: (() => void) | null = null;
  /** After the run: a request answered (the wait for the rest starts again). */
  private answered: (() => void) | null = null;
  /** Requests in flight, and how each is settled. */
  private readonly requests = new Map<http.ClientRequest, (error: string | null) => void>();
  readonly totals: ExportTotals = { sent: 0, dropped: 0, failed: 0, failedRequests: 0, firstError: null };

  constructor(readonly url: URL, private readonly resourceOf: (pid: number) => Record<string, AttributeValue>, version: string) {
    this.agent = new (url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: IN_FLIGHT });
    this.scope = { name: 'rethook', version };
  }

  add(span: SpanRecord): void {
    this.pending.push(span);
    if (this.pending.length >= BATCH_SPANS) this.encode();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.encode(), BATCH_MS);
      this.timer.unref();
    }
  }

  /** What is pending becomes one request, queued (or dropped when the outbox is full). */
  private encode(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const spans = this.pending;
    if (!spans.length) return;
    this.pending = [];
    if (this.outboxBytes >= OUTBOX_BYTES) {
      this.totals.dropped += spans.length;
      return;
    }
    const body = ProtobufTraceSerializer.serializeRequest(spans.map((s) => this.readable(s)) as never);
    if (!body) {
      this.fail(spans.length, 'the spans could not be encoded');
      return;
    }
    this.outbox.push({ body, spans: spans.length });
    this.outboxBytes += body.length;
    this.send();
  }

  private readable(s: SpanRecord): object {
    let resource = this.resources.get(s.pid);
    if (!resource) this.resources.set(s.pid, (resource = resourceFromAttributes(this.resourceOf(s.pid))));
    const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: 1 };
    const durNs = (s.end[0] - s.start[0]) * 1e9 + (s.end[1] - s.start[1]);
    return {
      name: s.name,
      kind: 0, // INTERNAL
      spanContext: () => ctx,
      parentSpanContext: s.parentId ? { traceId: s.traceId, spanId: s.parentId, traceFlags: 1 } : undefined,
      startTime: s.start,
      endTime: s.end,
      status: s.error === null ? { code: 0 } : { code: 2, message: s.error },
      attributes: s.attributes,
      links: [],
      events: [],
      duration: [Math.floor(durNs / 1e9), durNs % 1e9],
      ended: true,
      resource,
      instrumentationScope: this.scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }

  private closing = false;

  private send(): void {
    while (!this.closing && this.inFlight < IN_FLIGHT && this.outbox.length) {
      const { body, spans } = this.outbox.shift()!;
      this.inFlight++;
      let settled = false;
      const done = (error: string | null) => {
        if (settled) return;
        settled = true;
        this.requests.delete(req);
        this.outboxBytes -= body.length;
        this.inFlight--;
        if (error === null) this.totals.sent += spans;
        else this.fail(spans, error, true);
        if (error === null) this.answered?.();
        this.send();
        if (this.idle && !this.inFlight && !this.outbox.length) this.idle();
      };
      const req = (this.url.protocol === 'https:' ? https : http).request(this.url, {
        method: 'POST',
        agent: this.agent,
        timeout: REQUEST_MS,
        headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
      }, (res) => {
        res.resume(); // the answer's body (an ExportTraceServiceResponse) says nothing we act on
        res.on('end', () => done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? null : `the collector answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        res.on('error', (e) => done(e.message));
      });
      this.requests.set(req, done);
      req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_MS / 1000} s`)));
      req.on('error', (e) => done(e.message));
      req.end(body);
    }
  }

  private fail(spans: number, error: string, request = false): void {
    this.totals.failed += spans;
    if (request) this.totals.failedRequests++;
    this.totals.firstError ??= error;
  }

  /** The last spans out, while the collector answers (FINAL_MS without an answer, FINAL_MAX_MS in all); what is left then is counted as failed. */
  async finish(): Promise<ExportTotals> {
    this.encode();
    if (this.inFlight || this.outbox.length) {
      // FINAL_MS without an answer ends the wait; a collector that keeps answering gets up to FINAL_MAX_MS.
      let timer: NodeJS.Timeout | undefined;
      let cap: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, FINAL_MS);
        cap = setTimeout(resolve, FINAL_MAX_MS);
        this.answered = () => {
          clearTimeout(timer);
          timer = setTimeout(resolve, FINAL_MS);
        };
      });
      clearTimeout(timer);
      clearTimeout(cap);
      this.idle = null;
      this.answered = null;
    }
    this.closing = true; // nothing more is sent
    for (const [req, done] of [...this.requests]) {
      done(`no answer in the ${FINAL_MS / 1000} s after the run`);
      req.destroy();
    }
    for (const o of this.outbox.splice(0)) this.fail(o.spans, `not sent in the ${FINAL_MS / 1000} s after the run`, true);
    this.agent.destroy();
    return this.totals;
  }
}

/** The one line about what did not reach the collector, or null when everything did. */
export function exportLine(url: URL, t: ExportTotals): string | null {
  if (!t.dropped && !t.failed) return null;
  const parts: string[] = [];
  if (t.failed) parts.push(`${t.failed} spans not delivered (${t.failedRequests} request${t.failedRequests === 1 ? '' : 's'} failed: ${t.firstError})`);
  if (t.dropped) parts.push(`${t.dropped} spans dropped (more than ${OUTBOX_BYTES >> 20} MiB waiting to be sent)`);
  return `rethook: --otlp ${url.href}: ${parts.join('; ')}; ${t.sent} spans sent`;
}
