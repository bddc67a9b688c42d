// The embed SDK (www/embed/embed.js) in headless Chromium against a real
// `embedgate serve` (binary from EMBEDGATE_BIN, a SQLite store and secrets
// made with the CLI, `max_session = 20`), a real dashboard backend (Node:
// a page that fetches its API every second and follows a server-sent
// event stream) and a host page on another origin whose backend signs
// with `embedgate sign` (EG1, or EGJ1 with --jwt).
//
// Origins: the host page is http://app.test:<port>, the proxy
// http://embed.app.test:<port> (Chromium maps both to 127.0.0.1), so the
// dev cookies (SameSite=Lax) of `insecure_dev_cookies` reach the frames.
//
// - a dashboard stays live for 65 s (three session lengths) without a
//   reload: no request gets a 401, renewals are reported, the event
//   stream is cut at each old session's expiry and reconnects under the
//   renewed cookie (EG1 and EGJ1, side by side);
// - deactivating the secret shows onError("session_revoked") in the host
//   page within seconds;
// - a tampered first URL shows onError("bad_signature"), by the proxy's
//   refusal page;
// - the session page posts to the origin its URL names and to no other;
//   messages from anywhere else are ignored;
// - the npm package names only files that exist, and its types.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = process.env.EMBEDGATE_BIN || join(ROOT, 'target/debug/embedgate');
const SDK = readFileSync(join(ROOT, 'www/embed/embed.js'), 'utf8');
const APP_HOST = 'app.test';
const EMBED_HOST = 'embed.app.test';
const OTHER_HOST = 'other.app.test';
const MAX_SESSION = 20;
const run = promisify(execFile);

let dir, env, backend, host, proxy, proxyOrigin, hostOrigin, otherOrigin, browser;
const secrets = {};
/** Per user: dashboard page loads, event-stream connections, API calls. */
const seen = new Map();
const seenFor = (user) => {
  if (!seen.has(user)) seen.set(user, { pages: 0, streams: 0, api: 0 });
  return seen.get(user);
};

// ------------------------------------------------------------- the parts

/** The dashboard: a page whose script fetches the API every second and
 * follows an event stream; it keeps what it saw in `window.stats`. */
const DASHBOARD = `<!doctype html><html><head><meta charset="utf-8"><title>Sales</title><link rel="icon" href="data:,"></head>
<body><h1>Sales dashboard</h1><p id="status">starting</p><script>
window.stats = { ok: 0, bad: [], events: 0, streamErrors: 0, loadedAt: Date.now() };
setInterval(async () => {
  try {
    const r = await fetch('api', { cache: 'no-store' });
    if (r.ok) stats.ok++; else stats.bad.push(r.status + ' ' + (r.headers.get('embedgate-reason') || ''));
  } catch (e) { stats.bad.push('network: ' + e.message); }
  document.getElementById('status').textContent = stats.ok + ' API calls, ' + stats.events + ' events';
}, 1000);
const es = new EventSource('events');
es.onmessage = () => { stats.events++; };
es.onerror = () => { stats.streamErrors++; };
</script></body></html>`;

