// Drives the charts in headless Chromium through Playwright: the experiment's chart view
// (scatter, bars, overlaid histories of the selected runs), a hover tooltip naming the run,
// show/hide from the legend, and the comparison's parallel coordinates (params first, the
// chosen metric last) and scatter. Prints one JSON object of what it saw; exits non-zero on the
// first failure.
'use strict';
const assert = require('node:assert/strict');
const { drive } = require('./session.cjs');

drive(1000, async ({ page, shot, seen, base, experiment }) => {
  // Select two runs in the table, then open the chart view from its link.
  await page.goto(base + '/experiments/' + experiment);
  const boxes = page.locator('tr.run input.select');
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await Promise.all([page.waitForNavigation(), page.locator('a', { hasText: 'Charts of these runs' }).click()]);
  const cards = page.locator('#experiment-charts section');
  await cards.first().waitFor();
  seen.sections = await page.locator('#experiment-charts h2').allTextContents();
  const scatter = cards.nth(0);
  seen.scatterPoints = await scatter.locator('circle.point').count();
  assert.equal(seen.scatterPoints, 3);
  seen.bars = await cards.nth(1).locator('rect.bar').count();
  assert.equal(seen.bars, 3);
  await page.locator('#experiment-charts .chart-box').nth(2).locator('svg').waitFor();
  seen.historySeries = await cards.nth(2).locator('circle.point').count();
  assert.equal(seen.historySeries, 2, 'one point per selected run: their metrics are single values');
  seen.gridlines = await scatter.locator('.grid line').count();
  assert.ok(seen.gridlines > 4);
  seen.axisLabels = await scatter.locator('text.axis-label').allTextContents();

  // Hover a point: the tooltip names the run. On x = train.max_depth no two points overlap.
  await scatter.locator('select').first().selectOption('params.train.max_depth');
  await scatter.locator('circle.point').first().hover();
  const tooltip = page.locator('.chart-tooltip');
  await tooltip.waitFor({ state: 'visible' });
  seen.tooltip = await tooltip.innerText();
  assert.match(seen.tooltip, /^(repro|exp-[0-9a-f]+)\n/);
  await shot('charts-hover');

  // Hide a run from the legend: it leaves every chart.
  await page.locator('.legend-item').first().click();
  seen.scatterPointsAfterHide = await scatter.locator('circle.point').count();
  assert.equal(seen.scatterPointsAfterHide, 2);
  await page.locator('.legend-item').first().click();
  assert.equal(await scatter.locator('circle.point').count(), 3);

  // The comparison of all three: parallel coordinates, params first, the metric last.
  await page.goto(base + '/experiments/' + experiment);
  await page.locator('tr.run input.select').nth(2).check();
  await Promise.all([page.waitForNavigation(), page.locator('#compare').click()]);
  const parallel = page.locator('#compare-charts section').first();
  seen.parallelAxes = await parallel.locator('text.axis-label').allTextContents();
  assert.equal(seen.parallelAxes[0], 'train.max_depth');
  assert.equal(seen.parallelAxes[seen.parallelAxes.length - 1], 'accuracy');
  seen.parallelLines = await parallel.locator('polyline.line').count();
  assert.equal(seen.parallelLines, 3);
  await parallel.locator('polyline.line').first().hover({ force: true });
  await tooltip.waitFor({ state: 'visible' });
  seen.lineTooltip = await tooltip.innerText();
  assert.match(seen.lineTooltip, /accuracy: /);
  seen.legendWraps = await page.locator('.legend').evaluate((el) => getComputedStyle(el).flexWrap);
  assert.equal(seen.legendWraps, 'wrap');
  seen.compareScatter = await page.locator('#compare-charts section').nth(1).locator('circle.point').count();
  assert.equal(seen.compareScatter, 3);
  await shot('compare-charts');
});
