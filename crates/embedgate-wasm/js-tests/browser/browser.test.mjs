// The WebAssembly package in headless Chromium: the conformance vectors, and
// the playground driven like a user, its URL checked with the native CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { serve, launchChromium, ROOT } from '../shared/static-server.mjs';

let server;
let browser;

before(async () => {
  server = await serve();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('every conformance vector through the web build in Chromium', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/`);
  const result = await page.evaluate(async () => {
    const wasm = await import('/pkg/web/embedgate_wasm.js');
    await wasm.default();
    const { runVectors } = await import('/shared/vectors.mjs');
    const vectors = await (await fetch('/vectors/embed-url-v1.json')).json();
    const out = runVectors(wasm, vectors);
    return { ...out, total: vectors.cases.length, secret: wasm.generateSecret(), nonce: wasm.generateNonce(), ua: navigator.userAgent };
  });
  assert.match(result.ua, /Chrome/);
  assert.equal(result.checked, result.total);
  assert.ok(result.checked >= 30);
  assert.deepEqual(result.failures, []);
  assert.match(result.secret, /^[A-Za-z0-9]{32}$/);
  assert.match(result.nonce, /^[A-Za-z0-9_-]{22}$/);
  await page.close();
});

test('every EGJ1 vector through the web build in Chromium', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/`);
  const result = await page.evaluate(async () => {
    const wasm = await import('/pkg/web/embedgate_wasm.js');
    await wasm.default();
    const { runJwtVectors } = await import('/shared/vectors.mjs');
    const vectors = await (await fetch('/vectors/embed-jwt-v1.json')).json();
    return { ...runJwtVectors(wasm, vectors), total: vectors.cases.length };
  });
  assert.equal(result.total, 30);
  assert.equal(result.checked, 30);
  assert.deepEqual(result.failures, []);
  await page.close();
});

const NOW = 1767225000;
const SECRET = 'pl4yground-Secret-0123456789abcd';
const KID = 'ek_playground';

function nativeVerify(url, keysFile) {
  const bin = process.env.EMBEDGATE_BIN || join(ROOT, 'target/debug/embedgate');
  const r = spawnSync(bin, ['verify', url, '--keys', keysFile, '--now', String(NOW)], { encoding: 'utf8' });
  assert.equal(r.error, undefined, `cannot run ${bin}: ${r.error}`);
  return { status: r.status, out: JSON.parse(r.stdout) };
}

test('the playground signs a URL the native verifier accepts, and explains a tampered one', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.origin });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(`${server.origin}/playground/`, { waitUntil: 'networkidle' });
  await page.waitForSelector('body[data-ready="yes"]');
  const loaded = requests.length;
  assert.ok(requests.every((u) => u.startsWith(`${server.origin}/playground/`)), requests.join('\n'));
  assert.ok(requests.some((u) => u.endsWith('.wasm')), 'the page loads its .wasm');

  // Fill the form like a user.
  await page.fill('#base-url', 'https://embed.example.com/d/sales?orgId=1&var-region=emea');
  await page.fill('#kid', KID);
  await page.fill('#secret', SECRET);
  await page.fill('#sub', 'ana.maria@example.com');
  await page.fill('#ttl', '300');
  await page.fill('#session', '1800');
  await page.fill('#attrs', 'tenant=acme\nrole=viewer');
  await page.fill('#now', String(NOW));
  await page.waitForSelector('body[data-signed="yes"]');

  const signed = await page.textContent('#signed-url');
  const sts = await page.textContent('#sts');
  const sig = await page.textContent('#sig');
  const u = new URL(signed);
  assert.equal(u.searchParams.get('eg_kid'), KID);
  assert.equal(u.searchParams.get('eg_exp'), String(NOW + 300));
  assert.equal(u.searchParams.get('eg_session'), '1800');
  assert.equal(u.searchParams.get('eg_attr.role'), 'viewer');
  assert.equal(u.searchParams.get('eg_sig'), sig);
  assert.match(u.searchParams.get('eg_nonce'), /^[A-Za-z0-9_-]{22}$/);
  assert.equal(sts.split('\n').slice(0, 3).join('\n'), 'EG1-HMAC-SHA256\nembed.example.com\n/d/sales');

  // The copy button puts the signed URL on the clipboard.
  await page.click('[data-copy="signed-url"]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), signed);

  // The native verifier accepts the URL; it computes the same string to sign.
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-playground-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ [KID]: { secret: SECRET, active: true } }));
  const ok = nativeVerify(signed, keysFile);
  assert.equal(ok.status, 0, JSON.stringify(ok.out));
  assert.equal(ok.out.result, 'ok');
  assert.equal(ok.out.sub, 'ana.maria@example.com');
  assert.deepEqual(ok.out.attrs, { tenant: 'acme', role: 'viewer' });
  assert.equal(ok.out.string_to_sign, sts);

  // The verify panel accepts the untouched URL …
  await page.fill('#verify-url', signed);
  await page.fill('#verify-now', String(NOW));
  await page.waitForSelector('body[data-verdict="ok"]');
  assert.equal(await page.textContent('#verdict-badge'), 'valid');
  assert.match(await page.textContent('#fields'), /ana\.maria@example\.com/);

  // … and explains a tampered filter: reason plus a diff of the one changed line.
  const tampered = signed.replace('orgId=1', 'orgId=2');
  assert.notEqual(tampered, signed);
  const rejected = nativeVerify(tampered, keysFile);
  assert.equal(rejected.status, 1);
  assert.equal(rejected.out.result, 'bad_signature');
  await page.fill('#verify-url', tampered);
  await page.waitForSelector('body[data-verdict="bad_signature"]');
  assert.equal(await page.textContent('#verdict-badge'), 'bad_signature');
  assert.equal(await page.isVisible('#diff-box'), true);
  assert.equal(await page.isVisible('#fields'), false, 'no fields of an unverified URL are shown');
  const del = await page.$$eval('#diff .line.del .text', (els) => els.map((e) => e.textContent));
  const ins = await page.$$eval('#diff .line.ins .text', (els) => els.map((e) => e.textContent));
  assert.deepEqual(del, ['orgId=1']);
  assert.deepEqual(ins, ['orgId=2']);
  const same = await page.$$eval('#diff .line.same .text', (els) => els.map((e) => e.textContent));
  assert.ok(same.includes('embed.example.com') && same.includes('/d/sales'), same.join(' | '));
  assert.match(await page.textContent('#diff-note'), /differ in 2 lines \(−1 \+1\)/);

  mkdirSync(join(ROOT, 'target/screenshots'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'target/screenshots/playground.png'), fullPage: true });

  // The right content with the wrong secret: no differing line, and the note says so.
  await page.fill('#verify-url', signed);
  await page.fill('#verify-secret', 'not-the-secret');
  await page.waitForSelector('body[data-verdict="bad_signature"]');
  assert.equal(await page.$$eval('#diff .line.del, #diff .line.ins', (els) => els.length), 0);
  assert.match(await page.textContent('#diff-note'), /different secret/);

  // An expired URL gets its reason too (verify 10 minutes later).
  await page.fill('#verify-secret', '');
  await page.fill('#verify-now', String(NOW + 1000));
  await page.waitForSelector('body[data-verdict="expired"]');

  // Nothing typed left the page: no request at all after load.
  await page.waitForTimeout(300);
  assert.deepEqual(requests.slice(loaded), [], 'requests after load');
  assert.deepEqual(errors, []);
  await context.close();
});
