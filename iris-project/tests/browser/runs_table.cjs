// Drives the runs table in headless Chromium through Playwright, as a person would: filter it,
// expand a pipeline run, choose columns, select three runs across a reload and open their
// comparison. Prints one JSON object of what it saw; exits non-zero on the first failure.
'use strict';
const assert = require('node:assert/strict');
const { drive } = require('./session.cjs');

drive(900, async ({ page, shot, seen, base, experiment }) => {
  const runs = base + '/experiments/' + experiment;

  // Filter: the box shows the whole expression, underscores included.
  await page.goto(runs);
  const filter = page.locator('input[name=filter]');
  await filter.fill("params.max_depth = '2' AND metrics.accuracy >= 0");
  const box = await filter.evaluate((el) => ({ client: el.clientHeight, scroll: el.scrollHeight }));
  assert.ok(box.scroll <= box.client, 'the filter box clips its text: ' + JSON.stringify(box));
  await Promise.all([page.waitForNavigation(), filter.press('Enter')]);
  seen.filtered = (await page.locator('p.muted').first().textContent()).trim();
  assert.match(seen.filtered, /^1 run;/);
  await shot('runs-filtered');

  // Expand the pipeline run: its stage runs appear under it, in order.
  await page.goto(runs);
  const pipelineRun = page.locator('tr.run', { has: page.locator('a', { hasText: /^repro$/ }) });
  await pipelineRun.locator('button.expand').click();
  await page.locator('tr.stage').first().waitFor();
  seen.stages = await page.locator('tr.stage td[data-col="attributes.name"]').allTextContents();
  assert.deepEqual(seen.stages, ['prepare', 'train', 'evaluate']);
  await shot('runs-expanded');

  // Choose columns: hide a metric, show a tag; the choice survives a reload.
  await page.locator('details.chooser summary').click();
  await page.locator('.chooser input[data-col="metrics.macro_f1"]').uncheck();
  await page.locator('.chooser input[data-col="tags.mlflow.user"]').check();
  await shot('runs-columns');
  await page.reload();
  seen.macroF1Visible = await page.locator('th[data-col="metrics.macro_f1"]').last().isVisible();
  seen.userVisible = await page.locator('th[data-col="tags.mlflow.user"]').last().isVisible();
  assert.equal(seen.macroF1Visible, false);
  assert.equal(seen.userVisible, true);
  // Numbers are right-aligned.
  seen.accuracyAlign = await page
    .locator('tr.run td[data-col="metrics.accuracy"]')
    .first()
    .evaluate((el) => getComputedStyle(el).textAlign);
  assert.equal(seen.accuracyAlign, 'right');

  // Select three runs; the selection survives a reload; compare opens all three.
  const boxes = page.locator('tr.run input.select');
  assert.equal(await boxes.count(), 3);
  for (let i = 0; i < 3; i++) await boxes.nth(i).check();
  await page.reload();
  seen.selected = (await page.locator('#selected-count').textContent()).trim();
  assert.equal(seen.selected, '3 runs selected');
  await Promise.all([page.waitForNavigation(), page.locator('#compare').click()]);
  seen.compareUrl = page.url();
  assert.equal((seen.compareUrl.match(/runs=/g) || []).length, 3);
  seen.lines = await page.locator('svg polyline').count();
  assert.equal(seen.lines, 3);
  await shot('compare-selected');
});
