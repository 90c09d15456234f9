// `rethook report --html FILE -o report.html`: one self-contained page. The
// run is collected here (the summary's rows, a tree of call stacks for the
// flame graph, log2 histograms, each thread's outermost calls for the
// timeline) and written at the end as JSON inside the page, which draws it
// with hand-written SVG and a little inline script (html-page.ts). Names from
// the program reach the page only as JSON data, and the script puts them in
// with textContent: a symbol named `<script>` shows as text and runs nothing.
import { createHash } from 'crypto';
import type { Sink } from './format';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import { callTime, EndInfo, formatDuration, RunInfo, View } from './view';
import { durationsNote } from './report';
import { percentile, Summary } from './summary';
import { PAGE_SCRIPT, PAGE_STYLE } from './html-page';

/** Distinct call stacks kept for the flame graph; past it, new ones are counted in their caller's "(more)" frame. */
const MAX_FRAMES = 50000;
/** Outermost calls kept per thread for the timeline; past it, neighbours are merged two by two. */
const MAX_SPANS_PER_THREAD = 4000;
/** Functions given a histogram (the first by total time). */
const MAX_HISTOGRAMS = 50;

interface Frame {
  name: string;
  /** Total time of the calls on this stack (ns, as summaries count it). */
  total: number;
  calls: number;
  children: Map<string, Frame>;
}

interface Open {
  depth: number;
  function: string;
  frame: Frame;
  ts: number;
  /** Hooked calls made inside it so far, at any depth. */
  nested: number;
}

interface Thread {
  pid: number;
  tid: number;
  first: number;
  last: number;
  calls: number;
  /** Outermost calls: start, end (ns since the run's start), name index (-1: merged ones). */
  spans: number[];
}

export interface HtmlViewOptions {
  overheadNs: number | null;
  /** With overheadNs: taken off a call once per hooked call nested in it (RunInfo.nestedNs). */
  nestedNs?: number | null;
  headline: () => string;
}

function newFrame(name: string): Frame {
  return { name, total: 0, calls: 0, children: new Map() };
}

export class HtmlView implements View {
  private readonly summary: Summary;
  private readonly root = newFrame('all');
  private frames = 1;
  private readonly stacks = new Map<number, Open[]>();
  private readonly threads = new Map<number, Thread>();
  private readonly names = new Map<string, number>();
  private readonly notes: { type: string; message: string }[] = [];

  constructor(private readonly out: Sink, private readonly run: RunInfo, private readonly o: HtmlViewOptions) {
    this.summary = new Summary({ overheadNs: o.overheadNs, nestedNs: o.nestedNs });
  }

  private thread(pid: number, tid: number, ts: number): Thread {
    let t = this.threads.get(tid);
    if (!t) this.threads.set(tid, (t = { pid, tid, first: ts, last: ts, calls: 0, spans: [] }));
    t.first = Math.min(t.first, ts);
    t.last = Math.max(t.last, ts);
    return t;
  }

  private child(parent: Frame, name: string): Frame {
    let f = parent.children.get(name);
    if (f) return f;
    if (this.frames >= MAX_FRAMES) name = '(more)';
    f = parent.children.get(name);
    if (!f) {
      parent.children.set(name, (f = newFrame(name)));
      this.frames++;
    }
    return f;
  }

  entry(e: EntryEvent): void {
    this.summary.entry(e);
    this.thread(e.pid, e.tid, e.ts).calls++;
    let st = this.stacks.get(e.tid);
    if (!st) this.stacks.set(e.tid, (st = []));
    while (st.length && st[st.length - 1].depth >= e.depth) st.pop();
    const parent = st.length ? st[st.length - 1].frame : this.root;
    st.push({ depth: e.depth, function: e.function, frame: this.child(parent, e.function), ts: e.ts, nested: 0 });
  }

  exit(e: ExitEvent): void {
    this.summary.exit(e);
    const t = this.thread(e.pid, e.tid, e.ts);
    const st = this.stacks.get(e.tid) ?? [];
    while (st.length && st[st.length - 1].depth > e.depth) st.pop();
    const top = st[st.length - 1];
    let open: Open | null = null;
    if (top && top.depth === e.depth && top.function === e.function) open = st.pop()!;
    const dur = callTime(e.durationNs, this.o.overheadNs, open?.nested ?? 0, this.o.nestedNs ?? null);
    if (open && st.length) st[st.length - 1].nested += 1 + open.nested;
    // An exit whose entry was not seen (inherited): a stack of its own.
    const frame = open ? open.frame : this.child(this.root, e.function);
    frame.total += dur;
    frame.calls++;
    if (!st.length) {
      this.root.total += dur;
      this.root.calls++;
      const start = open ? open.ts : e.ts - e.durationNs;
      this.span(t, start - this.run.startTs, start + e.durationNs - this.run.startTs, e.function);
    }
  }

