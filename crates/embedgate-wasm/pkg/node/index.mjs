// Node, ES modules: the same instance as the CommonJS entry, so a program
// mixing `import` and `require` loads the WebAssembly module once.
import { createRequire } from 'node:module';

const cjs = createRequire(import.meta.url)('./index.cjs');

export const {
  signEmbedUrl,
  signEmbedJwt,
  EmbedSigner,
  verifyEmbedUrl,
  stringToSign,
  generateSecret,
  generateNonce,
  initSync,
} = cjs;
export default cjs.init;
