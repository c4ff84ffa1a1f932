// The page with keytool --etcd serve while a host has stopped publishing its
// last use, in real headless Chromium: a note names the host and when it
// last published, above the "Last used (at least)" column.
//   node browser_stale_hosts.cjs LOGIN_LINK WORK_DIR HOST SHOWN_TIME
'use strict';
const { check, openBrowser, run } = require('./browser_lib.cjs');

const [loginLink, work, host, shownTime] = process.argv.slice(2);

run(async () => {
  const { browser, page, problems, shot } = await openBrowser(work);
  try {
    await page.goto(loginLink, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#page-status:not(:empty)');
    check(await page.$eval('#last-use-heading', (h) => !h.hidden), 'the last-use column is shown');
    check(await page.$eval('#stale-hosts-note', (n) => !n.hidden), 'the stale-hosts note is shown');
    const note = await page.$eval('#stale-hosts-note', (n) => n.textContent);
    check(note.includes(`${host} as of ${shownTime}`), `the note names ${host} as of ${shownTime} (got ${note})`);
    check(note.includes('may show an older last use, or as unused'), 'the note says what it means');
    await shot('stale-hosts-01-note');
    check(problems.length === 0, `no console errors or failed requests (${problems})`);
  } finally {
    await browser.close();
  }
});
