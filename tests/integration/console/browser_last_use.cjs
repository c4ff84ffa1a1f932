// The page with keytool serve --last-use, in real headless Chromium: the
// "Last used (at least)" column, and the "unused for more than N days" filter.
//   node browser_last_use.cjs LOGIN_LINK WORK_DIR USED_ID SHOWN_TIME NEVER_USED_ID
'use strict';
const { check, openBrowser, run } = require('./browser_lib.cjs');

const [loginLink, work, usedId, shownTime, neverUsedId] = process.argv.slice(2);

// id -> the row's Last used cell, for the rows shown.
function lastUseCells(page) {
  return page.$$eval('#clients tbody tr', (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.id, r.querySelector('td.last-use')?.textContent])));
}

run(async () => {
  const { browser, page, problems, shot } = await openBrowser(work);
  try {
    await page.goto(loginLink, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#page-status:not(:empty)');
    check(await page.$eval('#last-use-heading', (h) => !h.hidden && h.textContent), 'the column is shown');
    check(await page.$eval('#last-use-heading', (h) => h.textContent) === 'Last used (at least)',
      'the column says "Last used (at least)"');
    const cells = await lastUseCells(page);
    check(cells[usedId] === shownTime, `${usedId} last used ${shownTime} (got ${cells[usedId]})`);
    check(cells[neverUsedId] === 'no record', `${neverUsedId}: no record (got ${cells[neverUsedId]})`);
    check(await page.$eval('#last-use-warning', (w) => w.hidden), 'no warning: every file read');
    await shot('last-use-01-column');

    check(await page.$eval('#unused-filter', (f) => !f.hidden), 'the unused filter is shown');
    await page.type('#unused-days', '1');
    await page.$eval('#unused-days', (input) => input.dispatchEvent(new Event('change')));
    await page.waitForFunction(() => document.querySelectorAll('#clients tbody tr').length === 1);
    const unused = await lastUseCells(page);
    check(Object.keys(unused).join() === neverUsedId, `unused for more than 1 day: ${neverUsedId} alone`);
    check(await page.$eval('#page-status', (s) => s.textContent) === '1\u20131 of 1', 'the pager counts 1');
    await shot('last-use-02-unused');

    await page.$eval('#unused-days', (input) => { input.value = ''; input.dispatchEvent(new Event('change')); });
    await page.waitForFunction(() => document.querySelectorAll('#clients tbody tr').length === 2);
    check(true, 'cleared, the filter lists every client again');
    check(problems.length === 0, `no console errors or failed requests (${problems})`);
  } finally {
    await browser.close();
  }
});
