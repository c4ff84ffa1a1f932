// The seed's flow in real headless Chromium: log in with the link, generate a
// client, copy and download its files, use the token through nginx, delete it.
//   node browser_console.cjs LOGIN_LINK WORK_DIR PROTECTED_URL
'use strict';
const fs = require('fs');
const path = require('path');
const { check, openBrowser, run } = require('./browser_lib.cjs');

const [loginLink, work, protectedUrl] = process.argv.slice(2);
const downloads = path.join(work, 'downloads');
fs.mkdirSync(downloads, { recursive: true });

async function waitForFile(file, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.existsSync(file) && fs.statSync(file).size > 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function bearerStatus(token) {
  const response = await fetch(protectedUrl, { headers: { Authorization: `Bearer ${token}` } });
  return response.status;
}

run(async () => {
  const { browser, page, problems, shot } = await openBrowser(work);
  try {
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });

    await page.goto(loginLink, { waitUntil: 'networkidle0' });
    check(new URL(page.url()).pathname === '/', 'the login link lands on the page');
    check(!page.url().includes('#login') && new URL(page.url()).hash === '', 'the secret is gone from the address bar');
    check(await page.evaluate(() => document.cookie) === '', 'no cookie');
    check(/^[0-9a-f]{64}$/.test(await page.evaluate(() => sessionStorage.getItem('keyauth-session'))),
      'the session is in sessionStorage');
    await page.waitForSelector('#page-status:not(:empty)');
    const before = await page.$$eval('#clients tbody tr', (rows) => rows.length);
    check(before === 1, 'the table lists the one client made by keytool');
    check(await page.$eval('#last-use-heading', (h) => h.hidden), 'no Last used column without --last-use');
    check(await page.$eval('#unused-filter', (f) => f.hidden), 'no unused filter without --last-use');
    check(await page.$$eval('#expiry-chart rect', (r) => r.length) === 14, 'the chart has 12 months, expired and later');
    await shot('01-logged-in');

    // Keyboard and labels: every field has a label; Tab reaches the buttons.
    const unlabelled = await page.$$eval('input, select, textarea',
      (fields) => fields.filter((f) => f.labels.length === 0).map((f) => f.id));
    check(unlabelled.length === 0, `every input has a label (${unlabelled})`);
    const reached = new Set();
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent));
    }
    for (const id of ['new-client', 'ca-download', 'logout', 'search', 'expiring', 'page-size']) {
      check(reached.has(id), `Tab reaches #${id}`);
    }

    // +, Client Id, validity defaulting to today + 3 years, Generate.
    await page.focus('#new-client');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#issue-dialog[open]');
    const expected = new Date();
    expected.setUTCFullYear(expected.getUTCFullYear() + 3);
    check(await page.$eval('#issue-expire', (e) => e.value) === expected.toISOString().slice(0, 10),
      'validity defaults to today + 3 years');
    check(await page.evaluate(() => document.activeElement.id) === 'client-id', 'the Client Id field has the focus');
    await page.keyboard.type('bad/id');
    await page.click('#issue-confirm');
    await page.waitForFunction(() => document.getElementById('issue-error').textContent !== '');
    check(true, 'a bad Client Id is refused in the dialog');
    await page.$eval('#client-id', (e) => { e.value = ''; });
    await page.type('#client-id', 'webapp01');
    await shot('02-generate');
    await page.click('#issue-confirm');
    await page.waitForSelector('#result-dialog[open]');
    const files = await page.$$eval('#result-files textarea',
      (areas) => areas.map((a) => ({ label: a.labels[0].textContent, value: a.value })));
    check(files.length === 3, 'three files are shown');
    check(files[0].value.startsWith('-----BEGIN CERTIFICATE-----'), 'the certificate');
    check(files[1].value.includes('PRIVATE KEY-----'), 'the private key');
    check(/^webapp01:b:[0-9a-f]{64}\n$/.test(files[2].value), 'the token');
    check(await page.$$eval('#result-files button', (b) => b.length) === 3, 'a copy button per file');
    const token = files[2].value.trim();
    fs.writeFileSync(path.join(work, 'webapp01_token'), `${token}\n`, { mode: 0o600 });
    await shot('03-keys-once');

    await page.click('#download-zip');
    check(await waitForFile(path.join(downloads, 'webapp01.zip'), 10000), 'Download *.zip saves webapp01.zip');

    check(await bearerStatus(token) === 200, 'nginx admits the new token');
    await page.click('#result-close');
    check(await page.$$eval('#result-files textarea', (a) => a.length) === 0, 'the keys leave the page on close');

    // Ending within 30 days: none of the two (both end in three years).
    await page.select('#expiring', '30d');
    await page.waitForFunction(() => document.getElementById('page-status').textContent.endsWith('of 0'));
    check(true, 'the expiring filter leaves out clients ending later');
    await page.select('#expiring', '');

    // Search, then delete with confirmation.
    await page.type('#search', 'webapp');
    await page.waitForFunction(() => document.querySelectorAll('#clients tbody tr').length === 1 &&
      document.querySelector('#clients tbody td.id').textContent === 'webapp01');
    check(true, 'the search finds webapp01');
    await shot('04-search');
    await page.click('button[aria-label="Delete webapp01"]');
    await page.waitForSelector('#delete-dialog[open]');
    await shot('05-confirm-delete');
    await page.click('#delete-confirm');
    await page.waitForFunction(() => document.getElementById('page-status').textContent.endsWith('of 0'));
    check(await bearerStatus(token) === 401, 'nginx refuses the deleted token');
    await shot('06-deleted');

    // The CA certificate link downloads ca_cert.pem.
    await page.$eval('#search', (e) => { e.value = ''; });
    await page.click('#ca-download');
    check(await waitForFile(path.join(downloads, 'ca_cert.pem'), 10000), 'the CA certificate downloads');
    check(problems.length === 0, `no console errors or CSP violations (${problems.join('; ')})`);
  } finally {
    await browser.close();
  }
});
