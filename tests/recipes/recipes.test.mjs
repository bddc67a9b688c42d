// The recipes of docs/recipes/, tested for real.
//
// 1. Every `[[routes]]` block in docs/recipes/*.md passes `embedgate serve
//    --check` against a real store (a wrong or unknown key fails here).
// 2. Streamlit and Dash, installed from PyPI (target/recipes-venv, pinned in
//    requirements.txt beside this file), each run behind `embedgate serve`
//    with the route block of its recipe. A host page on another origin
//    (http://app.test:PORT, its backend signing each embed URL with the
//    CLI) embeds the signed URL (http://embed.app.test:PORT/...) in an
//    iframe, the layout docs/deploy.md recommends: the proxy on a
//    subdomain of the host application, so the two are cross-origin but
//    same-site. Chromium resolves both names to 127.0.0.1. In the iframe the
//    test waits for the dashboard, checks the viewer's identity reached the
//    backend (the proxy's X-Embed-User and X-Embed-Attr-Tenant headers,
//    printed by the app), interacts once and checks the output changed.
//    Screenshots go to target/recipe-screenshots/.
//
// Environment: EMBEDGATE_BIN (default target/debug/embedgate),
// RECIPES_PYTHON (default target/recipes-venv/bin/python), CHROMIUM
// (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const RECIPES = join(ROOT, 'docs/recipes');
const BIN = process.env.EMBEDGATE_BIN || join(ROOT, 'target/debug/embedgate');
const PYTHON = process.env.RECIPES_PYTHON || join(ROOT, 'target/recipes-venv/bin/python');
const SHOTS = join(ROOT, 'target/recipe-screenshots');
const APP_HOST = 'app.test';
const EMBED_HOST = 'embed.app.test';
// Streamlit takes 10-20 s to start on a loaded 2-core machine; these are
// deadlines, not sleeps.
const START_DEADLINE = 180_000;
const UI_DEADLINE = 60_000;

let dir;
let browser;
const children = new Set();
const servers = new Set();

// ---------------------------------------------------------------------------
// Processes: every child is tracked and stopped in `after`, and killed on
// any exit of this process, so nothing outlives a failing test.

function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  child.label = name;
  child.output = '';
  child.stdout.on('data', (d) => { child.output += d; });
  child.stderr.on('data', (d) => { child.output += d; });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Polls `check` (async, truthy when done) until the deadline; fails with
 *  the output of `child` when it exits or the deadline passes. */
async function waitFor(what, check, { child, ms = START_DEADLINE } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${child.label} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}:\n${child.output}`);
    }
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}${child ? `\n${child.label} output:\n${child.output}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createTcpServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((ok, fail) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

function run(args, opts = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  return r;
}

// ---------------------------------------------------------------------------
// The recipes' route blocks: fenced ```toml blocks that start with
// [[routes]] (the other toml blocks are the dashboards' own files).

function routeBlocks(file) {
  const text = readFileSync(join(RECIPES, file), 'utf8');
  const blocks = [];
  for (const m of text.matchAll(/^```toml\n([\s\S]*?)^```$/gm)) {
    if (m[1].trimStart().startsWith('[[routes]]')) blocks.push(m[1]);
  }
  return blocks;
}

/** The recipe's (only) route block, pointed at this test's upstream port. */
function recipeRoute(file, upstreamPort) {
  const blocks = routeBlocks(file);
  assert.equal(blocks.length, 1, `${file} should hold exactly one [[routes]] block`);
  const block = blocks[0].replace(/^upstream = "http:\/\/127\.0\.0\.1:\d+"$/m, `upstream = "http://127.0.0.1:${upstreamPort}"`);
  assert.notEqual(block, blocks[0], `${file}: its route's upstream should be http://127.0.0.1:PORT`);
  return block;
}

function proxyConfig(store, routes, { insecure = true } = {}) {
  return `[listen]
public = "127.0.0.1:0"
admin = "off"

[store]
url = "sqlite://${store}"

${insecure ? '[session]\ninsecure_dev_cookies = true\n' : ''}
${routes}`;
}

const MASTER_KEY = randomBytes(32).toString('base64');
const storeEnv = () => ({ ...process.env, EMBEDGATE_MASTER_KEY: MASTER_KEY, EMBEDGATE_LOG: 'warn' });

function createSecret(store, name) {
  const r = run(['secrets', 'create', '--name', name, '--store', `sqlite://${store}`, '--json'], { env: storeEnv() });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  return { kid: j.secret.client_id, value: j.value };
}

// ---------------------------------------------------------------------------

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'embedgate-recipes-'));
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--no-first-run',
      // app.test and embed.app.test are this machine; nothing leaves it.
      `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1, MAP ${EMBED_HOST} 127.0.0.1`,
    ],
  });
});

