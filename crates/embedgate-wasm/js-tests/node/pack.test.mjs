// `npm pack` gives an installable tarball: install it into a scratch project
// (no registry involved) and use it from Node ESM and CommonJS; its
// metadata points at the project.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { pack, project, PKG, KID, SECRET, NOW, REQUEST, EXPECTED } from '../shared/packed.mjs';

test('npm pack → install the tarball → import and require it', (t) => {
  const packed = pack();
  t.after(packed.cleanup);
  const { files } = packed;
  for (const f of ['package.json', 'README.md', 'web/embedgate_wasm.js', 'web/embedgate_wasm_bg.wasm', 'web/embedgate_wasm.d.ts', 'web/index.d.ts',
    'node/index.cjs', 'node/index.mjs', 'node/index.d.cts', 'node/index.d.mts', 'node/package.json', 'node/embedgate_wasm.js',
    'node/embedgate_wasm.d.ts', 'node/embedgate_wasm_bg.wasm']) {
    assert.ok(files.includes(f), `${f} missing from the tarball: ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.endsWith('.tgz') || f.includes('node_modules')), files.join(', '));

  const app = project(packed.dir, 'app', packed.tarball);
  assert.ok(existsSync(join(app, 'node_modules/@embedgate/wasm/package.json')));

  const request = JSON.stringify(REQUEST);
  writeFileSync(join(app, 'esm.mjs'), `
import init, { EmbedSigner, verifyEmbedUrl } from '@embedgate/wasm';
await init();
const signer = new EmbedSigner('${KID}', '${SECRET}');
const url = signer.sign(${request});
const r = verifyEmbedUrl(url, { ${KID}: '${SECRET}' }, { now: ${NOW} });
console.log(JSON.stringify({ url, ok: r.ok, sub: r.fields.sub }));
`);
  writeFileSync(join(app, 'cjs.cjs'), `
const { signEmbedUrl, verifyEmbedUrl } = require('@embedgate/wasm');
const url = signEmbedUrl({ ...${request}, kid: '${KID}', secret: '${SECRET}' });
const r = verifyEmbedUrl(url, { ${KID}: '${SECRET}' }, { now: ${NOW} });
console.log(JSON.stringify({ url, ok: r.ok, sub: r.fields.sub }));
`);
  for (const script of ['esm.mjs', 'cjs.cjs']) {
    const out = JSON.parse(execFileSync(process.execPath, [script], { cwd: app, encoding: 'utf8' }));
    assert.deepEqual(out, { url: EXPECTED, ok: true, sub: 'user-42' }, script);
  }
  // The export map resolves the package's own files, not the repository's.
  const resolved = execFileSync(process.execPath, ['-e', "console.log(require.resolve('@embedgate/wasm'))"], { cwd: app, encoding: 'utf8' }).trim();
  assert.equal(resolved, join(app, 'node_modules/@embedgate/wasm/node/index.cjs'));
});

test('package.json names the repository, homepage, bugs and keywords', () => {
  const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));
  // One source of truth: the workspace's `repository` (root Cargo.toml).
  const cargo = readFileSync(join(PKG, '../../../Cargo.toml'), 'utf8');
  const repo = cargo.match(/^\[workspace\.package\][^[]*?^repository\s*=\s*"([^"]+)"/m)?.[1];
  assert.ok(repo, 'workspace.package.repository in Cargo.toml');
  assert.deepEqual(manifest.repository, { type: 'git', url: repo, directory: 'crates/embedgate-wasm/pkg' });
  assert.equal(manifest.homepage, repo);
  assert.equal(manifest.bugs?.url, `${repo}/issues`);
  assert.ok(Array.isArray(manifest.keywords) && manifest.keywords.includes('webassembly'), String(manifest.keywords));
  assert.equal(manifest.license, 'Apache-2.0');
  // Every file the export map and the legacy fields name is in `files`.
  const named = new Set();
  const walk = (v) => { if (typeof v === 'string') named.add(v.replace(/^\.\//, '')); else if (v) Object.values(v).forEach(walk); };
  walk(manifest.exports);
  for (const k of ['main', 'module', 'browser', 'types']) walk(manifest[k]);
  named.delete('package.json');
  for (const f of named) assert.ok(manifest.files.includes(f), `${f} is named but not in "files"`);
  // Each export condition lists `types` first (TypeScript takes the first match).
  const conditions = (v) => (v && typeof v === 'object' ? [v, ...Object.values(v).flatMap(conditions)] : []);
  for (const c of conditions(manifest.exports['.'])) {
    if ('types' in c) assert.equal(Object.keys(c)[0], 'types', JSON.stringify(c));
  }
});
