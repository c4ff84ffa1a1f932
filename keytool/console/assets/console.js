// The console's page: it talks only to the JSON API under /api/v1.
'use strict';

const SOON_SECONDS = 30 * 86400;
const MONTHS_SHOWN = 12;
// The session token lives in this tab's sessionStorage and travels only in the
// Authorization header: no cookie, nothing a browser sends by itself.
const SESSION_KEY = 'keyauth-session';
const state = { offset: 0, limit: 50, q: '', expiring: '', filter: '', unused: '', sort: 'id', descending: false, total: 0, zip: null };

const $ = (id) => document.getElementById(id);

async function request(method, path, body, accept) {
  const headers = { 'Accept': accept };
  const session = sessionStorage.getItem(SESSION_KEY);
  if (session) headers['Authorization'] = `Bearer ${session}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'omit', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    sessionStorage.removeItem(SESSION_KEY);
    document.body.classList.add('logged-out');
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error || `HTTP ${response.status}`);
  }
  return response;
}

async function api(method, path, body) {
  const response = await request(method, path, body, 'application/json');
  return response.json().catch(() => ({}));
}

// The login link is /#login=SECRET: the fragment never leaves the browser. The
// secret is exchanged once for the session token, then taken off the address bar.
async function logIn() {
  const match = /^#login=([0-9a-f]{64})$/.exec(window.location.hash);
  if (!match) return;
  try {
    const opened = await api('POST', '/api/v1/session', { login: match[1] });
    sessionStorage.setItem(SESSION_KEY, opened.session);
    document.body.classList.remove('logged-out');
  } finally {
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function downloadCa() {
  try {
    const response = await request('GET', '/api/v1/ca.pem', undefined, 'application/x-pem-file');
    saveBlob(await response.blob(), 'ca_cert.pem');
  } catch (error) {
    $('list-error').textContent = error.message;
  }
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

// "2026-11-30 05:45:00 +0000 UTC" -> "2026-11-30 05:45 UTC"
function shortTime(seed) {
  return seed.replace(/:\d\d \+0000 UTC$/, ' UTC');
}

// last_used: Unix seconds -> "2026-11-30 05:45 UTC"; null: no record.
function lastUseText(seconds) {
  if (seconds === null) return 'no record';
  const at = new Date(seconds * 1000);
  if (isNaN(at.getTime())) return 'invalid';
  return at.toISOString().replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d).*$/, '$1 $2 UTC');
}

// The servers' last-use records, when keytool serve was given them (--last-use):
// the column, the filter, and which files could not be read again.
function showLastUse(page) {
  const given = Array.isArray(page.last_use_errors);
  $('last-use-heading').hidden = !given;
  $('unused-filter').hidden = !given;
  const warning = $('last-use-warning');
  warning.hidden = !given || page.last_use_errors.length === 0;
  warning.textContent = warning.hidden ? ''
    : `Last use shown as last read; cannot read again: ${page.last_use_errors.join('; ')}`;
  // Hosts that stopped publishing (keytool --etcd serve): their last use is as of then.
  // null: the markers could not be read, so no host could be judged (unknown, not none).
  const unjudged = page.stale_hosts === null;
  const stale = Array.isArray(page.stale_hosts) ? page.stale_hosts : [];
  const note = $('stale-hosts-note');
  note.hidden = !given || (!unjudged && stale.length === 0);
  note.textContent = note.hidden ? ''
    : unjudged ? 'Whether a host stopped publishing is not known (its publish marker not readable): a client used on such a host may show an older last use, or as unused.'
    : 'Last use may be out of date: ' + stale.map((host) => `${host.host} as of ${host.published_at === null ? 'an unknown time (no publish marker)' : lastUseText(host.published_at)}`).join(', ')
      + '. Clients used there since may show an older last use, or as unused.';
  return given;
}

async function loadClients() {
  const sort = (state.descending ? '-' : '') + state.sort;
  const query = new URLSearchParams({ offset: state.offset, limit: state.limit, sort });
  if (state.q) query.set('q', state.q);
  if (state.expiring) query.set('expiring', state.expiring);
  if (state.filter) query.set('state', state.filter);
  if (state.unused) query.set('unused', state.unused);
  let page;
  try {
    page = await api('GET', `/api/v1/clients?${query}`);
    $('list-error').textContent = '';
  } catch (error) {
    $('list-error').textContent = error.message;
    return;
  }
  state.total = page.total;
  const withLastUse = showLastUse(page);
  const body = $('clients').tBodies[0];
  body.replaceChildren();
  for (const client of page.clients) {
    const row = document.createElement('tr');
    const soon = client.state === 'active' && client.not_after - page.now < SOON_SECONDS;
    if (soon) row.classList.add('expiring-soon');
    if (client.state === 'expired') row.classList.add('expired');
    if (client.state === 'suspended') row.classList.add('suspended');
    row.dataset.id = client.id;
    row.append(text('td', client.id, 'id'));
    const status = text('td', client.state, 'state');
    if (soon) status.append(text('span', 'expires soon', 'badge'));
    // A rotated client: its replaced token and certificate still work until then.
    if (client.previous_not_after !== undefined && client.previous_not_after >= page.now) {
      status.append(text('span', `in grace until ${shortTime(client.previous_valid_until)}`, 'badge grace'));
    }
    row.append(status, text('td', shortTime(client.valid_from)), text('td', shortTime(client.expire)));
    if (withLastUse) row.append(text('td', lastUseText(client.last_used), client.last_used === null ? 'last-use never' : 'last-use'));
    const actions = document.createElement('td');
    actions.append(
      actionButton('Rotate', client.id, () => openRotate(client.id)),
      client.suspended
        ? actionButton('Resume', client.id, () => resume(client.id))
        : actionButton('Suspend', client.id, () => confirmSuspend(client.id)),
      actionButton('Delete', client.id, () => confirmDelete(client.id)));
    row.append(actions);
    body.append(row);
  }
  const first = page.total === 0 ? 0 : state.offset + 1;
  const last = state.offset + page.clients.length;
  $('page-status').textContent = `${first}\u2013${last} of ${page.total}`;
  $('previous-page').disabled = state.offset === 0;
  $('next-page').disabled = last >= page.total;
}

function actionButton(label, id, onClick) {
  const button = text('button', label);
  button.type = 'button';
  button.setAttribute('aria-label', `${label} ${id}`);
  button.addEventListener('click', onClick);
  return button;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attributes, content) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (content !== undefined) element.textContent = content;
  return element;
}

async function loadChart() {
  let calendar;
  try {
    calendar = await api('GET', `/api/v1/expiry-calendar?months=${MONTHS_SHOWN}`);
  } catch (error) {
    $('chart-summary').textContent = error.message;
    return;
  }
  const bars = [{ label: 'expired', count: calendar.expired, expired: true }]
    .concat(calendar.months.map((m) => ({ label: m.month, count: m.count })))
    .concat([{ label: 'later', count: calendar.later }]);
  const chart = $('expiry-chart');
  chart.replaceChildren();
  const width = 760, height = 220, top = 18, bottom = 36, left = 8;
  const slot = (width - left) / bars.length;
  const highest = Math.max(1, ...bars.map((b) => b.count));
  chart.append(svg('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: 'axis' }));
  bars.forEach((bar, i) => {
    const h = Math.round((height - top - bottom) * bar.count / highest);
    const x = left + i * slot + slot * 0.15;
    const rect = svg('rect', {
      x, y: height - bottom - h, width: slot * 0.7, height: h, class: bar.expired ? 'bar expired' : 'bar',
    });
    rect.append(svg('title', {}, `${bar.label}: ${bar.count}`));
    chart.append(rect);
    chart.append(svg('text', { x: x + slot * 0.35, y: height - bottom - h - 4, 'text-anchor': 'middle' }, String(bar.count)));
    chart.append(svg('text', { x: x + slot * 0.35, y: height - bottom + 16, 'text-anchor': 'middle' }, bar.label));
  });
  const coming = calendar.months.reduce((sum, m) => sum + m.count, 0);
  $('chart-summary').textContent =
    `${coming} end in the next ${MONTHS_SHOWN} months, ${calendar.expired} already ended, ${calendar.later} later.`;
}

function refresh() {
  loadClients();
  loadChart();
}

function defaultExpiry() {
  const date = new Date();
  date.setUTCFullYear(date.getUTCFullYear() + 3);
  return date.toISOString().slice(0, 10);
}

// Generate and rotate share one dialog: mode says which, pendingRotate whom.
let issueMode = 'generate';
let pendingRotate = '';
function openIssue(mode, id) {
  issueMode = mode;
  pendingRotate = id || '';
  const rotating = mode === 'rotate';
  $('issue-form').reset();
  $('issue-title').textContent = rotating ? `Rotate ${id}` : 'New client';
  $('issue-text').textContent = rotating
    ? `New keys for ${id}, shown once. The current token and certificate keep working for the grace, then stop.`
    : '';
  $('client-id-field').hidden = rotating;
  $('grace-field').hidden = !rotating;
  $('issue-confirm').textContent = rotating ? 'Rotate' : 'Generate';
  if (rotating) $('issue-grace').value = '7d';
  $('issue-expire').value = defaultExpiry();
  $('issue-expire').min = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  $('issue-error').textContent = '';
  $('issue-dialog').showModal();
  $(rotating ? 'issue-grace' : 'client-id').focus();
}

function openGenerate() {
  openIssue('generate');
}

function openRotate(id) {
  openIssue('rotate', id);
}

// A dialog's field checked first, then the new keys shown once.
async function issueFromDialog(field, refusal, path, body) {
  if (!$(field).checkValidity()) {
    $('issue-error').textContent = refusal;
    $(field).focus();
    return;
  }
  $('issue-confirm').disabled = true;
  try {
    const issued = await api('POST', path, body);
    $('issue-dialog').close();
    showResult(issued);
    refresh();
  } catch (error) {
    $('issue-error').textContent = error.message;
  } finally {
    $('issue-confirm').disabled = false;
  }
}

function issue(event) {
  event.preventDefault();
  const expire = $('issue-expire').value;
  if (issueMode === 'rotate') {
    issueFromDialog('issue-grace', 'Grace: a whole number with s, m, h or d (7d, 12h), or 0.',
      `/api/v1/clients/${encodeURIComponent(pendingRotate)}/rotate`,
      { grace: $('issue-grace').value.trim(), expire });
  } else {
    issueFromDialog('client-id', 'Client Id: 1 to 64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit.',
      '/api/v1/clients', { id: $('client-id').value.trim(), expire });
  }
}

// The files are shown once and dropped from the page when the dialog closes.
function showResult(issued) {
  $('result-title').textContent = `Keys for ${issued.id}`;
  // Registered, but the servers refuse these keys until the registry is published.
  $('result-warning').textContent = issued.warning || '';
  $('result-warning').hidden = !issued.warning;
  const files = $('result-files');
  files.replaceChildren();
  for (const file of issued.files) {
    const box = document.createElement('div');
    box.className = 'file';
    const head = document.createElement('div');
    head.className = 'file-head';
    const areaId = `file-${file.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const label = text('label', `${file.name} (mode ${file.mode})`);
    label.htmlFor = areaId;
    const copy = text('button', 'Copy');
    copy.type = 'button';
    copy.setAttribute('aria-label', `Copy ${file.name}`);
    const area = document.createElement('textarea');
    area.id = areaId;
    area.readOnly = true;
    area.rows = file.name.endsWith('_token') ? 2 : 6;
    area.value = file.contents;
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(area.value);
        copy.textContent = 'Copied';
      } catch {
        area.select();
        copy.textContent = 'Press Ctrl+C';
      }
    });
    head.append(label, copy);
    box.append(head, area);
    files.append(box);
  }
  state.zip = issued.zip;
  $('download-zip').textContent = `Download ${issued.zip.name}`;
  $('result-dialog').showModal();
  $('download-zip').focus();
}

