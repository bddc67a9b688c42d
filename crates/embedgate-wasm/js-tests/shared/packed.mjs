// The npm package as a user gets it: `npm pack` of `pkg/`, installed from
// the tarball (offline: no registry involved) into scratch projects. Shared
// by the pack, TypeScript and bundler suites.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG = fileURLToPath(new URL('../../pkg/', import.meta.url));
/** `js-tests/`, whose `node_modules` holds the pinned tools (typescript, esbuild, vite). */
export const JS_TESTS = fileURLToPath(new URL('../', import.meta.url));

export const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// One signing request with every input fixed, and the URL it must give
// (the same as the conformance case the pack test has always used).
export const KID = 'ek_live_4f9c2a';
export const SECRET = 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo';
export const NOW = 1767225000;
export const REQUEST = { url: 'https://embed.example.com/d/sales?orgId=1', sub: 'user-42', exp: 1767225300, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' };
export const EXPECTED = 'https://embed.example.com/d/sales?orgId=1&eg_kid=ek_live_4f9c2a&eg_sub=user-42&eg_exp=1767225300&eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_sig=YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw';

/**
 * Packs `pkg/` into a fresh temp dir; returns `{ dir, tarball, files,
 * cleanup() }`. `files` are the paths inside the tarball.
 */
export function pack(prefix = 'embedgate-pack-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PKG));
  return {
    dir,
    tarball: join(dir, packed.filename),
    files: packed.files.map((f) => f.path).sort(),
    manifest: packed,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A scratch project `dir/name` with `package.json` fields `fields` and the
 * tarball installed; returns its path.
 */
export function project(dir, name, tarball, fields = {}) {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true, version: '1.0.0', ...fields }, null, 2));
  npm(['install', '--no-audit', '--no-fund', '--offline', tarball], root);
  return root;
}
