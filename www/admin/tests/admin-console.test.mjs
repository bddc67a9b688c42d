// The admin console in headless Chromium against a real `embedgate serve`
// (binary from EMBEDGATE_BIN, store in a temp dir, a tiny backend).
//
// - `/` on the admin listener redirects to the console;
// - an admin creates a secret and reads its one-time value, renames,
//   searches, deactivates (a URL signed with it then gets 403 from the
//   public listener), reactivates, deletes, reads the history;
// - at 1280 px and at 420 px: edits a secret's environment, scopes and
//   expiry (each checked against the public listener), reads the owner and
//   the 24-hour chart; stores a credential with an expiry, edits it, replaces
//   the value keeping it, clears it; manages admin tokens (list, create with
//   the one-time value, revoke; the last owner token is refused; revoking
//   one's own token signs out); a viewer sees no write button and an admin
//   no token page.
//
// Every screen is checked for sideways overflow and clipped content, and
// saved to target/console-screenshots/<name>-<width>.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = process.env.EMBEDGATE_BIN || join(ROOT, 'target/debug/embedgate');
const SHOTS = join(ROOT, 'target/console-screenshots');
const HOST = 'embed.test';
const MASTER_KEY = randomBytes(32).toString('base64');
const WIDTHS = [1280, 420];

let dir, backend, proxy, browser, publicAddr, adminAddr, ownerToken;

