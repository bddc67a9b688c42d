// The admin console in headless Chromium against a real `embedgate serve`
// (binary from EMBEDGATE_BIN, store in a temp dir, a tiny backend): sign in,
// create a secret and read its one-time value, rename, search, deactivate
// (a URL signed with it then gets 403 from the public listener), reactivate,
// delete, history; a viewer sees no action buttons. Screenshots go to
// target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = process.env.EMBEDGATE_BIN || join(ROOT, 'target/debug/embedgate');
const SHOTS = join(ROOT, 'target/screenshots');
const HOST = 'embed.test';
const MASTER_KEY = randomBytes(32).toString('base64');

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

function signUrl(kid, secret, path) {
  const r = spawnSync(BIN, ['sign', '--kid', kid, '--sub', 'alice', '--ttl', '120', `https://${HOST}${path}`], {
    env: { ...process.env, EMBEDGATE_SECRET: secret }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().replace(`https://${HOST}`, '');
}

async function publicGet(pathAndQuery) {
  // Node's fetch forbids setting Host; use http.get.
  const { request } = await import('node:http');
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

async function signIn(page, token) {
  await page.goto(`http://${adminAddr}/admin/`);
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#view-secrets:not([hidden])');
}

const row = (page, name) => page.locator(`#secrets-table tbody tr[data-name="${name}"]`);

test('an admin manages an embed secret end to end in the console', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://${adminAddr}` });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  // A wrong token is refused.
  await page.goto(`http://${adminAddr}/admin/`);
  await page.fill('#token', 'egadm_not-a-real-token');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-error:not([hidden])');
  pageErrors.length = 0; // the refused sign-in logs its 401

  await signIn(page, ownerToken);
  assert.equal(await page.textContent('#who-role'), 'owner');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('embedgate.adminToken')?.startsWith('egadm_')), true);
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
  await page.screenshot({ path: join(SHOTS, 'admin-add-dialog-one-time-value.png') });
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

  // Rename.
  await row(page, 'sales-dashboard').locator('[data-action=rename]').click();
  await page.fill('#prompt-input', 'sales-dashboard-v2');
  await page.click('#prompt-ok');
  await row(page, 'sales-dashboard-v2').waitFor();

  // Search.
  await page.fill('#search', 'v2');
  await page.waitForFunction(() => document.querySelectorAll('#secrets-table tbody tr').length === 1);
  assert.equal(await row(page, 'sales-dashboard-v2').count(), 1);
  assert.equal(await row(page, 'ops-overview').count(), 0);
  await page.fill('#search', '');
  await page.waitForFunction(() => document.querySelectorAll('#secrets-table tbody tr').length === 2);
  await row(page, 'sales-dashboard-v2').locator('[data-testid=usage-total]').waitFor();
  assert.equal(await row(page, 'sales-dashboard-v2').locator('[data-testid=usage-total]').textContent(), '1');
  await page.screenshot({ path: join(SHOTS, 'admin-secrets-table.png') });

  // Deactivate: a URL signed with it now gets 403 from the proxy.
  await row(page, 'sales-dashboard-v2').locator('[data-action=deactivate]').click();
  await page.waitForFunction(() => document.querySelector('#secrets-table tr[data-name="sales-dashboard-v2"] [data-testid=status]')?.textContent === 'inactive');
  const refused = await publicGet(signUrl(kid, value, '/d/sales'));
  assert.equal(refused.status, 403);
  assert.equal(refused.reason, 'key_inactive');

  // Reactivate: it verifies again.
  await row(page, 'sales-dashboard-v2').locator('[data-action=activate]').click();
  await page.waitForFunction(() => document.querySelector('#secrets-table tr[data-name="sales-dashboard-v2"] [data-testid=status]')?.textContent === 'active');
  assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 200);

  // History shows every change with the token's name as the actor.
  await row(page, 'sales-dashboard-v2').locator('[data-action=history]').click();
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length >= 4);
  const actions = await page.$$eval('#history-table tbody tr .action', (els) => els.map((e) => e.textContent));
  assert.deepEqual(actions, ['create', 'rename', 'deactivate', 'activate']);
  const actors = await page.$$eval('#history-table tbody tr td:nth-child(3)', (els) => els.map((e) => e.textContent));
  assert.ok(actors.every((a) => a === 'owner'), actors.join());
  await page.screenshot({ path: join(SHOTS, 'admin-history.png') });
  await page.click('#history-close');

  // Delete asks first, and says what happens.
  await row(page, 'sales-dashboard-v2').locator('[data-action=delete]').click();
  assert.match(await page.textContent('#confirm-text'), /every URL and every session signed with it will get 403/i);
  await page.click('#confirm-ok');
  await page.waitForFunction(() => !document.querySelector('#secrets-table tr[data-name="sales-dashboard-v2"]'));
  assert.equal((await publicGet(signUrl(kid, value, '/d/sales'))).status, 403);

  // The change log tab shows the deletion.
  await page.click('.tab[data-tab=audit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table .action')].some((e) => e.textContent === 'delete'));

  // Credentials: store a value, replace it; it is never shown.
  await page.click('.tab[data-tab=credentials]');
  await page.click('#add-credential');
  await page.fill('#cred-form [name=name]', 'grafana-api');
  await page.fill('#cred-form [name=value]', 'glsa_credential_value_never_shown_123');
  await page.click('#cred-submit');
  const cred = page.locator('#credentials-table tbody tr[data-name="grafana-api"]');
  await cred.waitFor();
  await cred.locator('[data-action=replace]').click();
  await page.fill('#cred-form [name=value]', 'glsa_replacement_value_never_shown_456');
  await page.click('#cred-submit');
  await page.waitForFunction(() => document.querySelector('#credentials-table tr[data-name="grafana-api"]')?.textContent.includes('v2'));
  const html = await page.content();
  assert.ok(!html.includes('never_shown'), 'no credential value in the page');

  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('a viewer sees no action buttons', async () => {
  const res = await fetch(`http://${adminAddr}/api/v1/tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ownerToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'auditor', role: 'viewer' }),
  });
  assert.equal(res.status, 201);
  const viewerToken = (await res.json()).value;
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  const page = await context.newPage();
  await signIn(page, viewerToken);
  assert.equal(await page.textContent('#who-role'), 'viewer');
  await row(page, 'ops-overview').waitFor();
  assert.equal(await page.isVisible('#add-secret'), false);
  for (const a of ['rename', 'describe', 'deactivate', 'activate', 'delete']) {
    assert.equal(await page.locator(`#secrets-table [data-action=${a}]`).count(), 0, a);
  }
  // History stays readable.
  assert.equal(await row(page, 'ops-overview').locator('[data-action=history]').count(), 1);
  await page.click('.tab[data-tab=credentials]');
  await page.locator('#credentials-table tbody tr').first().waitFor();
  assert.equal(await page.isVisible('#add-credential'), false);
  assert.equal(await page.locator('#credentials-table [data-action=replace]').count(), 0);
  await page.screenshot({ path: join(SHOTS, 'admin-viewer.png') });
  await context.close();
});
