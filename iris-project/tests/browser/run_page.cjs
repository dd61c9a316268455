// Drives a run page and the DAG page in headless Chromium through Playwright: the breadcrumb,
// the artifact tree, a JSON preview with its confusion-matrix heatmap, an SVG in a sandboxed
// frame, a CSV as a table; then the DAG's stage link to its last run. Prints one JSON object of
// what it saw; exits non-zero on the first failure.
'use strict';
const assert = require('node:assert/strict');
const { drive } = require('./session.cjs');

drive(1000, async ({ page, shot, seen, base, experiment }) => {
  // From the table to the pipeline run, then to its evaluate stage run.
  await page.goto(base + '/experiments/' + experiment);
  await Promise.all([page.waitForNavigation(), page.locator('tr.run a', { hasText: /^repro$/ }).click()]);
  await Promise.all([page.waitForNavigation(), page.locator('a', { hasText: /^evaluate$/ }).first().click()]);
  seen.crumbs = (await page.locator('p.crumbs').innerText()).trim();
  assert.match(seen.crumbs, /^Experiments › iris › repro › evaluate$/);

  // Preview the metrics file: JSON text and the confusion matrix as a heatmap.
  await Promise.all([page.waitForNavigation(), page.locator('[data-artifact="models/metrics.json"]').click()]);
  await page.locator('#preview table.heatmap').waitFor();
  seen.heatmapCells = await page.locator('#preview table.heatmap td').count();
  assert.equal(seen.heatmapCells, 9);
  await shot('run-preview-json');

  // The plot: an SVG in a sandboxed frame.
  await Promise.all([page.waitForNavigation(), page.locator('[data-artifact="models/confusion_matrix.svg"]').click()]);
  const frame = page.locator('#preview iframe.artifact');
  await frame.waitFor();
  seen.sandbox = await frame.getAttribute('sandbox');
  assert.equal(seen.sandbox, '');
  seen.frameHasSvg = await page.frameLocator('#preview iframe.artifact').locator('svg').count();
  assert.ok(seen.frameHasSvg >= 1);
  await shot('run-preview-svg');

  // The DAG: a legend of the state colours, and each stage links to its last run.
  await page.goto(base + '/dag');
  seen.legend = await page.locator('.legend .legend-item').allInnerTexts();
  assert.equal(seen.legend.length, 4);
  await Promise.all([page.waitForNavigation(), page.locator('td a', { hasText: /^train$/ }).click()]);
  seen.trainPage = (await page.locator('h1').innerText()).trim();
  assert.equal(seen.trainPage, 'Run train');
  await shot('dag-to-run');
});
