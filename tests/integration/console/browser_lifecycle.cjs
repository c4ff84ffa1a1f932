// Issue 17's buttons in real headless Chromium: suspend with confirmation (the
// state column says so, keytool verify refuses the token), filter by state,
// rotate with a grace (the new keys shown once, the old token in its grace),
// resume.
//   node browser_lifecycle.cjs LOGIN_LINK WORK_DIR KEYTOOL
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { check, openBrowser, run } = require('./browser_lib.cjs');

const [loginLink, work, keytool] = process.argv.slice(2);

// keytool verify TOKEN: its one line.
function verdict(token) {
  return spawnSync(keytool, ['verify', token], { encoding: 'utf8' }).stdout.trim();
}

const stateOf = (page, id) => page.$eval(`#clients tbody tr[data-id="${id}"] td.state`, (td) => td.textContent);
const listedIds = (page) => page.$$eval('#clients tbody td.id', (tds) => tds.map((td) => td.textContent));

async function waitForState(page, id, prefix) {
  await page.waitForFunction((id, prefix) => {
    const td = document.querySelector(`#clients tbody tr[data-id="${id}"] td.state`);
    return td !== null && td.textContent.startsWith(prefix);
  }, {}, id, prefix);
}

async function filterBy(page, value, ids) {
  await page.select('#state-filter', value);
  await page.waitForFunction((ids) => {
    const shown = [...document.querySelectorAll('#clients tbody td.id')].map((td) => td.textContent);
    return shown.join(' ') === ids.join(' ');
  }, {}, ids);
}

run(async () => {
  const { browser, page, problems, shot } = await openBrowser(work);
  try {
    await page.goto(loginLink, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#page-status:not(:empty)');
    check((await listedIds(page)).join(' ') === 'app01 app02', 'the table lists app01 and app02');
    check(await stateOf(page, 'app01') === 'active', 'app01 is active');
    const app01 = fs.readFileSync(path.join(work, 'app01_token'), 'utf8').trim();
    const app02 = fs.readFileSync(path.join(work, 'app02_token'), 'utf8').trim();

    // Suspend asks first; Cancel leaves the client alone.
    await page.click('button[aria-label="Suspend app01"]');
    await page.waitForSelector('#suspend-dialog[open]');
    check((await page.$eval('#suspend-text', (p) => p.textContent)).includes('app01'), 'the confirmation names app01');
    await page.click('#suspend-cancel');
    check(await stateOf(page, 'app01') === 'active', 'Cancel leaves app01 active');
    await page.click('button[aria-label="Suspend app01"]');
    await page.waitForSelector('#suspend-dialog[open]');
    await shot('lifecycle-01-confirm-suspend');
    await page.click('#suspend-confirm');
    await waitForState(page, 'app01', 'suspended');
    check(true, 'the state column says suspended');
    check(await page.$('button[aria-label="Resume app01"]') !== null, 'a suspended client has Resume');
    check(verdict(app01) === 'invalid: suspended (client app01)', 'keytool verify refuses app01 as suspended');
    await shot('lifecycle-02-suspended');

    await filterBy(page, 'suspended', ['app01']);
    check(true, 'the state filter shows the suspended client alone');
    await filterBy(page, 'active', ['app02']);
    check(true, 'the state filter shows the active client alone');
    check((await page.$eval('#page-status', (s) => s.textContent)).endsWith('of 1'), 'the count follows the filter');
    await shot('lifecycle-03-filtered');

    // Rotate app02 with a grace of one day: the new keys once.
    await page.click('button[aria-label="Rotate app02"]');
    await page.waitForSelector('#issue-dialog[open]');
    await page.$eval('#issue-grace', (e) => { e.value = ''; });
    await page.type('#issue-grace', 'a week');
    await page.click('#issue-confirm');
    await page.waitForFunction(() => document.getElementById('issue-error').textContent !== '');
    check(true, 'a bad grace is refused in the dialog');
    await page.$eval('#issue-grace', (e) => { e.value = ''; });
    await page.type('#issue-grace', '1d');
    await shot('lifecycle-04-rotate');
    await page.click('#issue-confirm');
    await page.waitForSelector('#result-dialog[open]');
    const files = await page.$$eval('#result-files textarea', (areas) => areas.map((a) => a.value));
    check(files.length === 3, 'the rotation shows three files');
    check(files[1].includes('PRIVATE KEY-----'), 'the new private key');
    check(/^app02:b:[0-9a-f]{64}\n$/.test(files[2]), 'the new token');
    const fresh = files[2].trim();
    check(fresh !== app02, 'the token is new');
    await shot('lifecycle-05-new-keys-once');
    await page.click('#result-close');
    check(await page.$$eval('#result-files textarea', (a) => a.length) === 0, 'the new keys leave the page on close');
    check(verdict(fresh).startsWith('valid: client app02'), 'keytool verify admits the new token');
    check(verdict(app02).startsWith('valid: client app02'), 'the old token still verifies in its grace');
    await waitForState(page, 'app02', 'activein grace until ');
    check(true, 'the state column says in grace until ...');
    await shot('lifecycle-06-in-grace');

    // Back to every client; resume app01.
    await filterBy(page, '', ['app01', 'app02']);
    await page.click('button[aria-label="Resume app01"]');
    await waitForState(page, 'app01', 'active');
    check(verdict(app01).startsWith('valid: client app01'), 'keytool verify admits app01 again');
    check(await page.$('button[aria-label="Suspend app01"]') !== null, 'a resumed client has Suspend');
    await shot('lifecycle-07-resumed');
    fs.writeFileSync(path.join(work, 'app02_new_token'), `${fresh}\n`, { mode: 0o600 });
    check(problems.length === 0, `no console errors or CSP violations (${problems.join('; ')})`);
  } finally {
    await browser.close();
  }
});
