// The package's TypeScript types, as a user's project sees them: the packed
// tarball installed into a CommonJS and an ES module scratch project, each
// checked with `tsc --noEmit` under every module resolution a project uses
// (`node16`, `nodenext`, `bundler`; `node10` where TypeScript still has it),
// with TypeScript 5.9 and 7. Each check must report exactly one error: the
// deliberate one in `src/bad.ts` (so types that resolve to nothing, or to
// `any`, fail the test), and nothing else (no TS1479 from ES module types
// served to `require`, no error inside the package's declarations, since
// `skipLibCheck` is off). Then the node16 outputs run and sign the expected
// URL, and the names the types export are the names the entries export.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

import { pack, project, JS_TESTS, KID, SECRET, NOW, REQUEST, EXPECTED } from '../shared/packed.mjs';

const COMPILERS = {
  'typescript 5.9': join(JS_TESTS, 'node_modules/typescript/bin/tsc'),
  'typescript 7': join(JS_TESTS, 'node_modules/typescript-7/bin/tsc'),
};

// name → [project, compilerOptions, compilers]
const CONFIGS = {
  'cjs-node16': ['cjs', { module: 'node16', moduleResolution: 'node16' }],
  'cjs-nodenext': ['cjs', { module: 'nodenext', moduleResolution: 'nodenext' }],
  'cjs-node10': ['cjs', { module: 'commonjs', moduleResolution: 'node10' }, ['typescript 5.9']], // removed in TypeScript 7
  'esm-node16': ['esm', { module: 'node16', moduleResolution: 'node16' }],
  'esm-nodenext': ['esm', { module: 'nodenext', moduleResolution: 'nodenext' }],
  'esm-bundler': ['esm', { module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }],
  'esm-bundler-preserve': ['esm', { module: 'preserve', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }],
};

const request = JSON.stringify(REQUEST);

// Typed use of the API: every annotation must hold, or tsc reports it.
const MAIN = `import init, { signEmbedUrl, verifyEmbedUrl, stringToSign, generateSecret, EmbedSigner } from '@embedgate/wasm';
import type { SignOptions, VerifyResult, EmbedError, EmbedErrorCode } from '@embedgate/wasm';

export async function run(): Promise<string> {
  await init();
  const options: SignOptions = { ...${request}, kid: '${KID}', secret: '${SECRET}' };
  const url: string = signEmbedUrl(options);
  const result: VerifyResult = verifyEmbedUrl(url, { ${KID}: { secret: '${SECRET}', active: true } }, { now: ${NOW} });
  const sub: string | undefined = result.fields.sub;
  const canonical: string = stringToSign(url);
  const signer = new EmbedSigner('${KID}', '${SECRET}');
  const again: string = signer.sign(${request});
  const kid: string = signer.kid;
  signer.free();
  let code: EmbedErrorCode | undefined;
  try {
    signEmbedUrl({ ...options, url: 'not a url' });
  } catch (e) {
    code = (e as EmbedError).code;
  }
  const secret: string = generateSecret();
  return JSON.stringify({ url, ok: result.ok, sub, same: again === url, kid, canonical: canonical.length > 0, code, secret: secret.length });
}
`;

// The one error each check must report: a string is not a number.
const BAD = `import { signEmbedUrl } from '@embedgate/wasm';

export const wrong: number = signEmbedUrl({ ...${request}, kid: '${KID}', secret: '${SECRET}' });
`;

// CommonJS only: \`import x = require()\`, which compiles to a plain require.
const EQUALS = `import wasm = require('@embedgate/wasm');

export const url: string = wasm.signEmbedUrl({ ...${request}, kid: '${KID}', secret: '${SECRET}' });
`;

// The README's bundler recipe (esbuild's \`file\` loader, or Vite's \`?url\`)
// imports the .wasm as a URL; the project declares what its bundler gives.
const WASM_URL = `import init from '@embedgate/wasm';
import wasmUrl from '@embedgate/wasm/embedgate_wasm_bg.wasm';

export const ready: Promise<unknown> = init({ module_or_path: wasmUrl });
`;
const WASM_DECL = `declare module '*.wasm' {
  const url: string;
  export default url;
}
`;

const RUN_CJS = `require('./main.js').run().then((out) => console.log(out));\n`;
const RUN_ESM = `import { run } from './main.js';\nconsole.log(await run());\n`;

let packed;
const projects = {};

