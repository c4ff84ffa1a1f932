// A login link opened from another page logs in, and what another port of the
// same host serves never gets the session: a page on another port of 127.0.0.1
// window.open()s the console's link; the console page logs in and takes the
// secret off its address bar; that other port then sees no Cookie and no
// Authorization, and its script's requests to the console carry no session.
//   node browser_login_from_another_page.cjs LOGIN_LINK WORK_DIR CONSOLE_LOG
'use strict';
const fs = require('fs');
const http = require('http');
const { check, openBrowser, run } = require('./browser_lib.cjs');

const [loginLink, work, consoleLog] = process.argv.slice(2);
const consoleOrigin = new URL(loginLink).origin;

// The other service on 127.0.0.1: records the headers of every request it gets.
const seen = [];
const otherPage = `<!DOCTYPE html><title>another service</title>
<button id="open" onclick="window.open(link)">console</button>
<script>
const link = ${JSON.stringify(loginLink)};
async function probe() {
  // Its own origin, and the console's: neither may carry the console's session.
  await fetch('/probe', { credentials: 'include' });
  for (const method of ['GET', 'POST']) {
    await fetch(${JSON.stringify(consoleOrigin)} + '/api/v1/clients', {
      method, mode: 'no-cors', credentials: 'include',
      body: method === 'POST' ? '{"id":"forged"}' : undefined,
    }).catch(() => {});
  }
  return 'done';
}
</script>`;
const server = http.createServer((request, response) => {
  seen.push({ url: request.url, headers: request.headers });
  response.setHeader('Content-Type', 'text/html');
  response.end(request.url === '/' ? otherPage : 'ok');
});

run(async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const other = `http://127.0.0.1:${server.address().port}`;
  const { browser, page } = await openBrowser(work);
  try {
    await page.goto(`${other}/`, { waitUntil: 'load' });
    const opened = new Promise((resolve) => browser.once('targetcreated', resolve));
    await page.click('#open');
    const target = await opened;
    const consolePage = await target.page();
    const problems = [];
    consolePage.on('pageerror', (e) => problems.push(String(e)));
    await consolePage.waitForSelector('#page-status:not(:empty)', { timeout: 10000 });
    check(new URL(consolePage.url()).origin === consoleOrigin, 'the window.open()ed link is the console');
    check(await consolePage.$eval('#list-error', (e) => e.textContent) === '', 'the console page logged in');
    check(new URL(consolePage.url()).hash === '', 'the #login fragment is gone from the address bar');
    check(await consolePage.evaluate(() => document.cookie) === '', 'the console set no cookie');
    check(/^[0-9a-f]{64}$/.test(await consolePage.evaluate(() => sessionStorage.getItem('keyauth-session'))),
      'the session is in the console tab\'s sessionStorage');
    check(fs.readFileSync(consoleLog, 'utf8').includes('login link used; session'), 'the console opened a session');

    // Back on the other port's page, logged in next door.
    const before = fs.readFileSync(consoleLog, 'utf8').length;
    check(await page.evaluate(() => probe()) === 'done', 'the other page probed');
    await page.reload({ waitUntil: 'load' });
    for (const request of seen) {
      check(request.headers.cookie === undefined, `no Cookie sent to the other port (${request.url})`);
      check(request.headers.authorization === undefined, `no Authorization sent to the other port (${request.url})`);
    }
    check(seen.some((r) => r.url === '/probe'), 'the other port saw its page\'s request');
    const after = fs.readFileSync(consoleLog, 'utf8').slice(before);
    check(/GET \/api\/v1\/clients 401/.test(after), `the other page's GET to the console had no session (${after.trim()})`);
    check(/POST \/api\/v1\/clients 40[13]/.test(after), 'the other page\'s POST to the console was refused');
    check(!/POST \/api\/v1\/clients 201/.test(after), 'nothing was made from the other page');

    // The console tab keeps working; the fragment's secret was spent once.
    await consolePage.reload({ waitUntil: 'networkidle0' });
    await consolePage.waitForSelector('#page-status:not(:empty)');
    check(await consolePage.$eval('#list-error', (e) => e.textContent) === '', 'the console tab stays logged in after a reload');
    check(problems.length === 0, `no page errors in the console (${problems.join('; ')})`);
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
});
