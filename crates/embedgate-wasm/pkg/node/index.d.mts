// Types of the ES module entry (`import … from '@embedgate/wasm'` in Node,
// `index.mjs`): the same instance and declarations as the CommonJS entry
// (`index.d.cts`); `init` is the default export only, as in `index.mjs`.
/// <reference lib="esnext.disposable" />

export * from './embedgate_wasm.js';

/** Does nothing in Node, where the module is loaded synchronously. */
export declare function initSync(module?: unknown): void;
/** Does nothing in Node, where the module is loaded synchronously; code written for the browser build (`await init()`) runs unchanged. */
declare function init(module_or_path?: unknown): Promise<void>;
export default init;
