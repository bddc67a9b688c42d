// A minimal static file server for the browser suites and the benchmark:
// URL prefixes map to directories of the repository; 127.0.0.1 only.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export const MOUNTS = {
  '/playground/': 'www/playground/',
  '/pkg/': 'crates/embedgate-wasm/pkg/',
  '/shared/': 'crates/embedgate-wasm/js-tests/shared/',
  '/bench/': 'crates/embedgate-wasm/js-tests/bench/',
  '/vectors/': 'tests/vectors/',
  '/noble/': 'crates/embedgate-wasm/js-tests/node_modules/@noble/hashes/',
};

/** Starts the server; resolves to `{ origin, close() }`. */
export function serve() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      res.end('<!doctype html><title>embedgate tests</title><link rel="icon" href="data:,">');
      return;
    }
    const mount = Object.keys(MOUNTS).find((m) => path.startsWith(m));
    if (!mount) {
      res.writeHead(404).end();
      return;
    }
    const base = join(ROOT, MOUNTS[mount]);
    let file = normalize(join(base, path.slice(mount.length)));
    if (!file.startsWith(base) && file + sep !== base) {
      res.writeHead(403).end();
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

/** Headless Chromium through playwright-core (Debian's chromium, not a download). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
}