  private span(t: Thread, start: number, end: number, fn: string): void {
    let k = this.names.get(fn);
    if (k === undefined) this.names.set(fn, (k = this.names.size));
    t.spans.push(start, end, k);
    if (t.spans.length / 3 <= MAX_SPANS_PER_THREAD) return;
    const merged: number[] = [];
    for (let i = 0; i < t.spans.length; i += 6) {
      if (i + 3 >= t.spans.length) merged.push(t.spans[i], t.spans[i + 1], t.spans[i + 2]);
      else merged.push(t.spans[i], t.spans[i + 4], t.spans[i + 2] === t.spans[i + 5] ? t.spans[i + 2] : -1);
    }
    t.spans = merged;
  }

  note(e: NoteEvent, text: string): void {
    if (text && (e.type === 'refused' || e.type === 'fallback' || e.type === 'warning' || e.type === 'missed')) this.notes.push({ type: e.type, message: text });
  }

  end(info: EndInfo): void {
    for (const [fn, n] of info.nmissed) this.summary.addMissed(fn, n);
    const rows = this.summary.rows('total').map((r) => ({
      ...r,
      shown: [r.totalNs, r.selfNs, r.avgNs, r.minNs, r.maxNs, r.p50Ns, r.p99Ns].map((n) => (r.calls ? formatDuration(Math.round(n)) : '-')),
    }));
    const histograms = rows.filter((r) => r.calls > 0).slice(0, MAX_HISTOGRAMS).map((r) => {
      const h = this.summary.histogram(r.function);
      return { function: r.function, calls: h.count, buckets: h.log2Buckets(), p50: formatDuration(Math.round(h.percentile(50))), p90: formatDuration(Math.round(h.percentile(90))), p99: formatDuration(Math.round(h.percentile(99))) };
    });
    const frame = (f: Frame): unknown[] => [f.name, f.total, f.calls, [...f.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(frame)];
    const data = {
      command: this.run.command,
      pid: this.run.pid,
      mode: this.run.mode ?? null,
      headline: this.o.headline(),
      durations: durationsNote(this.o.overheadNs, this.run.mode, false, this.o.nestedNs ?? null),
      cut: info.cut,
      status: info.status,
      span: Math.max(0, info.endTs - this.run.startTs),
      rows,
      flame: frame(this.root),
      histograms,
      names: [...this.names.keys()],
      threads: [...this.threads.values()].sort((a, b) => a.pid - b.pid || a.tid - b.tid)
        .map((t) => ({ pid: t.pid, tid: t.tid, calls: t.calls, first: t.first - this.run.startTs, last: t.last - this.run.startTs, spans: t.spans })),
      notes: this.notes,
    };
    this.out.write(page(data));
    this.out.flush();
  }
}

/** JSON that can sit inside a <script> element: no '<' (no `</script>`, no `<!--`), no line separators. */
export function scriptJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function page(data: unknown): string {
  // The page may run its own script and nothing else, and may load nothing (no network at all).
  const hash = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
  const csp = `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; img-src data:`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rethook report</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header><h1>rethook report</h1><p id="command"></p><p id="headline"></p><p id="durations"></p></header>
<section><h2>Flame graph</h2><p class="hint">Each frame is a hooked function, under the hooked call it was made from; its width is its total time. Click a frame to zoom to it; click the top frame to zoom out.</p><div id="flame"></div></section>
<section><h2>Functions</h2><p class="hint">Click a column to sort by it.</p><table id="functions"></table></section>
<section><h2>Latency histograms</h2><div id="histograms"></div></section>
<section><h2>Threads</h2><p class="hint">Each thread's outermost hooked calls over the run.</p><div id="timeline"></div></section>
<section><h2>Notes</h2><ul id="notes"></ul></section>
<script type="application/json" id="rethook-data">${scriptJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