function startBackend() {
  const server = createServer((req, res) => {
    const user = req.headers['x-embed-user'] ?? '-';
    const path = req.url.split('?')[0];
    if (path === '/d/sales/' || path === '/d/sales') {
      seenFor(user).pages++;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(DASHBOARD);
    } else if (path === '/d/sales/api') {
      seenFor(user).api++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user, tenant: req.headers['x-embed-attr-tenant'] }));
    } else if (path === '/d/sales/events') {
      seenFor(user).streams++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 300\n\n');
      let n = 0;
      const tick = setInterval(() => res.write(`data: ${n++}\n\n`), 1000);
      res.on('close', () => clearInterval(tick));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** The host application: its page uses the SDK; its backend signs. */
function startHost() {
  const server = createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/embed.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(SDK);
    } else if (u.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HOST_PAGE);
    } else if (u.pathname === '/sign') {
      // The backend decides: which dashboard, which user, which origin.
      const q = u.searchParams;
      const secret = secrets[q.get('secret')];
      const kind = q.get('kind') === 'renew' ? 'renew' : 'open';
      const origin = q.get('claim') || q.get('origin');
      const target = `${proxyOrigin}/.embedgate/${kind}?origin=${encodeURIComponent(origin)}&path=${encodeURIComponent('/d/sales/')}`;
      const args = ['sign', target, '--kid', secret.kid, '--sub', q.get('sub'), '--attr', 'tenant=acme', '--ttl', '60'];
      if (q.get('scheme') === 'egj1') args.push('--jwt');
      try {
        const { stdout } = await run(BIN, args, { env: { ...process.env, EMBEDGATE_SECRET: secret.value } });
        let signed = stdout.trim();
        if (q.get('tamper')) signed = signed.replace('%2Fd%2Fsales', '%2Fd%2Fsalez');
        res.writeHead(200, { 'content-type': 'text/plain' }).end(signed);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e.stderr ?? e));
      }
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** The host page: the SDK with a sign endpoint, every callback recorded
 * in `window.events`, and every message from the proxy's origin in
 * `window.messages` (to see what reached this page at all). */
const HOST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Host application</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:16px;background:#eef2f7}#embed{height:420px;background:#fff;border:1px solid #8895a7}</style>
</head><body><h3>Host application</h3><div id="embed"></div>
<script type="module">
import { createEmbed } from '/embed.js';
const params = new URLSearchParams(location.search);
window.events = [];
window.messages = [];
window.addEventListener('message', (e) => { if (e.origin !== location.origin) window.messages.push({ origin: e.origin, data: e.data }); });
const sign = (req) => {
  const q = new URLSearchParams({ kind: req.kind, origin: req.origin, sub: params.get('sub'), secret: params.get('secret'),
    scheme: params.get('scheme') || 'eg1', tamper: params.get('tamper') || '', claim: params.get('claim') || '' });
  return fetch('/sign?' + q).then((r) => { if (!r.ok) throw new Error('sign ' + r.status); return r.text(); });
};
window.embed = createEmbed({
  container: document.getElementById('embed'),
  url: sign,
  answerTimeout: Number(params.get('answerTimeout') || 15000),
  onReady: () => events.push({ type: 'ready', t: Date.now() }),
  onError: (reason) => events.push({ type: 'error', reason, t: Date.now() }),
  onSessionRenewed: ({ expiresAt }) => events.push({ type: 'renewed', expiresAt, t: Date.now() }),
});
</script></body></html>`;

function waitForLine(child, re, ms = 30000) {
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`embedgate serve did not start:\n${out}`)), ms);
    const onData = (d) => {
      out += d;
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        ok(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => fail(new Error(`embedgate serve exited (${code}):\n${out}`)));
  });
}

/** Polls `f` until it returns a truthy value; fails after `ms`. */
async function waitFor(what, f, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function createSecret(name) {
  const { stdout } = await run(BIN, ['secrets', 'create', '--name', name, '--json', '--create-key-file'], { env });
  const j = JSON.parse(stdout);
  secrets[name] = { kid: j.secret.client_id, value: j.value };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'embedgate-embed-'));
  env = {
    ...process.env,
    EMBEDGATE_STORE: `sqlite://${join(dir, 'store.db')}`,
    EMBEDGATE_MASTER_KEY_FILE: join(dir, 'master.key'),
    EMBEDGATE_LOG: 'warn',
  };
  for (const name of ['eg1', 'egj1', 'revoke-me', 'refused', 'origins']) await createSecret(name);
  backend = await startBackend();
  host = await startHost();
  const cfg = join(dir, 'embedgate.toml');
  writeFileSync(cfg, `
[listen]
public = "127.0.0.1:0"
admin = "off"

[verify]
max_session = ${MAX_SESSION}

[session]
insecure_dev_cookies = true

[[routes]]
prefix = "/d/"
upstream = "http://127.0.0.1:${backend.address().port}"
`);
  proxy = spawn(BIN, ['serve', '--config', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const m = await waitForLine(proxy, /listening on 127\.0\.0\.1:(\d+)/);
  proxyOrigin = `http://${EMBED_HOST}:${m[1]}`;
  hostOrigin = `http://${APP_HOST}:${host.address().port}`;
  otherOrigin = `http://${OTHER_HOST}:${host.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--no-first-run',
      // These names are this machine; nothing leaves it.
      `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1, MAP ${EMBED_HOST} 127.0.0.1, MAP ${OTHER_HOST} 127.0.0.1`,
    ],
  });
});

after(async () => {
  await browser?.close();
  if (proxy && proxy.exitCode === null) {
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
  }
  await Promise.all([backend, host].map((s) => new Promise((r) => (s ? s.close(r) : r()))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Opens the host page with `query` in a new context; records every
 * response of the proxy's origin with status >= 400 and page errors.
 */
async function openHost(query) {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const page = await context.newPage();
  const refused = [];
  const problems = [];
  page.on('response', (r) => {
    if (r.url().startsWith(proxyOrigin) && r.status() >= 400) {
      refused.push({ status: r.status(), path: new URL(r.url()).pathname, reason: r.headers()['embedgate-reason'], headers: r.headers() });
    }
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${hostOrigin}/?${new URLSearchParams(query)}`);
  const events = () => page.evaluate(() => window.events);
  return { context, page, refused, problems, events };
}