function waitForLines(child, patterns, ms = 20000) {
  return new Promise((ok, fail) => {
    const found = {};
    let out = '';
    const timer = setTimeout(() => fail(new Error(`embedgate serve did not start:\n${out}`)), ms);
    const onData = (d) => {
      out += d;
      for (const [k, re] of Object.entries(patterns)) {
        const m = out.match(re);
        if (m) found[k] = m[1];
      }
      if (Object.keys(found).length === Object.keys(patterns).length) {
        clearTimeout(timer);
        ok(found);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => fail(new Error(`embedgate serve exited (${code}):\n${out}`)));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'embedgate-admin-'));
  backend = createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('dashboard'); });
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  const cfg = join(dir, 'embedgate.toml');
  writeFileSync(cfg, `
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[store]
url = "sqlite://${join(dir, 'store.db')}"

[verify]
public_host = "${HOST}"

[[routes]]
prefix = "/d/"
upstream = "http://127.0.0.1:${backend.address().port}"
# The tests read a verified URL's answer (200) rather than follow a redirect.
on_success = "forward"
`);
  proxy = spawn(BIN, ['serve', '--config', cfg], {
    env: { ...process.env, EMBEDGATE_MASTER_KEY: MASTER_KEY, EMBEDGATE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The first start writes the owner token to a file (mode 0600) and
  // prints only the file's path.
  const got = await waitForLines(proxy, {
    tokenFile: /first admin token .* it is in (\S+) \(mode 0600\)/,
    pub: /listening on (\S+)/,
    admin: /admin on (\S+)/,
  });
  ownerToken = readFileSync(got.tokenFile, 'utf8').trim();
  assert.match(ownerToken, /^egadm_[A-Za-z0-9_-]+$/);
  publicAddr = got.pub;
  adminAddr = got.admin;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (proxy && proxy.exitCode === null) {
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
  }
  await new Promise((r) => (backend ? backend.close(r) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

function signUrl(kid, secret, path) {
  const r = spawnSync(BIN, ['sign', '--kid', kid, '--sub', 'alice', '--ttl', '120', `https://${HOST}${path}`], {
    env: { ...process.env, EMBEDGATE_SECRET: secret }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().replace(`https://${HOST}`, '');
}

function publicGet(pathAndQuery) {
  // Node's fetch forbids setting Host; use http.request.
  const [host, port] = publicAddr.split(':');
  return new Promise((ok, fail) => {
    const req = request({ host, port, path: pathAndQuery, headers: { host: HOST } }, (res) => {
      res.resume();
      res.on('end', () => ok({ status: res.statusCode, reason: res.headers['embedgate-reason'] }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function apiCall(method, path, token, body) {
  const res = await fetch(`http://${adminAddr}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, role: res.headers.get('embedgate-role'), body: await res.json().catch(() => null) };
}

async function newToken(name, role) {
  const r = await apiCall('POST', '/tokens', ownerToken, { name, role });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.value;
}

async function openConsole(width) {
  const context = await browser.newContext({ viewport: { width, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://${adminAddr}` });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { context, page, errors };
}

async function signIn(page, token) {
  await page.goto(`http://${adminAddr}/admin/`);
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#view-secrets:not([hidden])');
}

// Nothing reaches past the window's right edge (no sideways scrolling), and
// no box hides content it cuts off (text shortened with an ellipsis is
// fine: its full text is in the box's title or one click away).
async function assertFits(page, what) {
  const r = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${typeof e.className === 'string' && e.className ? `.${e.className.trim().split(/\s+/).join('.')}` : ''}`;
    const bad = [];
    for (const e of document.querySelectorAll('body *')) {
      if (!e.getClientRects().length) continue; // not rendered
      if (e.closest('svg') && e.tagName.toLowerCase() !== 'svg') continue;
      const b = e.getBoundingClientRect();
      if (b.width > 0 && (b.right > vw + 1 || b.left < -1)) bad.push(`${name(e)} spans ${Math.round(b.left)}..${Math.round(b.right)} of ${vw}`);
      const cs = getComputedStyle(e);
      if (cs.overflowX !== 'visible' && cs.textOverflow !== 'ellipsis' && e.scrollWidth > e.clientWidth + 1) {
        bad.push(`${name(e)} clips ${e.scrollWidth} px of content to ${e.clientWidth}`);
      }
    }
    return { vw, scroll: document.documentElement.scrollWidth, bad };
  });
  assert.ok(r.scroll <= r.vw, `${what}: the page scrolls sideways (${r.scroll} > ${r.vw})`);
  assert.deepEqual(r.bad.slice(0, 8), [], `${what}: overflow or clipping`);
}

async function shoot(page, name) {
  const width = page.viewportSize().width;
  // A modal's backdrop covers the viewport only: shoot what a person sees.
  const modal = await page.evaluate(() => !!document.querySelector('dialog[open]'));
  await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: !modal });
  await assertFits(page, `${name} at ${width} px`);
}

// `datetime-local` text for Unix seconds, in this machine's zone (the
// browser's too).
function localInput(t) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const row = (page, table, name) => page.locator(`#${table}-table tbody tr[data-name="${name}"]`);
const waitText = (page, selector, text) => page.waitForFunction(
  ([s, t]) => document.querySelector(s)?.textContent.trim() === t, [selector, text], { timeout: 10000 });
const cell = (table, name, testid) => `#${table}-table tr[data-name="${name}"] [data-testid=${testid}]`;

async function history(page, table, name) {
  await row(page, table, name).locator('[data-action=history]').click();
  await page.waitForSelector('#dlg-history[open]');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length > 0);
  return page.$$eval('#history-table tbody tr .action', (els) => els.map((e) => e.textContent));
}

// ---------------------------------------------------------------- tests

test('GET / on the admin listener redirects to the console', async () => {
  for (const method of ['GET', 'HEAD']) {
    const res = await fetch(`http://${adminAddr}/`, { method, redirect: 'manual' });
    assert.equal(res.status, 302, method);
    assert.equal(res.headers.get('location'), '/admin/', method);
  }
  assert.equal((await fetch(`http://${adminAddr}/`, { method: 'POST', redirect: 'manual' })).status, 405);
  // A browser opening the bare address lands on the sign-in form.
  const { context, page } = await openConsole(1280);
  await page.goto(`http://${adminAddr}/`);
  assert.equal(new URL(page.url()).pathname, '/admin/');
  await page.waitForSelector('#signin:not([hidden])');
  await context.close();
});

test('an admin manages an embed secret end to end in the console', async () => {
  const { context, page, errors } = await openConsole(1280);

  // A wrong token is refused.
  await page.goto(`http://${adminAddr}/admin/`);
  await page.fill('#token', 'egadm_not-a-real-token');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-error:not([hidden])');
  errors.length = 0; // the refused sign-in logs its 401

  await signIn(page, ownerToken);
  assert.equal(await page.textContent('#who-role'), 'owner');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('embedgate.adminToken')?.startsWith('egadm_')), true);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  assert.equal((await context.cookies()).length, 0, 'no cookie carries the token');

  // Create a secret; the one-time value is shown with a warning.
  await page.click('#add-secret');
  await page.fill('#add-form [name=name]', 'sales-dashboard');
  await page.fill('#add-form [name=description]', 'Embedded sales board for the customer portal');
  await page.fill('#add-form [name=environment]', 'production');
  await page.fill('#add-form [name=scopes]', '/d/');
  await page.click('#add-submit');
  await page.waitForSelector('#add-result:not([hidden])');
  const value = (await page.textContent('#new-value')).trim();
  const kid = (await page.textContent('#new-client-id')).trim();
  assert.match(value, /^[A-Za-z0-9]{32}$/);
  assert.match(kid, /^ek_[a-z2-7]{16}$/);
  assert.match(await page.textContent('#add-result .warning'), /will not be shown again/);
  await page.click('#copy-value');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
  await shoot(page, 'add-dialog-one-time-value');
  await page.click('#add-done');
  assert.equal(await page.textContent('#new-value'), '', 'the value is forgotten when the dialog closes');

  // A second secret, so search has something to filter out.
  await page.click('#add-secret');
  await page.fill('#add-form [name=name]', 'ops-overview');
  await page.fill('#add-form [name=environment]', 'staging');
  await page.click('#add-submit');
  await page.waitForSelector('#add-result:not([hidden])');
  await page.click('#add-done');

  // A signed URL works, and shows up in the 24-hour chart.
  assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);

  // Rename, in the edit dialog.
  await row(page, 'secrets', 'sales-dashboard').locator('[data-action=edit]').click();
  await page.fill('#edit-form [name=name]', 'sales-dashboard-v2');
  await page.click('#edit-ok');
  await row(page, 'secrets', 'sales-dashboard-v2').waitFor();

  // Search.
  await page.fill('#search', 'v2');
  await page.waitForFunction(() => document.querySelectorAll('#secrets-table tbody tr').length === 1);
  assert.equal(await row(page, 'secrets', 'sales-dashboard-v2').count(), 1);
  assert.equal(await row(page, 'secrets', 'ops-overview').count(), 0);
  await page.fill('#search', '');
  await page.waitForFunction(() => document.querySelectorAll('#secrets-table tbody tr').length === 2);
  await waitText(page, cell('secrets', 'sales-dashboard-v2', 'usage-total'), '1');

  // Deactivate: a URL signed with it now gets 403 from the proxy.
  await row(page, 'secrets', 'sales-dashboard-v2').locator('[data-action=deactivate]').click();
  await waitText(page, cell('secrets', 'sales-dashboard-v2', 'status'), 'inactive');
  const refused = await publicGet(signUrl(kid, value, '/d/sales'));
  assert.equal(refused.status, 403);
  assert.equal(refused.reason, 'key_inactive');

  // Reactivate: it verifies again.
  await row(page, 'secrets', 'sales-dashboard-v2').locator('[data-action=activate]').click();
  await waitText(page, cell('secrets', 'sales-dashboard-v2', 'status'), 'active');
  assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);

  // History shows every change with the token's name as the actor.
  assert.deepEqual(await history(page, 'secrets', 'sales-dashboard-v2'), ['create', 'rename', 'deactivate', 'activate']);
  const actors = await page.$$eval('#history-table tbody tr td:nth-child(3)', (els) => els.map((e) => e.textContent));
  assert.ok(actors.every((a) => a === 'owner'), actors.join());
  await shoot(page, 'history');
  await page.click('#history-close');

  // Delete asks first, and says what happens.
  await row(page, 'secrets', 'sales-dashboard-v2').locator('[data-action=delete]').click();
  assert.match(await page.textContent('#confirm-text'), /every URL and every session signed with it will get 403/i);
  await page.click('#confirm-ok');
  await page.waitForFunction(() => !document.querySelector('#secrets-table tr[data-name="sales-dashboard-v2"]'));
  assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 403);

  // The change log tab shows the deletion.
  await page.click('.tab[data-tab=audit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table .action')].some((e) => e.textContent === 'delete'));
  await shoot(page, 'change-log');

  // Credentials: store a value, replace it; it is never shown.
  await page.click('.tab[data-tab=credentials]');
  await page.click('#add-credential');
  await page.fill('#cred-form [name=name]', 'grafana-api');
  await page.fill('#cred-form [name=value]', 'glsa_credential_value_never_shown_123');
  await page.click('#cred-submit');
  const cred = row(page, 'credentials', 'grafana-api');
  await cred.waitFor();
  await cred.locator('[data-action=replace]').click();
  await page.fill('#cred-form [name=value]', 'glsa_replacement_value_never_shown_456');
  await page.click('#cred-submit');
  await page.waitForFunction(() => document.querySelector('#credentials-table tr[data-name="grafana-api"]')?.textContent.includes('v2'));
  const html = await page.content();
  assert.ok(!html.includes('never_shown'), 'no credential value in the page');

  assert.deepEqual(errors, []);
  await context.close();
});

for (const width of WIDTHS) {
  test(`${width} px: edit a secret's environment, scopes and expiry; owner; a readable 24-hour chart`, async () => {
    const name = `board-${width}`;
    const { context, page, errors } = await openConsole(width);
    await signIn(page, ownerToken);
    await page.click('#add-secret');
    await page.fill('#add-form [name=name]', name);
    await page.fill('#add-form [name=description]', 'Board for the partner portal, embedded in an iframe');
    await page.fill('#add-form [name=environment]', 'production');
    await page.fill('#add-form [name=scopes]', '/d/');
    await page.click('#add-submit');
    await page.waitForSelector('#add-result:not([hidden])');
    const value = (await page.textContent('#new-value')).trim();
    const kid = (await page.textContent('#new-client-id')).trim();
    await page.click('#add-done');
    await row(page, 'secrets', name).waitFor();

    // The owner is the token that created it.
    assert.equal((await page.textContent(cell('secrets', name, 'owner'))).trim(), 'owner');

    // Three verified uses: one hourly bar, tall and wide enough to see,
    // with its count above it and the total beside it.
    for (let i = 0; i < 3; i++) assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);
    await page.reload();
    await page.waitForSelector('#view-secrets:not([hidden])');
    await waitText(page, cell('secrets', name, 'usage-total'), '3');
    const r = row(page, 'secrets', name);
    assert.equal(await r.locator('.chart-slot').count(), 24, 'one slot per hour');
    assert.equal(await r.locator('.chart-bar').count(), 1, 'the uses fall in one hour');
    const bar = await r.locator('.chart-bar').boundingBox();
    assert.ok(bar.width >= 5 && bar.height >= 20, `a bar a person can see: ${JSON.stringify(bar)}`);
    assert.equal(await r.locator('[data-testid=usage-peak]').textContent(), 'peak 3/h');
    assert.deepEqual(await r.locator('.chart-axis').allTextContents(), ['−24 h', '−12 h', 'now']);
    await shoot(page, 'secrets-table');

    // Environment and scopes in one save: the table shows them, the proxy
    // applies the narrower scope at once, the history names both.
    await r.locator('[data-action=edit]').click();
    await page.waitForSelector('#dlg-edit[open]');
    assert.equal(await page.inputValue('#edit-form [name=environment]'), 'production');
    assert.equal(await page.inputValue('#edit-form [name=scopes]'), '/d/');
    assert.equal(await page.inputValue('#edit-form [name=expires_at]'), '');
    // The owner: settable when the API documents it, otherwise shown.
    const doc = await (await fetch(`http://${adminAddr}/api/v1/openapi.json`)).json();
    const update = doc.components.schemas[doc.paths['/secrets/{id}'].patch.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    const ownerSettable = 'owner' in (update.properties ?? {});
    assert.equal(await page.isVisible('#edit-form [name=owner]'), ownerSettable);
    if (!ownerSettable) assert.equal((await page.textContent('#edit-owner-text')).trim(), 'owner');
    await page.fill('#edit-form [name=environment]', 'staging');
    await page.fill('#edit-form [name=scopes]', '/d/sales');
    if (ownerSettable) await page.fill('#edit-form [name=owner]', 'team-portal');
    await shoot(page, 'edit-secret-dialog');
    await page.click('#edit-ok');
    await waitText(page, cell('secrets', name, 'environment'), 'staging');
    await page.waitForFunction((n) => document.querySelector(`#secrets-table tr[data-name="${n}"]`)?.textContent.includes('scopes: /d/sales'), name);
    if (ownerSettable) await waitText(page, cell('secrets', name, 'owner'), 'team-portal');
    assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);
    const outside = await publicGet(signUrl(kid, value, '/d/other'));
    assert.equal(outside.status, 403);
    assert.equal(outside.reason, 'out_of_scope');
    assert.deepEqual((await history(page, 'secrets', name)).slice(-1), ['update']);
    const changes = await page.$$eval('#history-table tbody tr:last-child li', (els) => els.map((e) => e.textContent));
    assert.ok(changes.includes('environment: production → staging'), changes.join(' | '));
    assert.ok(changes.includes('scopes: /d/ → /d/sales'), changes.join(' | '));
    await shoot(page, 'history-after-edit');
    await page.click('#history-close');

    // An expiry two days out: shown, marked as soon, still verifying.
    const inTwoDays = Math.floor(Date.now() / 1000 / 60) * 60 + 2 * 86400;
    await r.locator('[data-action=edit]').click();
    await page.fill('#edit-form [name=expires_at]', localInput(inTwoDays));
    await page.click('#edit-ok');
    await page.waitForSelector(`${cell('secrets', name, 'expires')}.soon`);
    assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);
    assert.deepEqual((await history(page, 'secrets', name)).slice(-1), ['set_expiry']);
    await page.click('#history-close');
    await shoot(page, 'secrets-expiry-set');

    // Expiry in the past: expired at once, refused by the proxy, and it
    // cannot be reactivated.
    await r.locator('[data-action=edit]').click();
    assert.equal(await page.inputValue('#edit-form [name=expires_at]'), localInput(inTwoDays));
    await page.fill('#edit-form [name=expires_at]', localInput(Math.floor(Date.now() / 1000) - 120));
    await page.click('#edit-ok');
    await waitText(page, cell('secrets', name, 'status'), 'expired');
    assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 403);
    await r.locator('[data-action=deactivate]').click();
    await page.waitForSelector(`#secrets-table tr[data-name="${name}"] [data-action=activate][disabled]`);

    // "No expiry" clears it.
    await r.locator('[data-action=edit]').click();
    await page.click('#edit-no-expiry');
    assert.equal(await page.inputValue('#edit-form [name=expires_at]'), '');
    await page.click('#edit-ok');
    await waitText(page, cell('secrets', name, 'expires'), 'no expiry');
    await waitText(page, cell('secrets', name, 'status'), 'inactive');

    // Saving without a change sends nothing.
    const before = (await apiCall('GET', `/secrets/${kid}/history`, ownerToken)).body.entries.length;
    await r.locator('[data-action=edit]').click();
    await page.click('#edit-ok');
    await page.waitForSelector('#dlg-edit[open]', { state: 'detached' });
    assert.equal((await apiCall('GET', `/secrets/${kid}/history`, ownerToken)).body.entries.length, before);

    // A refused change is explained in the dialog, which stays open.
    await r.locator('[data-action=edit]').click();
    assert.equal((await apiCall('POST', '/secrets', ownerToken, { name: `taken-${width}` })).status, 201);
    await page.fill('#edit-form [name=name]', `taken-${width}`);
    await page.click('#edit-ok');
    await page.waitForSelector('#edit-form .error:not([hidden])');
    assert.match(await page.textContent('#edit-form .error'), /name_taken/);
    await shoot(page, 'edit-secret-refused');
    await page.click('#edit-form button[value=cancel]');

    errors.splice(0, errors.length, ...errors.filter((e) => !/409/.test(e)));
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${width} px: credential expiry is shown, set, kept when the value is replaced, and cleared`, async () => {
    const name = `warehouse-${width}`;
    const { context, page, errors } = await openConsole(width);
    await signIn(page, ownerToken);
    await page.click('.tab[data-tab=credentials]');
    await page.waitForSelector('#view-credentials:not([hidden])');

    const in30 = Math.floor(Date.now() / 1000 / 60) * 60 + 30 * 86400;
    await page.click('#add-credential');
    await page.fill('#cred-form [name=name]', name);
    await page.selectOption('#cred-form [name=token_type]', 'access_token');
    await page.fill('#cred-form [name=issuer]', 'warehouse.example');
    await page.fill('#cred-form [name=value]', 'wh_secret_value_never_shown_789');
    await page.fill('#cred-form [name=expires_at]', localInput(in30));
    await shoot(page, 'store-credential-dialog');
    await page.click('#cred-submit');
    await row(page, 'credentials', name).waitFor();
    let c = (await apiCall('GET', `/credentials/${name}`, ownerToken)).body;
    assert.equal(c.expires_at, in30);
    assert.notEqual((await page.textContent(cell('credentials', name, 'expires'))).trim(), 'no expiry');
    assert.equal((await page.textContent(cell('credentials', name, 'owner'))).trim(), 'owner');

    // Edit the expiry and the issuer.
    const in60 = in30 + 30 * 86400;
    await row(page, 'credentials', name).locator('[data-action=edit]').click();
    await page.waitForSelector('#dlg-edit[open]');
    assert.equal(await page.isVisible('#edit-form [name=environment]'), false, 'credentials have no environment');
    assert.equal(await page.inputValue('#edit-form [name=issuer]'), 'warehouse.example');
    assert.equal(await page.inputValue('#edit-form [name=token_type]'), 'access_token');
    assert.equal(await page.inputValue('#edit-form [name=expires_at]'), localInput(in30));
    await page.fill('#edit-form [name=expires_at]', localInput(in60));
    await page.fill('#edit-form [name=issuer]', 'warehouse.example.com');
    await shoot(page, 'edit-credential-dialog');
    await page.click('#edit-ok');
    await page.waitForFunction(([n, t]) => document.querySelector(`#credentials-table tr[data-name="${n}"]`)?.textContent.includes(t), [name, 'warehouse.example.com']);
    c = (await apiCall('GET', `/credentials/${name}`, ownerToken)).body;
    assert.equal(c.expires_at, in60);

    // Replacing the value offers the current expiry, and keeps it.
    await row(page, 'credentials', name).locator('[data-action=replace]').click();
    assert.equal(await page.inputValue('#cred-form [name=expires_at]'), localInput(in60));
    await page.fill('#cred-form [name=value]', 'wh_replacement_never_shown_000');
    await shoot(page, 'replace-credential-dialog');
    await page.click('#cred-submit');
    await page.waitForFunction((n) => document.querySelector(`#credentials-table tr[data-name="${n}"]`)?.textContent.includes('v2'), name);
    c = (await apiCall('GET', `/credentials/${name}`, ownerToken)).body;
    assert.equal(c.version, 2);
    assert.equal(c.expires_at, in60, 'the expiry survives a new value');

    // Clear it.
    await row(page, 'credentials', name).locator('[data-action=edit]').click();
    await page.click('#edit-no-expiry');
    await page.click('#edit-ok');
    await waitText(page, cell('credentials', name, 'expires'), 'no expiry');
    assert.equal((await apiCall('GET', `/credentials/${name}`, ownerToken)).body.expires_at, null);
    await shoot(page, 'credentials-table');
    assert.ok(!(await page.content()).includes('never_shown'), 'no credential value in the page');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${width} px: admin tokens: list, create with the one-time value, revoke`, async () => {
    const { context, page, errors } = await openConsole(width);
    await signIn(page, ownerToken);
    await page.click('.tab[data-tab=tokens]');
    await page.waitForSelector('#view-tokens:not([hidden])');
    await row(page, 'tokens', 'owner').waitFor();
    assert.equal(await row(page, 'tokens', 'owner').locator('.tag').textContent(), 'this session');
    assert.equal((await page.textContent(cell('tokens', 'owner', 'role'))).trim(), 'owner');

    // Create: the value is shown once, copied, and forgotten on close.
    const name = `ci-deploy-${width}`;
    await page.click('#add-token');
    await page.fill('#token-form [name=name]', name);
    await page.selectOption('#token-form [name=role]', 'admin');
    await shoot(page, 'create-token-dialog');
    await page.click('#token-submit');
    await page.waitForSelector('#token-result:not([hidden])');
    const value = (await page.textContent('#new-token-value')).trim();
    assert.match(value, /^egadm_[A-Za-z0-9_-]{43}$/);
    assert.match(await page.textContent('#token-result .warning'), /will not be shown again/);
    await page.click('#copy-token');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
    await shoot(page, 'create-token-one-time-value');
    await page.click('#token-done');
    assert.equal(await page.textContent('#new-token-value'), '');
    await waitText(page, cell('tokens', name, 'role'), 'admin');
    assert.ok(!(await page.content()).includes(value), 'the token is not in the page after the dialog closed');
    const used = await apiCall('GET', '/secrets', value);
    assert.equal(used.status, 200);
    assert.equal(used.role, 'admin');
    await shoot(page, 'tokens-table');

    // Revoke: asked first; the token stops working at once.
    await row(page, 'tokens', name).locator('[data-action=revoke]').click();
    assert.match(await page.textContent('#confirm-text'), /gets 401/);
    await page.click('#confirm-ok');
    await page.waitForFunction((n) => !document.querySelector(`#tokens-table tr[data-name="${n}"]`), name);
    assert.equal((await apiCall('GET', '/secrets', value)).status, 401);

    // The last owner token cannot be revoked: the dialog says why.
    const owners = (await apiCall('GET', '/tokens', ownerToken)).body.items.filter((t) => t.role === 'owner');
    assert.deepEqual(owners.map((t) => t.name), ['owner']);
    await row(page, 'tokens', 'owner').locator('[data-action=revoke]').click();
    assert.match(await page.textContent('#confirm-text'), /signed in with/);
    await page.click('#confirm-ok');
    await page.waitForSelector('#dlg-confirm .error:not([hidden])');
    assert.match(await page.textContent('#dlg-confirm .error'), /last owner token/);
    await shoot(page, 'revoke-last-owner-refused');
    await page.click('#dlg-confirm button[value=cancel]');
    assert.equal((await apiCall('GET', '/tokens', ownerToken)).status, 200);

    // The change log names who created and revoked which token.
    await page.click('.tab[data-tab=audit]');
    await page.selectOption('#audit-kind', 'admin_token');
    await page.waitForFunction((n) => [...document.querySelectorAll('#audit-table tbody tr')].some((r) => r.textContent.includes(n) && r.textContent.includes('delete')), name);
    await shoot(page, 'change-log-tokens');

    // Revoking the token one is signed in with signs out, saying why.
    const second = await newToken(`owner-2-${width}`, 'owner');
    const other = await openConsole(width);
    await signIn(other.page, second);
    await other.page.click('.tab[data-tab=tokens]');
    await row(other.page, 'tokens', `owner-2-${width}`).locator('[data-action=revoke]').click();
    await other.page.click('#confirm-ok');
    await other.page.waitForSelector('#signin:not([hidden])');
    assert.match(await other.page.textContent('#signin-error'), /no longer accepts this token/);
    assert.equal(await other.page.evaluate(() => sessionStorage.getItem('embedgate.adminToken')), null);
    await shoot(other.page, 'signed-out-after-revoking-own-token');
    await other.context.close();

    errors.splice(0, errors.length, ...errors.filter((e) => !/status of (409|422|400)/.test(e)));
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`${width} px: a viewer sees no write button, an admin no token page`, async () => {
    const shown = `shown-${width}`;
    assert.equal((await apiCall('POST', '/secrets', ownerToken, { name: shown, environment: 'production' })).status, 201);
    assert.equal((await apiCall('POST', '/credentials', ownerToken, { name: `cred-${width}`, value: 'v_never_shown' })).status, 201);
    const viewer = await openConsole(width);
    await signIn(viewer.page, await newToken(`auditor-${width}`, 'viewer'));
    const { page } = viewer;
    assert.equal(await page.textContent('#who-role'), 'viewer');
    await row(page, 'secrets', shown).waitFor();
    assert.equal(await page.isVisible('#add-secret'), false);
    for (const a of ['edit', 'deactivate', 'activate', 'delete']) {
      assert.equal(await page.locator(`#secrets-table [data-action=${a}]`).count(), 0, a);
    }
    assert.equal(await page.isVisible('.tab[data-tab=tokens]'), false, 'no token page for a viewer');
    // History and the chart stay readable.
    assert.equal(await row(page, 'secrets', shown).locator('[data-action=history]').count(), 1);
    await row(page, 'secrets', shown).locator('.chart').waitFor();
    await shoot(page, 'viewer-secrets');
    await page.click('.tab[data-tab=credentials]');
    await page.locator('#credentials-table tbody tr').first().waitFor();
    assert.equal(await page.isVisible('#add-credential'), false);
    for (const a of ['edit', 'replace', 'deactivate', 'delete']) {
      assert.equal(await page.locator(`#credentials-table [data-action=${a}]`).count(), 0, a);
    }
    await shoot(page, 'viewer-credentials');
    await viewer.context.close();

    const admin = await openConsole(width);
    await signIn(admin.page, await newToken(`admin-${width}`, 'admin'));
    assert.equal(await admin.page.textContent('#who-role'), 'admin');
    await row(admin.page, 'secrets', shown).locator('[data-action=edit]').waitFor();
    assert.equal(await admin.page.isVisible('.tab[data-tab=tokens]'), false, 'no token page for an admin');
    assert.equal(await admin.page.isVisible('#add-token'), false);
    // What an admin creates is theirs.
    await admin.page.click('#add-secret');
    await admin.page.fill('#add-form [name=name]', `admin-made-${width}`);
    await admin.page.click('#add-submit');
    await admin.page.waitForSelector('#add-result:not([hidden])');
    await admin.page.click('#add-done');
    await waitText(admin.page, cell('secrets', `admin-made-${width}`, 'owner'), `admin-${width}`);
    await shoot(admin.page, 'admin-secrets');
    assert.deepEqual(admin.errors, []);
    await admin.context.close();
  });
}

test('long lists come a page at a time: "Load more" appends the next page', async () => {
  // Named to sort after every other test's secrets: the first page of an
  // unfiltered list keeps showing theirs.
  const names = Array.from({ length: 120 }, (_, k) => `zz-page-${String(k).padStart(3, '0')}`);
  for (const name of names) {
    assert.equal((await apiCall('POST', '/secrets', ownerToken, { name })).status, 201, name);
  }
  const { context, page, errors } = await openConsole(1280);
  await signIn(page, ownerToken);
  await page.fill('#search', 'zz-page');
  const rows = () => page.locator('#secrets-table tbody tr').count();
  await page.waitForFunction(() => [...document.querySelectorAll('#secrets-table tbody tr')]
    .every((tr) => tr.dataset.name.startsWith('zz-page')) && document.querySelectorAll('#secrets-table tbody tr').length === 100);
  assert.equal(await page.isVisible('#secrets-more'), true, 'a second page is offered');
  await page.click('#secrets-more');
  await page.waitForFunction(() => document.querySelectorAll('#secrets-table tbody tr').length === 120);
  assert.equal(await rows(), 120);
  assert.equal(await page.isVisible('#secrets-more'), false, 'no third page');
  const shown = await page.$$eval('#secrets-table tbody tr', (trs) => trs.map((tr) => tr.dataset.name));
  assert.deepEqual(shown, names, 'every secret once, in name order');
  await shoot(page, 'secrets-paged');
  assert.deepEqual(errors, []);
  await context.close();
});