after(async () => {
  await browser?.close();
  await Promise.all([...children].map(stop));
  await Promise.all([...servers].map((s) => new Promise((r) => s.close(r))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every route block in docs/recipes/ passes `embedgate serve --check`', () => {
  const files = readdirSync(RECIPES).filter((f) => f.endsWith('.md') && f !== 'README.md').sort();
  assert.deepEqual(files, ['dash.md', 'grafana.md', 'panel.md', 'streamlit.md', 'superset.md']);
  const store = join(dir, 'check.db');
  createSecret(store, 'check');
  for (const file of files) {
    const blocks = routeBlocks(file);
    assert.ok(blocks.length >= 1, `${file} has no [[routes]] block`);
    for (const block of blocks) {
      const cfg = join(dir, `check-${file}.toml`);
      writeFileSync(cfg, proxyConfig(store, block, { insecure: false }));
      const r = run(['serve', '--check', '--config', cfg], { env: storeEnv() });
      assert.equal(r.status, 0, `${file}: embedgate serve --check refused its route block:\n${block}\n${r.stderr}${r.stdout}`);
      assert.match(r.stdout, /configuration ok/);
    }
  }
});

test('the embedgate.toml of docs/deploy.md, with the systemd unit\'s variables and credentials, passes `embedgate serve --check`', () => {
  const page = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
  const configs = [...page.matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map((m) => m[1]).filter((b) => b.startsWith('[listen]'));
  assert.equal(configs.length, 1, 'docs/deploy.md should hold one embedgate.toml (a toml block starting with [listen])');
  const unit = readFileSync(join(ROOT, 'docs/deploy/embedgate.service'), 'utf8');

  // The credentials directory systemd would make (%d), from LoadCredential=.
  const creds = join(dir, 'credentials');
  mkdirSync(creds, { recursive: true });
  const loaded = [...unit.matchAll(/^LoadCredential=([^:\n]+):(\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(loaded.sort(), ['master.key', 'tls.crt', 'tls.key']);
  writeFileSync(join(creds, 'master.key'), `${MASTER_KEY}\n`);
  const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=embed.app.example.com', '-addext', 'subjectAltName=DNS:embed.app.example.com',
    '-keyout', join(creds, 'tls.key'), '-out', join(creds, 'tls.crt')], { encoding: 'utf8' });
  assert.equal(cert.status, 0, `openssl (needed to make a test certificate) failed: ${cert.error ?? cert.stderr}`);

  // The unit's Environment= lines, %d pointing at that directory.
  const env = { PATH: process.env.PATH };
  for (const m of unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)) env[m[1]] = m[2].replace('%d', creds);
  assert.ok(env.EMBEDGATE_MASTER_KEY_FILE && env.EMBEDGATE_TLS_CERT_FILE && env.EMBEDGATE_TLS_KEY_FILE, JSON.stringify(env));

  // The file as printed, on local ports and a temporary store (the same
  // master key: --check proves it against the store).
  const store = join(dir, 'deploy.db');
  createSecret(store, 'deploy');
  let config = configs[0]
    .replace(/^public = "0\.0\.0\.0:443"$/m, 'public = "127.0.0.1:0"')
    .replace(/^admin = "127\.0\.0\.1:8081"(.*)$/m, 'admin = "127.0.0.1:0"$1')
    .replace('sqlite:///var/lib/embedgate/store.db', `sqlite://${store}`);
  assert.doesNotMatch(config, /:443"|:8081"|\/var\/lib/, 'the substitutions above no longer match docs/deploy.md');
  const cfg = join(dir, 'deploy.toml');
  writeFileSync(cfg, config);
  const r = run(['serve', '--check', '--config', cfg], { env });
  assert.equal(r.status, 0, `embedgate serve --check refused docs/deploy.md's configuration:\n${r.stderr}${r.stdout}`);
  assert.match(r.stdout, /configuration ok/);
});

/**
 * One dashboard behind the proxy, embedded cross-origin: starts the proxy
 * (with the recipe's route block) and the host page; returns the page with
 * the embed loaded and the iframe's Frame.
 */
async function embedDashboard({ name, recipe, upstreamPort, path }) {
  const store = join(dir, `${name}.db`);
  const { kid, value } = createSecret(store, name);
  const cfg = join(dir, `${name}.toml`);
  writeFileSync(cfg, proxyConfig(store, recipeRoute(recipe, upstreamPort)));
  const check = run(['serve', '--check', '--config', cfg], { env: storeEnv() });
  assert.equal(check.status, 0, check.stderr);

  const proxy = start(`embedgate serve (${name})`, BIN, ['serve', '--config', cfg], { env: storeEnv() });
  const listening = await waitFor('embedgate serve to listen', () => proxy.output.match(/listening on 127\.0\.0\.1:(\d+)/), { child: proxy, ms: 30_000 });
  const proxyOrigin = `http://${EMBED_HOST}:${listening[1]}`;

  // The host application: its backend signs a fresh embed URL for each page
  // view (signed URLs are single-use) and puts it in an iframe.
  const host = createServer((req, res) => {
    if (req.url !== '/') {
      res.writeHead(404).end();
      return;
    }
    const r = run(['sign', `${proxyOrigin}${path}`, '--kid', kid, '--sub', 'alice', '--attr', 'tenant=acme', '--ttl', '120'], {
      env: { ...process.env, EMBEDGATE_SECRET: value },
    });
    if (r.status !== 0) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(r.stderr);
      return;
    }
    const signed = r.stdout.trim();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html>
<html><head><title>Host application</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:16px;background:#eef2f7}iframe{width:100%;height:620px;border:1px solid #8895a7;background:#fff}</style>
</head><body>
<h3>Host application (${APP_HOST}) embedding ${name} through embedgate (${EMBED_HOST})</h3>
<iframe id="embed" title="${name}" src="${signed.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"></iframe>
</body></html>`);
  });
  servers.add(host);
  await new Promise((r) => host.listen(0, '127.0.0.1', r));
  const hostOrigin = `http://${APP_HOST}:${host.address().port}`;

  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('response', (r) => {
    if (r.status() >= 400) {
      problems.push(`${r.status()} ${r.request().method()} ${r.url().replace(/\?.*/, '?…')} ${r.headers()['embedgate-reason'] ?? ''}`);
    }
  });
  await page.goto(`${hostOrigin}/`);
  const frame = await waitFor('the iframe to reach the proxy', () => page.frames().find((f) => f.url().startsWith(proxyOrigin)), { child: proxy, ms: 30_000 });

  // The two documents are cross-origin: the host page cannot read the embed.
  const access = await page.evaluate(() => {
    try {
      return document.getElementById('embed').contentWindow.document.title;
    } catch (e) {
      return e.name;
    }
  });
  assert.equal(access, 'SecurityError');
  return { page, frame, context, proxy, proxyOrigin, problems };
}

async function finish({ page, frame, context, problems }, name) {
  // on_success = "redirect": the signature left the iframe's address.
  assert.doesNotMatch(frame.url(), /eg_/, 'the iframe still shows the signed URL');
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  assert.deepEqual(problems, [], `${name}: errors in the page or refused requests`);
  await context.close();
}

test('Streamlit behind embedgate, in a cross-origin iframe: identity, WebSocket, one interaction', async () => {
  const port = await freePort();
  const base = 'streamlit';
  const app = start('streamlit', PYTHON, [
    '-m', 'streamlit', 'run', join(HERE, 'streamlit_app.py'),
    // The recipe's settings (docs/recipes/streamlit.md) ...
    '--server.baseUrlPath', base,
    '--server.headless', 'true',
    '--browser.gatherUsageStats', 'false',
    '--server.enableCORS', 'true',
    '--server.enableXsrfProtection', 'true',
    '--server.address', '127.0.0.1',
    // ... with this test's host and port.
    '--server.port', String(port),
    '--browser.serverAddress', EMBED_HOST,
    '--server.corsAllowedOrigins', `http://${EMBED_HOST}`,
    '--server.fileWatcherType', 'none',
  ], { cwd: dir, env: { ...process.env, HOME: dir } });
  await waitFor('Streamlit to answer its health check', async () => (await httpStatus(`http://127.0.0.1:${port}/${base}/_stcore/health`)) === 200, { child: app });

  const embed = await embedDashboard({ name: 'streamlit', recipe: 'streamlit.md', upstreamPort: port, path: `/${base}/` });
  const { frame } = embed;
  // The app prints the identity headers of the WebSocket request that opened
  // its session: they came from the proxy, the browser never had them.
  await frame.getByText('Viewer: alice (tenant acme)').waitFor({ timeout: UI_DEADLINE });
  await frame.getByText('Nobody greeted yet.').waitFor({ timeout: UI_DEADLINE });
  // One interaction: the value goes up the WebSocket, the rerun's output
  // comes back down it.
  const input = frame.getByLabel('Your name');
  await input.fill('Ada');
  await input.press('Enter');
  await frame.getByText('Hello, Ada, from Streamlit for alice!').waitFor({ timeout: UI_DEADLINE });
  assert.equal(await frame.getByText('Nobody greeted yet.').count(), 0);
  await finish(embed, 'streamlit');
});

test('Dash behind embedgate, in a cross-origin iframe: identity in the callback, one interaction', async () => {
  const port = await freePort();
  const app = start('dash', PYTHON, [join(HERE, 'dash_app.py'), String(port)], { cwd: dir });
  await waitFor('Dash to serve /dash/', async () => (await httpStatus(`http://127.0.0.1:${port}/dash/`)) === 200, { child: app });

  const embed = await embedDashboard({ name: 'dash', recipe: 'dash.md', upstreamPort: port, path: '/dash/' });
  const { frame } = embed;
  // The first callback (an XHR POST to /dash/_dash-update-component through
  // the proxy) read X-Embed-User and X-Embed-Attr-Tenant from flask.request.
  const answer = frame.locator('#answer');
  await waitFor('the first callback', async () => (await answer.textContent()) === 'Sales for north, shown to alice (tenant acme)', { ms: UI_DEADLINE });
  // One interaction: pick another region in the dropdown.
  await frame.locator('#region').click();
  await frame.getByRole('option', { name: 'south' }).click();
  await waitFor('the callback after the change', async () => (await answer.textContent()) === 'Sales for south, shown to alice (tenant acme)', { ms: UI_DEADLINE });
  await finish(embed, 'dash');
});