function downloadZip() {
  if (!state.zip) return;
  const bytes = Uint8Array.from(atob(state.zip.base64), (c) => c.charCodeAt(0));
  saveBlob(new Blob([bytes], { type: 'application/zip' }), state.zip.name);
}

function closeResult() {
  $('result-files').replaceChildren();
  state.zip = null;
  $('result-dialog').close();
  $('new-client').focus();
}

let pendingDelete = '';
function confirmDelete(id) {
  pendingDelete = id;
  $('delete-text').textContent = `Delete client ${id}? Its token and certificate stop working at once.`;
  $('delete-dialog').showModal();
  $('delete-cancel').focus();
}

async function deleteConfirmed() {
  const id = pendingDelete;
  $('delete-dialog').close();
  try {
    await api('DELETE', `/api/v1/clients/${encodeURIComponent(id)}`);
  } catch (error) {
    $('list-error').textContent = error.message;
  }
  refresh();
}

let pendingSuspend = '';
function confirmSuspend(id) {
  pendingSuspend = id;
  $('suspend-text').textContent =
    `Suspend client ${id}? Its token and certificate are refused until it is resumed; nothing is deleted.`;
  $('suspend-dialog').showModal();
  $('suspend-cancel').focus();
}

async function setSuspended(id, suspended) {
  try {
    await api('POST', `/api/v1/clients/${encodeURIComponent(id)}/${suspended ? 'suspend' : 'resume'}`);
  } catch (error) {
    $('list-error').textContent = error.message;
  }
  refresh();
}

