// What the Chromium tests share: checks that print TAP-like lines,
// screenshots into WORK/screenshots, and a headless Chromium whose page
// records every console error, page error and failed request.
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

function check(condition, what) {
  if (!condition) throw new Error(`FAIL: ${what}`);
  console.log(`ok - ${what}`);
}

// openBrowser(work): { browser, page, problems, shot(name) }.
async function openBrowser(work) {
  const shots = path.join(work, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    userDataDir: path.join(work, 'chromium-profile'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  return { browser, page, problems, shot };
}

// run(body): runs the async test body; a failure exits 1 with its message.
function run(body) {
  body().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}

module.exports = { check, openBrowser, run };
