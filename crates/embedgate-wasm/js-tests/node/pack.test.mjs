// `npm pack` gives an installable tarball: install it into a scratch project
// (no registry involved) and use it from Node ESM and CommonJS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = fileURLToPath(new URL('../../pkg/', import.meta.url));
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack → install the tarball → import and require it', (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'embedgate-pack-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));

  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], PKG));
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'README.md', 'web/embedgate_wasm.js', 'web/embedgate_wasm_bg.wasm', 'web/embedgate_wasm.d.ts',
    'node/index.cjs', 'node/index.mjs', 'node/package.json', 'node/embedgate_wasm.js', 'node/embedgate_wasm_bg.wasm']) {
    assert.ok(files.includes(f), `${f} missing from the tarball: ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.endsWith('.tgz') || f.includes('node_modules')), files.join(', '));

  const project = join(scratch, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, version: '1.0.0' }));
  npm(['install', '--no-audit', '--no-fund', '--offline', join(scratch, packed.filename)], project);
  assert.ok(existsSync(join(project, 'node_modules/@embedgate/wasm/package.json')));

  const expected = 'https://embed.example.com/d/sales?orgId=1&eg_kid=ek_live_4f9c2a&eg_sub=user-42&eg_exp=1767225300&eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_sig=YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw';
  const request = `{ url: 'https://embed.example.com/d/sales?orgId=1', sub: 'user-42', exp: 1767225300, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' }`;
  writeFileSync(join(project, 'esm.mjs'), `
import init, { EmbedSigner, verifyEmbedUrl } from '@embedgate/wasm';
await init();
const signer = new EmbedSigner('ek_live_4f9c2a', 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo');
const url = signer.sign(${request});
const r = verifyEmbedUrl(url, { ek_live_4f9c2a: 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo' }, { now: 1767225000 });
console.log(JSON.stringify({ url, ok: r.ok, sub: r.fields.sub }));
`);
  writeFileSync(join(project, 'cjs.cjs'), `
const { signEmbedUrl, verifyEmbedUrl } = require('@embedgate/wasm');
const url = signEmbedUrl({ ...${request}, kid: 'ek_live_4f9c2a', secret: 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo' });
const r = verifyEmbedUrl(url, { ek_live_4f9c2a: 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo' }, { now: 1767225000 });
console.log(JSON.stringify({ url, ok: r.ok, sub: r.fields.sub }));
`);
  for (const script of ['esm.mjs', 'cjs.cjs']) {
    const out = JSON.parse(execFileSync(process.execPath, [script], { cwd: project, encoding: 'utf8' }));
    assert.deepEqual(out, { url: expected, ok: true, sub: 'user-42' }, script);
  }
  // The export map resolves the package's own files, not the repository's.
  const resolved = execFileSync(process.execPath, ['-e', "console.log(require.resolve('@embedgate/wasm'))"], { cwd: project, encoding: 'utf8' }).trim();
  assert.equal(resolved, join(project, 'node_modules/@embedgate/wasm/node/index.cjs'));
});