function suspendConfirmed() {
  $('suspend-dialog').close();
  setSuspended(pendingSuspend, true);
}

function resume(id) {
  setSuspended(id, false);
}

function sortBy(column) {
  if (state.sort === column) {
    state.descending = !state.descending;
  } else {
    state.sort = column;
    state.descending = false;
  }
  for (const button of document.querySelectorAll('th button[data-sort]')) {
    const th = button.parentElement;
    if (button.dataset.sort === state.sort) {
      th.setAttribute('aria-sort', state.descending ? 'descending' : 'ascending');
    } else {
      th.removeAttribute('aria-sort');
    }
  }
  state.offset = 0;
  loadClients();
}

let searchTimer = 0;
function searchChanged() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.q = $('search').value.trim();
    state.offset = 0;
    loadClients();
  }, 250);
}

async function start() {
  try {
    await logIn();
    if (!sessionStorage.getItem(SESSION_KEY)) throw new Error('Log in with the link keytool serve printed.');
  } catch (error) {
    document.body.classList.add('logged-out');
    $('list-error').textContent = error.message;
    return;
  }
  $('ca-download').addEventListener('click', downloadCa);
  $('new-client').addEventListener('click', openGenerate);
  $('issue-form').addEventListener('submit', issue);
  $('issue-cancel').addEventListener('click', () => $('issue-dialog').close());
  $('download-zip').addEventListener('click', downloadZip);
  $('result-close').addEventListener('click', closeResult);
  $('result-dialog').addEventListener('cancel', () => $('result-files').replaceChildren());
  $('delete-confirm').addEventListener('click', deleteConfirmed);
  $('suspend-confirm').addEventListener('click', suspendConfirmed);
  $('suspend-cancel').addEventListener('click', () => $('suspend-dialog').close());
  $('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
  $('logout').addEventListener('click', async () => {
    await api('POST', '/api/v1/logout').catch(() => {});
    sessionStorage.removeItem(SESSION_KEY);
    document.body.replaceChildren(text('p', 'Logged out. Restart keytool serve for a new login link.'));
  });
  for (const button of document.querySelectorAll('th button[data-sort]')) {
    button.addEventListener('click', () => sortBy(button.dataset.sort));
  }
  $('search').addEventListener('input', searchChanged);
  $('expiring').addEventListener('change', () => {
    state.expiring = $('expiring').value;
    state.offset = 0;
    loadClients();
  });
  $('state-filter').addEventListener('change', () => {
    state.filter = $('state-filter').value;
    state.offset = 0;
    loadClients();
  });
  $('unused-days').addEventListener('change', () => {
    const days = $('unused-days').value.trim();
    if (days && !$('unused-days').checkValidity()) {
      $('list-error').textContent = 'Unused for more than: a whole number of days from 1 to 36500.';
      return;
    }
    state.unused = days ? `${days}d` : '';
    state.offset = 0;
    loadClients();
  });
  $('page-size').addEventListener('change', () => {
    state.limit = Number($('page-size').value);
    state.offset = 0;
    loadClients();
  });
  $('previous-page').addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - state.limit);
    loadClients();
  });
  $('next-page').addEventListener('click', () => {
    state.offset += state.limit;
    loadClients();
  });
  refresh();
}

document.addEventListener('DOMContentLoaded', start);
