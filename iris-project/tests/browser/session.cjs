// What every browser script shares: Chromium through Playwright with one page, any page error
// or console error failing the run, screenshots by name, and one JSON line of what was seen.
// Usage of a script: node SCRIPT BASE_URL EXPERIMENT_ID SCREENSHOT_DIR (CHROMIUM names the
// browser, NODE_PATH finds playwright-core).
'use strict';
const { chromium } = require('playwright-core');
const assert = require('node:assert/strict');
const path = require('node:path');

/** Runs `steps({ page, shot, seen, base, experiment })` on a page `height` pixels high; exits
 *  non-zero on the first failure, printing what was seen so far. */
function drive(height, steps) {
  const [base, experiment, shots] = process.argv.slice(2);
  const seen = {};
  (async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height } });
      const problems = [];
      page.on('pageerror', (e) => problems.push('page error: ' + e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push('console: ' + m.text());
      });
      const shot = (name) =>
        page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
      await steps({ page, shot, seen, base, experiment });
      assert.deepEqual(problems, [], 'the pages ran without errors or policy violations');
      console.log(JSON.stringify(seen));
    } finally {
      await browser.close();
    }
  })().catch((e) => {
    console.error(e.stack || String(e));
    console.error('seen so far: ' + JSON.stringify(seen));
    process.exit(1);
  });
}

module.exports = { drive };
