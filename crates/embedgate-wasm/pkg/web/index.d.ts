// Types of the browser and bundler entry (`web/embedgate_wasm.js`, an ES
// module): wasm-bindgen's declarations for its `web` build, with `init`
// (default) and `initSync`.
/// <reference lib="esnext.disposable" />

export * from './embedgate_wasm.js';
export { default } from './embedgate_wasm.js';
