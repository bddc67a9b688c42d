// The bundler recipes of the package README, run as written: the packed
// tarball installed into a scratch app, bundled with esbuild
// (`--loader:.wasm=file`) and with Vite (`vite build`, `?url`), each bundle
// served over HTTP to headless Chromium, where it must fetch the emitted
// .wasm and sign the expected URL; and the same Vite app on its dev server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

import { launchChromium } from '../shared/static-server.mjs';
import { pack, project, JS_TESTS, KID, SECRET, NOW, REQUEST, EXPECTED } from '../shared/packed.mjs';

let packed;
let app;
let browser;

// What both recipes run once the module is initialised.
const USE = `
const url = signEmbedUrl({ ...${JSON.stringify(REQUEST)}, kid: '${KID}', secret: '${SECRET}' });
const { ok } = verifyEmbedUrl(url, { ${KID}: '${SECRET}' }, { now: ${NOW} });
window.result = { url, ok };
`;

before(async () => {
  packed = pack('embedgate-bundlers-');
  app = project(packed.dir, 'app', packed.tarball, { type: 'module' });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  packed?.cleanup();
});

/** Serves `dir` on 127.0.0.1 (with `application/wasm` for .wasm). */
function serveDir(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) && file !== dir) return res.writeHead(403).end();
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => server.close(r)),
  })));
}

/** Loads the app at `origin`; returns what it signed and the .wasm it fetched. */
async function runInChromium(origin) {
  const page = await browser.newPage();
  const errors = [];
  const wasm = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasm.push(r.status()); });
  try {
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.result, null, { timeout: 20000 });
    return { result: await page.evaluate(() => window.result), errors, wasm };
  } finally {
    await page.close();
  }
}

/** Serves the built `dir` and loads it. */
async function runBuilt(dir) {
  const server = await serveDir(dir);
  try {
    return await runInChromium(server.origin);
  } finally {
    await server.close();
  }
}

test('esbuild: --loader:.wasm=file emits the .wasm, the bundle signs in Chromium', async () => {
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src/esbuild-main.js'), `import init, { signEmbedUrl, verifyEmbedUrl } from '@embedgate/wasm';
import wasmUrl from '@embedgate/wasm/embedgate_wasm_bg.wasm';

await init({ module_or_path: wasmUrl });
${USE}`);
  const out = join(app, 'dist-esbuild');
  execFileSync(join(JS_TESTS, 'node_modules/.bin/esbuild'), [
    'src/esbuild-main.js', '--bundle', '--format=esm', '--loader:.wasm=file', '--outdir=dist-esbuild', '--log-level=warning',
  ], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  writeFileSync(join(out, 'index.html'), '<!doctype html><link rel="icon" href="data:,"><script type="module" src="esbuild-main.js"></script>\n');
  const emitted = readdirSync(out).filter((f) => f.endsWith('.wasm'));
  assert.equal(emitted.length, 1, `one .wasm emitted: ${readdirSync(out).join(', ')}`);
  const { result, errors, wasm } = await runBuilt(out);
  assert.deepEqual(result, { url: EXPECTED, ok: true });
  assert.deepEqual(wasm, [200], 'the emitted .wasm was fetched');
  assert.deepEqual(errors, []);
});

test('Vite: vite build with ?url emits the .wasm, the bundle signs in Chromium', async () => {
  writeFileSync(join(app, 'index.html'), '<!doctype html><link rel="icon" href="data:,"><script type="module" src="/src/vite-main.js"></script>\n');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src/vite-main.js'), `import init, { signEmbedUrl, verifyEmbedUrl } from '@embedgate/wasm';
import wasmUrl from '@embedgate/wasm/embedgate_wasm_bg.wasm?url';

await init({ module_or_path: wasmUrl });
${USE}`);
  execFileSync(process.execPath, [join(JS_TESTS, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', 'dist-vite', '--logLevel', 'warn'], {
    cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  const assets = readdirSync(join(app, 'dist-vite/assets'));
  assert.equal(assets.filter((f) => f.endsWith('.wasm')).length, 1, `one .wasm emitted: ${assets.join(', ')}`);
  const { result, errors, wasm } = await runBuilt(join(app, 'dist-vite'));
  assert.deepEqual(result, { url: EXPECTED, ok: true });
  assert.deepEqual(wasm, [200], 'the emitted .wasm was fetched');
  assert.deepEqual(errors, []);
});

test('Vite: the same app on the dev server (pre-bundled dependency) signs in Chromium', async () => {
  // Runs after the build test, which wrote index.html and src/vite-main.js.
  const { createServer: createViteServer } = await import('vite');
  const server = await createViteServer({ root: app, logLevel: 'silent', server: { host: '127.0.0.1', port: 0, strictPort: false } });
  await server.listen();
  try {
    const origin = server.resolvedUrls.local[0].replace(/\/$/, '');
    const { result, errors, wasm } = await runInChromium(origin);
    assert.deepEqual(result, { url: EXPECTED, ok: true });
    assert.deepEqual(wasm, [200], 'the .wasm was fetched');
    assert.deepEqual(errors.filter((e) => !/\[vite\] (connecting|connected)/.test(e)), []);
  } finally {
    await server.close();
  }
});
