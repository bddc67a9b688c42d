// The playground's load state in headless Chromium: green "Runs in your
// browser" only once its WebAssembly module runs, and a clear message when
// the module is missing (a fresh clone before `cargo xtask demo` / `test`
// builds www/playground/pkg), instead of a dead page under a green badge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { serve, launchChromium } from '../shared/static-server.mjs';

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

const GREEN = 'rgb(60, 207, 122)';
const RED = 'rgb(229, 72, 77)';

async function dotColour(page) {
  return page.$eval('.local .dot', (el) => getComputedStyle(el).backgroundColor);
}

test('without its WebAssembly build the playground says so, and says how to build it', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The pkg/ folder of a fresh clone: nothing there.
  await page.route('**/playground/pkg/**', (route) => route.fulfill({ status: 404, body: 'not found\n' }));

  await page.goto(`${server.origin}/playground/`);
  await page.waitForSelector('body[data-ready="failed"]', { timeout: 10_000 });

  assert.equal(await page.isVisible('#load-error'), true);
  const message = await page.textContent('#load-error');
  assert.match(message, /WebAssembly build is missing/);
  assert.match(message, /pkg\/embedgate_wasm\.js: 404/);
  assert.match(message, /cargo xtask demo/);
  const state = await page.textContent('#local-state');
  assert.doesNotMatch(state, /Runs in your browser/);
  assert.match(state, /Not running/);
  assert.equal(await dotColour(page), RED);
  assert.equal(await page.isDisabled('#new-secret'), true, 'buttons that need the module are off');
  assert.deepEqual(errors, [], 'the failure is handled, not an uncaught error');
  await page.close();
});

test('with its WebAssembly build the playground runs, and only then shows green', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/playground/`);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 10_000 });
  assert.equal(await page.isVisible('#load-error'), false);
  assert.match(await page.textContent('#local-state'), /^Runs in your browser/);
  assert.equal(await dotColour(page), GREEN);
  await page.close();
});
