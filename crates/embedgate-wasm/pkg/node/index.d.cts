// Types of the CommonJS entry (`require('@embedgate/wasm')` in Node, and
// TypeScript's `import` in a CommonJS module under `node16`/`nodenext`): the
// declarations wasm-bindgen generates for its `nodejs` build, plus the no-op
// `init`/`initSync` of `index.cjs`. A `.d.cts`, so TypeScript does not take
// it for an ES module (TS1479) in a package whose `type` is `module`.
//
// `EmbedSigner` has a `[Symbol.dispose]` method (`using signer = …`): the
// lib below declares `Symbol.dispose` for projects whose `lib` lacks it.
/// <reference lib="esnext.disposable" />

export * from './embedgate_wasm.js';

/** Does nothing in Node, where the module is loaded synchronously; code written for the browser build (`await init()`) runs unchanged. */
export declare function init(module_or_path?: unknown): Promise<void>;
/** Does nothing in Node, where the module is loaded synchronously. */
export declare function initSync(module?: unknown): void;
export default init;