before(() => {
  packed = pack('embedgate-types-');
  projects.cjs = project(packed.dir, 'cjs', packed.tarball, { type: 'commonjs' });
  projects.esm = project(packed.dir, 'esm', packed.tarball, { type: 'module' });
  for (const [name, root] of Object.entries(projects)) {
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'src/main.ts'), MAIN);
    writeFileSync(join(root, 'src/bad.ts'), BAD);
    if (name === 'cjs') writeFileSync(join(root, 'src/equals.ts'), EQUALS);
    if (name === 'esm') {
      writeFileSync(join(root, 'src/wasm-url.ts'), WASM_URL);
      writeFileSync(join(root, 'src/wasm.d.ts'), WASM_DECL);
    }
  }
});
after(() => packed?.cleanup());

function tsconfig(root, name, options, extra = {}) {
  const file = `tsconfig.${name}.json`;
  writeFileSync(join(root, file), JSON.stringify({
    compilerOptions: { strict: true, target: 'es2022', lib: ['es2022'], types: [], esModuleInterop: true, skipLibCheck: false, ...options, ...extra },
    include: ['src'],
  }, null, 2));
  return file;
}

/** Runs tsc; returns its errors as `file(TSnnnn)`, paths relative to the project. */
function tsc(compiler, root, config) {
  const r = spawnSync(process.execPath, [COMPILERS[compiler], '-p', config, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.error, undefined, String(r.error));
  const out = `${r.stdout}${r.stderr}`;
  const errors = [...out.matchAll(/^(.+?)\(\d+,\d+\): error (TS\d+)/gm)].map((m) => `${relative(root, join(root, m[1]))}(${m[2]})`);
  return { status: r.status, errors, out };
}

for (const [name, [kind, options, compilers = Object.keys(COMPILERS)]] of Object.entries(CONFIGS)) {
  for (const compiler of compilers) {
    test(`${compiler}, ${name}: the API type-checks, a type error is reported`, () => {
      const root = projects[kind];
      const config = tsconfig(root, name, options, { noEmit: true });
      const { status, errors, out } = tsc(compiler, root, config);
      assert.notEqual(status, 0, `tsc passed although src/bad.ts has a type error:\n${out}`);
      assert.deepEqual(errors, ['src/bad.ts(TS2322)'], out);
    });
  }
}

test('the node16 builds run: CommonJS and ES module output sign the same URL', () => {
  for (const kind of ['cjs', 'esm']) {
    const root = projects[kind];
    const outDir = `out-${kind}`;
    const config = tsconfig(root, `${kind}-emit`, { module: 'node16', moduleResolution: 'node16' }, { outDir, rootDir: 'src' });
    tsc('typescript 5.9', root, config); // emits despite the error in bad.ts
    writeFileSync(join(root, outDir, 'run.js'), kind === 'cjs' ? RUN_CJS : RUN_ESM);
    const out = JSON.parse(execFileSync(process.execPath, ['run.js'], { cwd: join(root, outDir), encoding: 'utf8' }));
    assert.deepEqual(out, { url: EXPECTED, ok: true, sub: 'user-42', same: true, kid: KID, canonical: true, code: 'malformed', secret: 32 }, kind);
    if (kind === 'cjs') {
      const viaEquals = createRequire(join(root, outDir, 'x.js'))('./equals.js').url;
      assert.equal(viaEquals, EXPECTED);
    }
  }
});

// The names each entry's types export (values, not types) are the names it
// exports at run time: a function added to the bindings but not to a Node
// entry (or the reverse) fails here.
test('the declared exports of each entry are its run-time exports', async () => {
  const ts = createRequire(join(JS_TESTS, 'package.json'))('typescript');
  const root = projects.esm;
  const installed = join(root, 'node_modules/@embedgate/wasm');
  const entries = {
    'node/index.d.cts': ['require', 'node/index.cjs'],
    'node/index.d.mts': ['import', 'node/index.mjs'],
    'web/index.d.ts': ['import', 'web/embedgate_wasm.js'],
  };
  const program = ts.createProgram(Object.keys(entries).map((d) => join(installed, d)), {
    strict: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [], noEmit: true,
  });
  const checker = program.getTypeChecker();
  for (const [decl, [how, js]] of Object.entries(entries)) {
    const sym = checker.getSymbolAtLocation(program.getSourceFile(join(installed, decl)));
    const declared = checker.getExportsOfModule(sym)
      .filter((s) => {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        return target.flags & ts.SymbolFlags.Value;
      })
      .map((s) => s.escapedName)
      .sort();
    const module = how === 'require'
      ? createRequire(join(root, 'x.js'))(join(installed, js))
      : await import(pathToFileURL(join(installed, js)).href);
    const actual = Object.keys(module).sort();
    assert.deepEqual(declared, actual, `${decl} vs ${js}`);
  }
});