const dashboardFrame = (page) => page.frames().find((f) => f.url().startsWith(`${proxyOrigin}/d/`));

// ------------------------------------------------------------------ tests

test('the package is complete: every file its package.json names exists', async () => {
  const pkgDir = join(ROOT, 'www/embed');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, '@embedgate/embed');
  assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
  assert.equal(pkg.repository.directory, 'www/embed');
  assert.ok(pkg.homepage && pkg.bugs.url);
  const named = [pkg.main, pkg.types, pkg.exports['.'].types, pkg.exports['.'].default, ...pkg.files];
  for (const f of named) assert.ok(existsSync(join(pkgDir, f)), `${f} is named by package.json but missing`);
  assert.match(readFileSync(join(pkgDir, pkg.types), 'utf8'), /export function createEmbed\(options: EmbedOptions\): Embed;/);
  const mod = await import(join(pkgDir, pkg.exports['.'].default));
  assert.equal(typeof mod.createEmbed, 'function');
  assert.throws(() => mod.createEmbed({}), TypeError);
});

/** One host page for 65 s: the dashboard stays usable, never reloads. */
async function staysLive(scheme, sub) {
  const h = await openHost({ secret: scheme, sub, scheme });
  const ready = await waitFor('onReady', async () => (await h.events()).find((e) => e.type === 'ready'));
  const frame = await waitFor('the dashboard frame', () => dashboardFrame(h.page));
  assert.equal(frame.url(), `${proxyOrigin}/d/sales/`);
  const loadedAt = await frame.evaluate(() => window.stats.loadedAt);

  // Three session lengths and a bit: 65 s from the dashboard's start.
  const end = ready.t + 65_000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5000));
    const bad = await frame.evaluate(() => window.stats.bad);
    assert.deepEqual(bad, [], `${scheme}: the dashboard's API calls were refused`);
    const errors = (await h.events()).filter((e) => e.type === 'error');
    assert.deepEqual(errors, [], `${scheme}: onError was called`);
  }

  const stats = await frame.evaluate(() => window.stats);
  const events = await h.events();
  assert.equal(stats.loadedAt, loadedAt, `${scheme}: the dashboard was reloaded`);
  assert.equal(dashboardFrame(h.page), frame);
  assert.deepEqual(stats.bad, []);
  assert.ok(stats.ok >= 55, `${scheme}: only ${stats.ok} API calls went through in 65 s`);
  assert.deepEqual(h.refused, [], `${scheme}: requests refused by the proxy`);
  assert.deepEqual(h.problems, []);
  assert.equal(seenFor(sub).pages, 1, `${scheme}: the dashboard page was loaded more than once`);
  const renewals = events.filter((e) => e.type === 'renewed');
  assert.ok(renewals.length >= 3, `${scheme}: ${renewals.length} renewals in 65 s of ${MAX_SESSION} s sessions`);
  for (let i = 1; i < renewals.length; i++) assert.ok(renewals[i].expiresAt > renewals[i - 1].expiresAt);
  // The stream opened under a session ends at that session's expiry (a
  // renewal does not extend it) and reconnects under the renewed cookie.
  assert.ok(seenFor(sub).streams >= 3, `${scheme}: the event stream connected ${seenFor(sub).streams} times`);
  assert.ok(stats.events >= 45, `${scheme}: only ${stats.events} events in 65 s`);
  const apiByProxy = seenFor(sub).api;
  assert.ok(apiByProxy >= stats.ok, `${scheme}: ${apiByProxy} API calls reached the backend`);
  console.log(`${scheme}: ${stats.ok} API calls, ${stats.events} events over ${seenFor(sub).streams} stream connections, ${renewals.length} renewals, 0 refused`);
  await h.page.screenshot({ path: join(dir, `live-${scheme}.png`) });
  await h.context.close();
}

