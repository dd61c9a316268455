// The chart views built on charts.js: the comparison page (parallel coordinates with params
// first and the chosen metric last, lines coloured by it; a scatter) and an experiment's chart
// view (a scatter of any two columns, bars of a metric across runs, the metric histories of the
// selected runs overlaid by step or time). Every view has a legend that shows or hides runs.
(function () {
  'use strict';
  const C = window.PipelineCharts;
  if (!C) return;

  const data = (id) => {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  };

  function select(label, options, chosen, onChange) {
    const wrap = document.createElement('label');
    wrap.className = 'control';
    wrap.append(document.createTextNode(label + ' '));
    const box = document.createElement('select');
    options.forEach((o) => {
      const option = document.createElement('option');
      option.value = o;
      option.textContent = o;
      if (o === chosen) option.selected = true;
      box.appendChild(option);
    });
    box.addEventListener('change', () => onChange(box.value));
    wrap.appendChild(box);
    return wrap;
  }

  // `params.x` / `metrics.y` of a run, as a number where it reads as one.
  const value = (run, key) => {
    const [kind, ...rest] = key.split('.');
    const name = rest.join('.');
    const table = kind === 'params' ? run.params : run.metrics;
    return C.numberOrText(table[name]);
  };

  const keysOf = (runs, kind) => Array.from(new Set(runs.flatMap((r) => Object.keys(r[kind])))).sort();

  function section(root, title) {
    const box = document.createElement('section');
    box.className = 'card chart-card';
    const h = document.createElement('h2');
    h.textContent = title;
    const controls = document.createElement('div');
    controls.className = 'controls';
    const chart = document.createElement('div');
    chart.className = 'chart-box';
    box.append(h, controls, chart);
    root.appendChild(box);
    return { controls, chart };
  }

  function compare(root, runs) {
    const params = keysOf(runs, 'params');
    const varying = params.filter((k) => new Set(runs.map((r) => r.params[k])).size > 1);
    const metrics = keysOf(runs, 'metrics').filter((k) => !k.includes('.'));
    const state = {
      metric: metrics.includes('accuracy') ? 'accuracy' : metrics[0],
      x: varying.length ? 'params.' + varying[0] : 'metrics.' + metrics[0],
      hidden: new Set(),
    };
    const pc = section(root, 'Parallel coordinates');
    const sc = section(root, 'Scatter');
    const legendBox = document.createElement('div');
    root.appendChild(legendBox);
    const columns = params.map((k) => 'params.' + k).concat(metrics.map((k) => 'metrics.' + k));

    function colours() {
      const values = runs.map((r) => value(r, 'metrics.' + state.metric)).filter((v) => typeof v === 'number');
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      return (run) => {
        const v = value(run, 'metrics.' + state.metric);
        return typeof v === 'number' ? C.ramp(v, lo, hi) : '#8c959f';
      };
    }

    function draw() {
      const colour = colours();
      const shown = runs.filter((r) => !state.hidden.has(r.id));
      // Params that vary first, the chosen metric last.
      const axes = varying.map((k) => ({ name: k, key: 'params.' + k }))
        .concat([{ name: state.metric, key: 'metrics.' + state.metric }]);
      C.parallel(pc.chart, axes, shown.map((r) => ({
        run: { id: r.id, name: r.name }, color: colour(r),
        values: axes.map((a) => value(r, a.key)),
      })));
      const y = 'metrics.' + state.metric;
      C.scatter(sc.chart, shown
        .filter((r) => value(r, state.x) !== null && value(r, y) !== null)
        .map((r) => ({ x: value(r, state.x), y: value(r, y), run: { id: r.id, name: r.name }, color: colour(r) })),
      state.x, y);
      legendBox.replaceChildren();
      C.legend(legendBox, runs, state.hidden, draw, (r) => colour(r));
    }

    pc.controls.appendChild(select('Metric (last axis, colour)', metrics, state.metric, (m) => {
      state.metric = m;
      draw();
    }));
    sc.controls.appendChild(select('x', columns, state.x, (x) => {
      state.x = x;
      draw();
    }));
    draw();
  }

  function experimentView(root, payload) {
    const runs = payload.runs;
    const params = keysOf(runs, 'params').map((k) => 'params.' + k);
    const metrics = keysOf(runs, 'metrics').filter((k) => !k.includes('.'));
    const metricColumns = metrics.map((k) => 'metrics.' + k);
    const colour = new Map(runs.map((r, i) => [r.id, C.colorOf(i)]));
    const state = {
      x: params[0] || metricColumns[0],
      y: metricColumns[0] || params[0],
      bar: metrics[0],
      history: null,
      axis: 'step',
      hidden: new Set(),
    };
    const sc = section(root, 'Scatter');
    const bc = section(root, 'Metric across runs');
    const hc = section(root, 'Metric histories of the selected runs');
    const legendBox = document.createElement('div');
    root.appendChild(legendBox);
    const selected = (() => {
      try {
        return JSON.parse(localStorage.getItem('pipeline.ui.selected-runs.' + payload.experiment) || '[]');
      } catch (e) {
        return [];
      }
    })();
    const histories = new Map();

    async function loadHistories() {
      const key = state.history;
      const wanted = runs.filter((r) => selected.includes(r.id));
      await Promise.all(wanted.map(async (r) => {
        const id = r.id + '\u0000' + key;
        if (histories.has(id)) return;
        const response = await fetch('/runs/' + encodeURIComponent(r.id) + '/metrics/' + encodeURIComponent(key));
        histories.set(id, response.ok ? await response.json() : []);
      }));
    }

    function draw() {
      const shown = runs.filter((r) => !state.hidden.has(r.id));
      const pairs = shown.filter((r) => value(r, state.x) !== null && value(r, state.y) !== null);
      C.scatter(sc.chart, pairs.map((r) => ({ x: value(r, state.x), y: value(r, state.y),
        run: { id: r.id, name: r.name }, color: colour.get(r.id) })), state.x, state.y);
      C.bars(bc.chart, shown.filter((r) => typeof value(r, 'metrics.' + state.bar) === 'number')
        .map((r) => ({ value: value(r, 'metrics.' + state.bar), run: { id: r.id, name: r.name }, color: colour.get(r.id) })),
      state.bar);
      const series = shown.filter((r) => selected.includes(r.id)).map((r) => {
        const points = histories.get(r.id + '\u0000' + state.history) || [];
        return { run: { id: r.id, name: r.name }, color: colour.get(r.id),
          points: points.map((p) => [state.axis === 'step' ? p.step : p.timestamp / 1000, p.value]) };
      });
      if (selected.length === 0) {
        hc.chart.textContent = 'Select runs in the table to overlay their histories here.';
      } else {
        C.lines(hc.chart, series, state.axis === 'step' ? 'step' : 'time (s)', state.history);
      }
      legendBox.replaceChildren();
      C.legend(legendBox, runs, state.hidden, draw, (r) => colour.get(r.id));
    }

    const all = params.concat(metricColumns);
    sc.controls.append(
      select('x', all, state.x, (v) => { state.x = v; draw(); }),
      select('y', all, state.y, (v) => { state.y = v; draw(); }),
    );
    bc.controls.appendChild(select('metric', metrics, state.bar, (v) => { state.bar = v; draw(); }));
    const historyKeys = payload.history_keys;
    state.history = historyKeys[0] || metrics[0];
    hc.controls.append(
      select('metric', historyKeys, state.history, async (v) => {
        state.history = v;
        await loadHistories();
        draw();
      }),
      select('x axis', ['step', 'time'], state.axis, (v) => { state.axis = v; draw(); }),
    );
    draw();
    if (state.history && selected.length) loadHistories().then(draw);
  }

  // The run page: each metric history as a line, by step or by time since the run started.
  function runCharts(root, payload) {
    const run = { id: payload.run, name: payload.name };
    const state = { axis: 'step' };
    const histories = new Map();
    const boxes = payload.keys.map((key) => ({ key, box: section(root, key) }));
    function draw() {
      boxes.forEach(({ key, box }) => {
        const points = histories.get(key) || [];
        const start = points.length ? points[0].timestamp : 0;
        C.lines(box.chart, [{ run, color: C.colorOf(0), points: points.map((p) =>
          [state.axis === 'step' ? p.step : (p.timestamp - start) / 1000, p.value]) }],
        state.axis === 'step' ? 'step' : 'seconds since the first point', key);
      });
    }
    boxes.forEach(({ box }) => box.controls.appendChild(
      select('x axis', ['step', 'time'], state.axis, (v) => {
        state.axis = v;
        boxes.forEach((b) => { b.box.controls.querySelector('select').value = v; });
        draw();
      })));
    Promise.all(payload.keys.map(async (key) => {
      const response = await fetch('/runs/' + encodeURIComponent(payload.run) + '/metrics/' + encodeURIComponent(key));
      histories.set(key, response.ok ? await response.json() : []);
    })).then(draw);
  }

  const runData = data('run-data');
  const runRoot = document.getElementById('run-charts');
  if (runData && runRoot) runCharts(runRoot, runData);

  const compared = data('compare-data');
  const compareRoot = document.getElementById('compare-charts');
  if (compared && compareRoot) compare(compareRoot, compared.runs);
  const experiment = data('experiment-data');
  const experimentRoot = document.getElementById('experiment-charts');
  if (experiment && experimentRoot) experimentView(experimentRoot, experiment);
})();
