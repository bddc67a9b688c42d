// `cargo xtask bench-wasm`: the WebAssembly package against JavaScript
// HMAC-SHA256 in Node and headless Chromium, plus its gzipped size.
// Prints a Markdown report and writes target/bench-wasm.json.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import * as nodeCrypto from 'node:crypto';
import os from 'node:os';

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { runBench } from './cases.mjs';
import { serve, launchChromium, ROOT } from '../shared/static-server.mjs';

const wasm = createRequire(import.meta.url)('../../pkg/node/index.cjs');
const NOBLE = 'wasm signEmbedUrl (one-shot)';

function size() {
  const dir = join(ROOT, 'crates/embedgate-wasm/pkg/web');
  const files = ['embedgate_wasm_bg.wasm', 'embedgate_wasm.js'];
  const raw = files.map((f) => readFileSync(join(dir, f)));
  return {
    files,
    rawBytes: raw.map((b) => b.length),
    gzipBytes: raw.map((b) => gzipSync(b, { level: 9 }).length),
  };
}

function table(title, run) {
  const by = Object.fromEntries(run.results.map((r) => [r.name, r.ns]));
  const noble = by['@noble/hashes hmac + JS URL building'];
  const webcrypto = by['WebCrypto subtle.sign (awaited) + JS URL building'];
  const lines = [`### ${title} (signed URL: ${run.urlBytes} bytes)`, '', '| contender | µs / URL | URLs / s | vs noble | vs WebCrypto |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const r of run.results) {
    lines.push(`| ${r.name} | ${(r.ns / 1000).toFixed(2)} | ${Math.round(1e9 / r.ns).toLocaleString('en-US')} | ${(noble / r.ns).toFixed(2)}× | ${(webcrypto / r.ns).toFixed(2)}× |`);
  }
  return lines.join('\n');
}

const load0 = os.loadavg().map((x) => x.toFixed(2)).join(', ');
const opts = { rounds: Number(process.env.BENCH_ROUNDS ?? 11), ms: Number(process.env.BENCH_MS ?? 200) };

const node = await runBench({ wasm, noble: { hmac, sha256 }, nodeCrypto, subtle: globalThis.crypto.subtle, ...opts });

const server = await serve();
const browser = await launchChromium();
let chromium;
let chromiumVersion;
try {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/`);
  chromiumVersion = browser.version();
  chromium = await page.evaluate(async (opts) => {
    const w = await import('/pkg/web/embedgate_wasm.js');
    await w.default();
    const { hmac } = await import('/noble/hmac.js');
    const { sha256 } = await import('/noble/sha2.js');
    const { runBench } = await import('/bench/cases.mjs');
    return runBench({ wasm: w, noble: { hmac, sha256 }, nodeCrypto: null, subtle: crypto.subtle, ...opts });
  }, opts);
} finally {
  await browser.close();
  await server.close();
}

const s = size();
const total = s.gzipBytes.reduce((a, b) => a + b, 0);
const report = [
  `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical CPUs), Node ${process.version}, Chromium ${chromiumVersion}.`,
  `Median of ${opts.rounds} interleaved rounds (each contender once per round) of ${opts.ms} ms each, after warm-up; every contender's URL is checked equal to the wasm one first. Load average before / after: ${load0} / ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}.`,
  '',
  table('Node', node),
  '',
  table('Headless Chromium', chromium),
  '',
  `Package size (web build, gzip -9): ${s.files.map((f, i) => `${f} ${s.rawBytes[i]} B raw / ${s.gzipBytes[i]} B gzipped`).join('; ')}; **total ${total} B gzipped (${(total / 1024).toFixed(1)} KiB)**.`,
].join('\n');
console.log(`\n${report}\n`);

const speed = (run, a, b) => {
  const by = Object.fromEntries(run.results.map((r) => [r.name, r.ns]));
  return by[b] / by[a];
};
const targets = [
  ['Node: one-shot ≥ 3× noble', speed(node, NOBLE, '@noble/hashes hmac + JS URL building'), 3],
  ['Node: EmbedSigner ≥ 4× noble', speed(node, 'wasm EmbedSigner.sign', '@noble/hashes hmac + JS URL building'), 4],
  ['Chromium: one-shot ≥ 3× noble', speed(chromium, NOBLE, '@noble/hashes hmac + JS URL building'), 3],
  ['Chromium: EmbedSigner ≥ 4× noble', speed(chromium, 'wasm EmbedSigner.sign', '@noble/hashes hmac + JS URL building'), 4],
  ['Chromium: EmbedSigner faster than awaited WebCrypto', speed(chromium, 'wasm EmbedSigner.sign', 'WebCrypto subtle.sign (awaited) + JS URL building'), 1],
  ['Chromium: one-shot faster than awaited WebCrypto', speed(chromium, NOBLE, 'WebCrypto subtle.sign (awaited) + JS URL building'), 1],
];
console.log('Targets:');
for (const [name, x, want] of targets) console.log(`  ${x >= want ? 'met   ' : 'MISSED'} ${name}: ${x.toFixed(2)}×`);
console.log(`  ${total <= 40 * 1024 ? 'met   ' : 'MISSED'} .wasm + JS glue ≤ 40 KiB gzipped: ${total} B`);

mkdirSync(join(ROOT, 'target'), { recursive: true });
writeFileSync(join(ROOT, 'target/bench-wasm.json'), JSON.stringify({ node, chromium, chromiumVersion, size: s, totalGzipBytes: total, report }, null, 1));