test('a dashboard stays live for three session lengths without a reload (EG1 and EGJ1 side by side)', { timeout: 180_000 }, async () => {
  await Promise.all([staysLive('eg1', 'alice'), staysLive('egj1', 'bob')]);
});

test('deactivating the secret shows onError("session_revoked") in the host page within seconds', { timeout: 60_000 }, async () => {
  const h = await openHost({ secret: 'revoke-me', sub: 'carol' });
  await waitFor('onReady', async () => (await h.events()).find((e) => e.type === 'ready'));
  const frame = await waitFor('the dashboard frame', () => dashboardFrame(h.page));
  await waitFor('a first API call', () => frame.evaluate(() => window.stats.ok > 0));
  await run(BIN, ['secrets', 'deactivate', 'revoke-me'], { env });
  const deactivated = Date.now();
  const error = await waitFor('onError', async () => (await h.events()).find((e) => e.type === 'error'), 15_000);
  assert.equal(error.reason, 'session_revoked');
  console.log(`onError("session_revoked") ${error.t - deactivated} ms after \`embedgate secrets deactivate\` returned`);
  assert.ok(error.t - deactivated < 5000, `onError came ${error.t - deactivated} ms after the deactivation`);
  // The dashboard's own requests are refused now too (JSON, not a page).
  await waitFor('a refused API call', () => frame.evaluate(() => window.stats.bad.length > 0), 10_000);
  assert.match((await frame.evaluate(() => window.stats.bad))[0], /^403 session_revoked$/);
  await h.context.close();
});

