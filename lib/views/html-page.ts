// The style and script of the HTML report (html.ts): hand-written SVG and DOM,
// no library. The script reads the run from the page's JSON and puts every
// name in with textContent or setAttribute, never as markup. Plain ES2017,
// written as a string: it runs in the browser, not in Node.

export const PAGE_STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 2em 2em; color: #222; }
h1 { font-size: 1.4em; margin: 0.8em 0 0.2em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.3em; border-bottom: 1px solid #ddd; }
.hint { color: #666; margin: 0.2em 0 0.5em; font-size: 0.9em; }
#command { font-family: monospace; background: #f4f4f4; padding: 0.3em 0.5em; word-break: break-all; }
#flame svg, #timeline svg { width: 100%; display: block; }
#flame .frame { cursor: pointer; }
#flame .frame text, #timeline text { font: 11px monospace; pointer-events: none; fill: #000; }
#flame .frame:hover rect { stroke: #000; stroke-width: 0.5; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; user-select: none; }
th.sorted { background: #e0e8f4; }
td.function, th.function { text-align: left; font-family: monospace; white-space: pre; }
.histogram { display: inline-block; vertical-align: top; margin: 0 2em 1.2em 0; }
.histogram h3 { font: bold 12px monospace; margin: 0.3em 0; white-space: pre; }
.histogram .row { display: flex; align-items: center; font: 11px monospace; }
.histogram .range { width: 10em; }
.histogram .count { width: 6em; text-align: right; padding-right: 0.5em; }
.histogram .bar { background: #4a7bd0; height: 10px; }
#notes li { font-family: monospace; white-space: pre-wrap; }
`;

export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('rethook-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function duration(ns) {
    ns = Math.round(ns);
    if (ns < 1e3) return ns + ' ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' us';
    if (ns < 1e9) return (ns / 1e6).toFixed(1) + ' ms';
    return (ns / 1e9).toFixed(2) + ' s';
  }
  function hue(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return 'hsl(' + (10 + (h % 45)) + ', 75%, ' + (60 + (h % 17)) + '%)';
  }

  // ---- the heading ----
  document.title = 'rethook: ' + (data.command.length ? data.command.join(' ') : 'process ' + data.pid);
  document.getElementById('command').textContent = data.command.length ? data.command.join(' ') : 'attached to process ' + data.pid;
  document.getElementById('headline').textContent = data.headline + (data.mode ? ' (' + data.mode + ' mode)' : '') + (data.cut ? '; the record was cut short' : '');
  document.getElementById('durations').textContent = 'Durations: ' + data.durations + '.';

  // ---- the flame graph: frames as [name, total, calls, children] ----
  var W = 1200, ROW = 18;
  var flame = document.getElementById('flame');
  function depthOf(f) {
    var d = 0;
    for (var i = 0; i < f[3].length; i++) d = Math.max(d, depthOf(f[3][i]));
    return d + 1;
  }
  var rows = depthOf(data.flame);
  var zoomed = [data.flame];
  function drawFlame(zoomPath) {
    zoomed = zoomPath;
    flame.textContent = '';
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + rows * ROW, preserveAspectRatio: 'none', height: rows * ROW });
    var focus = zoomPath[zoomPath.length - 1];
    // The frames above the one zoomed to span the whole width.
    zoomPath.forEach(function (f, d) { frame(s, f, 0, W, d, zoomPath.slice(0, d + 1)); });
    children(s, focus, 0, W, zoomPath.length, zoomPath);
    flame.appendChild(s);
  }
  function children(s, f, x, w, d, path) {
    var scale = f[1] > 0 ? w / f[1] : 0;
    var cx = x;
    f[3].forEach(function (c) {
      var cw = c[1] * scale;
      if (cw >= 0.5) {
        var p = path.concat([c]);
        frame(s, c, cx, cw, d, p);
        children(s, c, cx, cw, d + 1, p);
      }
      cx += cw;
    });
  }
  function frame(s, f, x, w, d, path) {
    var g = svg('g', { class: 'frame', 'data-name': f[0] });
    g.appendChild(svg('title', {}, f[0] + ': ' + duration(f[1]) + ', ' + f[2] + ' calls'));
    g.appendChild(svg('rect', { x: x, y: d * ROW, width: Math.max(0, w - 0.5), height: ROW - 1, fill: d === 0 ? '#ddd' : hue(f[0]) }));
    var chars = Math.floor((w - 6) / 7);
    if (chars >= 3) g.appendChild(svg('text', { x: x + 3, y: d * ROW + ROW - 5 }, f[0].length > chars ? f[0].slice(0, chars - 1) + '\\u2026' : f[0]));
    // A click zooms to the frame; on the frame zoomed to, one step out.
    g.addEventListener('click', function () { drawFlame(path.length > 1 && f === zoomed[zoomed.length - 1] ? path.slice(0, -1) : path); });
    s.appendChild(g);
  }
  drawFlame([data.flame]);

  // ---- the table of functions ----
  var table = document.getElementById('functions');
  var cols = [
    ['calls', 'calls', null], ['total', 'totalNs', 0], ['self', 'selfNs', 1], ['avg', 'avgNs', 2], ['min', 'minNs', 3], ['max', 'maxNs', 4],
    ['p50', 'p50Ns', 5], ['p99', 'p99Ns', 6], ['unwound', 'unwound', null], ['missed', 'nmissed', null], ['function', 'function', null],
  ];
  var sortKey = 'totalNs', descending = true;
  function drawTable() {
    table.textContent = '';
    var head = el('tr');
    cols.forEach(function (c) {
      var th = el('th', { 'data-key': c[1], class: (c[1] === 'function' ? 'function ' : '') + (c[1] === sortKey ? 'sorted' : '') }, c[0] + (c[1] === sortKey ? (descending ? ' \\u25bc' : ' \\u25b2') : ''));
      th.addEventListener('click', function () {
        if (sortKey === c[1]) descending = !descending;
        else { sortKey = c[1]; descending = c[1] !== 'function'; }
        drawTable();
      });
      head.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el('tbody');
    var sorted = data.rows.slice().sort(function (a, b) {
      var x = a[sortKey], y = b[sortKey];
      var o = typeof x === 'string' ? (x < y ? -1 : x > y ? 1 : 0) : x - y;
      return (descending ? -o : o) || (a.function < b.function ? -1 : a.function > b.function ? 1 : 0);
    });
    sorted.forEach(function (r) {
      var tr = el('tr');
      cols.forEach(function (c) {
        var text = c[2] !== null ? r.shown[c[2]] : String(r[c[1]]);
        tr.appendChild(el('td', c[1] === 'function' ? { class: 'function' } : {}, text));
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }
  drawTable();

  // ---- histograms ----
  function label(n) {
    var units = ['', 'K', 'M', 'G', 'T'], u = 0;
    while (n >= 1024 && n % 1024 === 0 && u < units.length - 1) { n /= 1024; u++; }
    return n + units[u];
  }
  var hists = document.getElementById('histograms');
  data.histograms.forEach(function (h) {
    var box = el('div', { class: 'histogram' });
    box.appendChild(el('h3', {}, h.function + ': ' + h.calls + ' calls; p50 ' + h.p50 + ', p90 ' + h.p90 + ', p99 ' + h.p99));
    var max = 1;
    h.buckets.forEach(function (b) { max = Math.max(max, b.count); });
    h.buckets.forEach(function (b) {
      var row = el('div', { class: 'row' });
      row.appendChild(el('span', { class: 'range' }, '[' + label(b.low) + ', ' + label(b.high) + ') ns'));
      row.appendChild(el('span', { class: 'count' }, String(b.count)));
      var bar = el('span', { class: 'bar' });
      bar.style.width = Math.max(b.count ? 1 : 0, Math.round((b.count / max) * 240)) + 'px';
      row.appendChild(bar);
      box.appendChild(row);
    });
    hists.appendChild(box);
  });

  // ---- the timeline of threads ----
  var tl = document.getElementById('timeline');
  var LABEL = 170, TH = 20;
  var span = Math.max(1, data.span);
  data.threads.forEach(function (t) { span = Math.max(span, t.last); });
  var ts = svg('svg', { viewBox: '0 0 ' + W + ' ' + (data.threads.length * TH + 20), height: data.threads.length * TH + 20 });
  var x = function (ns) { return LABEL + (Math.max(0, ns) / span) * (W - LABEL - 4); };
  data.threads.forEach(function (t, i) {
    var y = i * TH;
    ts.appendChild(svg('text', { x: 2, y: y + TH - 6 }, 'pid ' + t.pid + ' tid ' + t.tid + ' (' + t.calls + ')'));
    ts.appendChild(svg('rect', { x: x(t.first), y: y + 8, width: Math.max(1, x(t.last) - x(t.first)), height: 2, fill: '#bbb' }));
    for (var k = 0; k < t.spans.length; k += 3) {
      var name = t.spans[k + 2] >= 0 ? data.names[t.spans[k + 2]] : '(several calls)';
      var r = svg('rect', { x: x(t.spans[k]), y: y + 2, width: Math.max(1, x(t.spans[k + 1]) - x(t.spans[k])), height: TH - 6, fill: hue(name) });
      r.appendChild(svg('title', {}, name + ': ' + duration(t.spans[k + 1] - t.spans[k])));
      ts.appendChild(r);
    }
  });
  var axisY = data.threads.length * TH + 14;
  ts.appendChild(svg('text', { x: LABEL, y: axisY }, '0'));
  ts.appendChild(svg('text', { x: W - 80, y: axisY }, duration(span)));
  tl.appendChild(ts);

  // ---- notes: fallbacks, refusals, warnings, missed calls ----
  var notes = document.getElementById('notes');
  if (!data.notes.length) notes.appendChild(el('li', {}, 'none'));
  data.notes.forEach(function (n) { notes.appendChild(el('li', { 'data-type': n.type }, n.type + ': ' + n.message)); });
})();
`;
