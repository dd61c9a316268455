// Charts for the UI in plain JavaScript drawing SVG, with no build step and no library: a
// scatter, bars, overlaid lines and parallel coordinates, each with gridlines, ticks and axis
// labels, a tooltip naming the run under the pointer, and a legend whose entries show or hide a
// run. A vendored charting library would be 50 to 200 KB for four small chart types; these fit
// in a few hundred lines that the pages' strict policy serves from the UI itself.
//
// Pages hand over their data as JSON in <script type="application/json" id="…"> blocks (never
// executed) and mark where charts go; everything a run is called is set as text, never markup.
(function () {
  'use strict';

  const NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#1b7c83', '#e16f24',
    '#6e7781', '#bc4c00', '#116329'];
  const colorOf = (i) => PALETTE[i % PALETTE.length];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el('text', Object.assign({ x, y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  // About `count` round tick values covering [lo, hi].
  function ticks(lo, hi, count) {
    if (!(hi > lo)) {
      const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      return ticks(lo - pad, hi + pad, count);
    }
    const raw = (hi - lo) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  const format = (v) => {
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toPrecision(3) : String(+v.toFixed(4));
  };

  // A numeric or categorical scale onto [a, b] from the values it must show.
  function scale(values, a, b) {
    const numbers = values.every((v) => typeof v === 'number');
    if (numbers) {
      let lo = Math.min(...values);
      let hi = Math.max(...values);
      const tickValues = ticks(lo, hi, 5);
      lo = Math.min(lo, tickValues[0]);
      hi = Math.max(hi, tickValues[tickValues.length - 1]);
      const span = hi - lo || 1;
      return { at: (v) => a + ((v - lo) / span) * (b - a), ticks: tickValues, numeric: true };
    }
    const names = Array.from(new Set(values.map(String))).sort();
    const gap = names.length > 1 ? (b - a) / (names.length - 1) : 0;
    const mid = names.length > 1 ? a : (a + b) / 2;
    return { at: (v) => mid + names.indexOf(String(v)) * gap, ticks: names, numeric: false };
  }

  // The shared tooltip: one element, moved to the pointer.
  let tooltip;
  function tip(event, lines) {
    if (!tooltip) {
      tooltip = document.createElement('div');
      tooltip.className = 'chart-tooltip';
      tooltip.setAttribute('role', 'tooltip');
      document.body.appendChild(tooltip);
    }
    tooltip.replaceChildren(...lines.map((line, i) => {
      const div = document.createElement('div');
      if (i === 0) div.className = 'tip-title';
      div.textContent = line;
      return div;
    }));
    tooltip.style.left = event.pageX + 12 + 'px';
    tooltip.style.top = event.pageY + 12 + 'px';
    tooltip.hidden = false;
  }
  function untip() {
    if (tooltip) tooltip.hidden = true;
  }
  function hover(node, lines) {
    node.addEventListener('mouseenter', (e) => tip(e, lines()));
    node.addEventListener('mousemove', (e) => tip(e, lines()));
    node.addEventListener('mouseleave', untip);
  }

  // Axes with gridlines, ticks and labels in a plot box; returns the box.
  function frame(svg, width, height, x, y, xLabel, yLabel) {
    const box = { left: 64, right: width - 16, top: 12, bottom: height - 48 };
    const grid = el('g', { class: 'grid' }, svg);
    y.ticks.forEach((t) => {
      const py = y.at(t);
      el('line', { x1: box.left, x2: box.right, y1: py, y2: py }, grid);
      text(svg, box.left - 6, py + 4, format(t), { 'text-anchor': 'end', class: 'tick' });
    });
    x.ticks.forEach((t) => {
      const px = x.at(t);
      el('line', { x1: px, x2: px, y1: box.top, y2: box.bottom }, grid);
      text(svg, px, box.bottom + 16, format(t), { 'text-anchor': 'middle', class: 'tick' });
    });
    el('rect', { x: box.left, y: box.top, width: box.right - box.left,
      height: box.bottom - box.top, class: 'plot-frame' }, svg);
    text(svg, (box.left + box.right) / 2, height - 8, xLabel, { 'text-anchor': 'middle', class: 'axis-label' });
    text(svg, 14, (box.top + box.bottom) / 2, yLabel, {
      'text-anchor': 'middle', class: 'axis-label',
      transform: `rotate(-90 14 ${(box.top + box.bottom) / 2})`,
    });
    return box;
  }

  function svgIn(container, width, height, label) {
    container.replaceChildren();
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart',
      role: 'img', 'aria-label': label }, container);
    return svg;
  }

  // A legend entry per run: clicking one shows or hides that run in every chart drawn by
  // `redraw`; the legend wraps to the width of its container.
  function legend(container, runs, hidden, redraw, colorFor) {
    const list = document.createElement('div');
    list.className = 'legend';
    runs.forEach((run, i) => {
      const item = document.createElement('button');
      item.type = 'button';
      item.className = 'legend-item' + (hidden.has(run.id) ? ' off' : '');
      item.dataset.run = run.id;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colorFor(run, i);
      item.append(swatch, document.createTextNode(run.name));
      item.title = (hidden.has(run.id) ? 'show ' : 'hide ') + run.name;
      item.addEventListener('click', () => {
        if (hidden.has(run.id)) hidden.delete(run.id);
        else hidden.add(run.id);
        redraw();
      });
      list.appendChild(item);
    });
    container.appendChild(list);
  }

  // points: [{x, y, run: {id, name}, color}]
  function scatter(container, points, xLabel, yLabel) {
    const width = 560;
    const height = 340;
    const svg = svgIn(container, width, height, `${yLabel} against ${xLabel}`);
    if (points.length === 0) return empty(svg, width, height);
    const x = scale(points.map((p) => p.x), 80, width - 32);
    const y = scale(points.map((p) => p.y), height - 64, 28);
    frame(svg, width, height, x, y, xLabel, yLabel);
    points.forEach((p) => {
      const dot = el('circle', { cx: x.at(p.x), cy: y.at(p.y), r: 6, fill: p.color,
        class: 'point', 'data-run': p.run.id }, svg);
      hover(dot, () => [p.run.name, `${xLabel}: ${format(p.x)}`, `${yLabel}: ${format(p.y)}`]);
    });
  }

  // bars: [{value, run, color}]
  function bars(container, items, label) {
    const width = Math.max(360, 80 + items.length * 36);
    const height = 320;
    const svg = svgIn(container, width, height, `${label} across runs`);
    if (items.length === 0) return empty(svg, width, height);
    const values = items.map((b) => b.value).concat([0]);
    const y = scale(values, height - 64, 16);
    const x = { at: () => 0, ticks: [] };
    const box = frame(svg, width, height, x, y, 'run', label);
    const slot = (box.right - box.left) / items.length;
    items.forEach((b, i) => {
      const top = Math.min(y.at(b.value), y.at(0));
      const bar = el('rect', { x: box.left + i * slot + slot * 0.15, y: top, width: slot * 0.7,
        height: Math.max(1, Math.abs(y.at(b.value) - y.at(0))), fill: b.color, class: 'bar',
        'data-run': b.run.id }, svg);
      hover(bar, () => [b.run.name, `${label}: ${format(b.value)}`]);
      const name = b.run.name.length > 10 ? b.run.name.slice(0, 9) + '…' : b.run.name;
      text(svg, box.left + (i + 0.5) * slot, box.bottom + 14, name, { 'text-anchor': 'middle', class: 'tick' });
    });
  }

  // series: [{run, color, points: [[x, y], …]}]
  function lines(container, series, xLabel, yLabel) {
    const width = 560;
    const height = 320;
    const svg = svgIn(container, width, height, `${yLabel} by ${xLabel}`);
    const all = series.flatMap((s) => s.points);
    if (all.length === 0) return empty(svg, width, height);
    const x = scale(all.map((p) => p[0]), 80, width - 32);
    const y = scale(all.map((p) => p[1]), height - 64, 16);
    frame(svg, width, height, x, y, xLabel, yLabel);
    series.forEach((s) => {
      el('polyline', { points: s.points.map((p) => `${x.at(p[0])},${y.at(p[1])}`).join(' '),
        fill: 'none', stroke: s.color, 'stroke-width': 2, class: 'line', 'data-run': s.run.id }, svg);
      s.points.forEach((p) => {
        const dot = el('circle', { cx: x.at(p[0]), cy: y.at(p[1]), r: s.points.length > 60 ? 2 : 4,
          fill: s.color, class: 'point', 'data-run': s.run.id }, svg);
        hover(dot, () => [s.run.name, `${xLabel}: ${format(p[0])}`, `${yLabel}: ${format(p[1])}`]);
      });
    });
  }

  // axes: [{name}], runs: [{run, color, values: [v per axis]}]; each axis gets its own scale.
  function parallel(container, axes, runs) {
    const width = Math.max(480, 120 + axes.length * 150);
    const height = 340;
    const svg = svgIn(container, width, height, 'parallel coordinates');
    if (axes.length === 0 || runs.length === 0) return empty(svg, width, height);
    const left = 70;
    const right = width - 90;
    const gap = axes.length > 1 ? (right - left) / (axes.length - 1) : 0;
    const scales = axes.map((_, i) => scale(runs.map((r) => r.values[i]).filter((v) => v !== null),
      height - 48, 36));
    axes.forEach((axis, i) => {
      const ax = left + i * gap;
      el('line', { x1: ax, x2: ax, y1: 36, y2: height - 48, class: 'axis' }, svg);
      scales[i].ticks.forEach((t) => {
        const py = scales[i].at(t);
        el('line', { x1: ax - 4, x2: ax, y1: py, y2: py, class: 'axis' }, svg);
        text(svg, ax - 6, py + 4, format(t), { 'text-anchor': 'end', class: 'tick' });
      });
      text(svg, ax, 20, axis.name, { 'text-anchor': 'middle', class: 'axis-label' });
    });
    runs.forEach((r) => {
      const pts = r.values
        .map((v, i) => (v === null ? null : `${left + i * gap},${scales[i].at(v)}`))
        .filter((p) => p !== null);
      const line = el('polyline', { points: pts.join(' '), fill: 'none', stroke: r.color,
        'stroke-width': 2.5, class: 'line', 'data-run': r.run.id }, svg);
      hover(line, () => [r.run.name].concat(axes.map((a, i) => `${a.name}: ${r.values[i] === null ? '-' : format(r.values[i])}`)));
    });
  }

  function empty(svg, width, height) {
    text(svg, width / 2, height / 2, 'nothing to draw', { 'text-anchor': 'middle', class: 'tick' });
  }

  // A colour from blue (low) to red (high) for value v in [lo, hi].
  function ramp(v, lo, hi) {
    const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    const mix = (a, b) => Math.round(a + (b - a) * t);
    return `rgb(${mix(9, 207)},${mix(105, 34)},${mix(218, 46)})`;
  }

  const numberOrText = (v) => {
    if (v === undefined || v === null) return null;
    const n = Number(v);
    return v !== '' && Number.isFinite(n) ? n : v;
  };

  window.PipelineCharts = { scatter, bars, lines, parallel, legend, ramp, colorOf, numberOrText, format };
})();