test('a tampered first URL shows onError("bad_signature") through the proxy\'s refusal page', { timeout: 60_000 }, async () => {
  const h = await openHost({ secret: 'refused', sub: 'dave', tamper: '1' });
  const error = await waitFor('onError', async () => (await h.events()).find((e) => e.type === 'error'), 20_000);
  assert.equal(error.reason, 'bad_signature');
  assert.equal((await h.events()).find((e) => e.type === 'ready'), undefined, 'the dashboard was shown');
  assert.equal(dashboardFrame(h.page), undefined);
  // What the hidden frame got: the page, with the status of the JSON answer.
  assert.equal(h.refused.length, 1, JSON.stringify(h.refused));
  const [r] = h.refused;
  assert.equal(r.status, 403);
  assert.equal(r.reason, 'bad_signature');
  assert.equal(r.path, '/.embedgate/open');
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(r.headers['content-security-policy'], /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+';/);
  assert.match(r.headers['content-security-policy'], new RegExp(`frame-ancestors ${hostOrigin.replace(/\./g, '\\.')}$`));
  // Posted to this page's origin (named in plain sight by the EG1 URL).
  assert.deepEqual((await h.page.evaluate(() => window.messages)).map((m) => m.data), [{ type: 'embedgate:error', reason: 'bad_signature' }]);
  await h.context.close();
});

test('the session page posts to the origin its URL names, and to no other', { timeout: 90_000 }, async () => {
  // Signed for another origin: the page may not be framed here (its
  // frame-ancestors), nothing arrives, and the SDK gives up with no_answer.
  const h = await openHost({ secret: 'origins', sub: 'erin', claim: otherOrigin, answerTimeout: '3000' });
  const error = await waitFor('onError', async () => (await h.events()).find((e) => e.type === 'error'), 40_000);
  assert.equal(error.reason, 'no_answer');
  assert.deepEqual(await h.page.evaluate(() => window.messages), []);
  assert.equal(dashboardFrame(h.page), undefined);
  await h.context.close();

  // With the page's frame-ancestors removed on its way (so it is shown
  // here all the same), its message still goes to the named origin only:
  // the page ran (it asked for its watch) and this page got nothing; the
  // same page signed for this origin is heard.
  for (const [claim, expected] of [[otherOrigin, 0], ['', 1]]) {
    const context = await browser.newContext();
    await context.route(`${proxyOrigin}/.embedgate/open?*`, async (route) => {
      // Fetched here (Node does not know embed.app.test: to its port, with its Host).
      const u = new URL(route.request().url());
      const { status, headers, body } = await new Promise((ok, fail) => {
        request({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, headers: { host: u.host, accept: 'text/html' } }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', fail).end();
      });
      assert.equal(status, 200, body.toString());
      headers['content-security-policy'] = headers['content-security-policy'].replace(/; frame-ancestors .*$/, '');
      await route.fulfill({ status, headers, body });
    });
    const watched = [];
    context.on('request', (r) => { if (r.url().startsWith(`${proxyOrigin}/.embedgate/watch`)) watched.push(r.url()); });
    const page = await context.newPage();
    await page.goto(`${hostOrigin}/?${new URLSearchParams({ secret: 'origins', sub: 'erin', claim, answerTimeout: '60000' })}`);
    await waitFor('the session page to run (its watch request)', () => watched.length > 0, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    const got = (await page.evaluate(() => window.messages)).filter((m) => m.data?.type === 'embedgate:renewed');
    assert.equal(got.length, expected, `claim ${claim || 'this page'}: ${JSON.stringify(got)}`);
    await context.close();
  }
});

test('messages from elsewhere than the proxy\'s frames are ignored', { timeout: 60_000 }, async () => {
  const h = await openHost({ secret: 'origins', sub: 'frank' });
  await waitFor('onReady', async () => (await h.events()).find((e) => e.type === 'ready'));
  // From this page itself, and from a frame of another origin.
  await h.page.evaluate((other) => {
    window.postMessage({ type: 'embedgate:error', reason: 'session_revoked' }, '*');
    const f = document.createElement('iframe');
    f.src = `${other}/embed.js`;
    document.body.appendChild(f);
  }, otherOrigin);
  const other = await waitFor('the other frame', () => h.page.frames().find((f) => f.url().startsWith(otherOrigin)));
  await other.evaluate(() => window.parent.postMessage({ type: 'embedgate:error', reason: 'session_revoked' }, '*'));
  // And a well-formed message with a wrong shape from the proxy's own frame.
  const frame = dashboardFrame(h.page);
  await frame.evaluate(() => window.parent.postMessage({ type: 'embedgate:error', reason: 'Not A Code <b>' }, '*'));
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual((await h.events()).filter((e) => e.type === 'error'), []);
  // The same from the dashboard's frame, well formed, is taken.
  await frame.evaluate(() => window.parent.postMessage({ type: 'embedgate:error', reason: 'session_revoked' }, '*'));
  const error = await waitFor('onError', async () => (await h.events()).find((e) => e.type === 'error'), 5000);
  assert.equal(error.reason, 'session_revoked');
  await h.context.close();
});
