// Shared by the console_*.js scripts: Debian's Chromium driven by playwright-core (never a
// browser download), every request recorded, page errors and console errors collected.
'use strict';

const { chromium } = require('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

async function open(base) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  const page = await context.newPage();
  const seen = { requests: [], pageErrors: [], consoleErrors: [] };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
  page.setDefaultTimeout(15000);
  return { browser, page, seen, base };
}

/** Fails unless every request went to the gateway's own origin. */
function checkOrigin(seen, base) {
  const origin = new URL(base).origin;
  const foreign = seen.requests.filter((u) => new URL(u).origin !== origin && !u.startsWith('data:'));
  if (foreign.length) throw new Error(`requests to other hosts: ${foreign.join(', ')}`);
  if (!seen.requests.length) throw new Error('no request recorded');
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function screenshot(page, name) {
  if (process.env.HUBGATE_CONSOLE_SCREENSHOTS === '1') {
    const dir = process.env.HUBGATE_CONSOLE_SCREENSHOT_DIR;
    await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
  }
}

/** Runs `body(browsing)`, then the origin and error checks, and prints the findings as JSON. */
async function run(base, body) {
  const browsing = await open(base);
  let result;
  try {
    result = await body(browsing);
  } finally {
    await browsing.browser.close();
  }
  checkOrigin(browsing.seen, base);
  check(!browsing.seen.pageErrors.length, `page errors: ${browsing.seen.pageErrors.join(' | ')}`);
  console.log(JSON.stringify({ ...result, requests: browsing.seen.requests.length, consoleErrors: browsing.seen.consoleErrors }));
}

module.exports = { run, check, screenshot };
