'use strict';
// Node, CommonJS: the wasm-bindgen `nodejs` build, which loads the module
// synchronously. `init`/`initSync` exist so that code written for the
// browser build (`await init()`) runs unchanged.
const wasm = require('./embedgate_wasm.js');

async function init() {}
function initSync() {}

module.exports = {
  signEmbedUrl: wasm.signEmbedUrl,
  signEmbedJwt: wasm.signEmbedJwt,
  EmbedSigner: wasm.EmbedSigner,
  verifyEmbedUrl: wasm.verifyEmbedUrl,
  stringToSign: wasm.stringToSign,
  generateSecret: wasm.generateSecret,
  generateNonce: wasm.generateNonce,
  init,
  initSync,
  default: init,
};
// What TypeScript, Babel and esbuild take as "compiled from an ES module":
// `import init from '@embedgate/wasm'` in CommonJS code then gets `default`
// (as `index.d.cts` declares), not the whole exports object. Not
// enumerable, so it is no export of its own.
Object.defineProperty(module.exports, '__esModule', { value: true });
