// The benchmark itself, shared by Node and Chromium: every contender signs
// the same ~300-byte URL; outputs are checked equal before anything is timed.
import { signSync, signAsync } from './js-signer.mjs';

export const REQUEST = {
  url: 'https://embed.example.com/d/sales-overview?orgId=1&var-region=emea&var-team=enterprise-accounts&from=now-7d&to=now&kiosk',
  kid: 'ek_live_4f9c2a',
  secret: 'q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo',
  sub: 'ana.maria@example.com',
  exp: 1767225300,
  nonce: 'Yc1mB0sD7rX2aQ9vT4kLpQ',
  session: 3600,
  attrs: { tenant: 'acme', role: 'viewer' },
};

const enc = new TextEncoder();

/** Warms `fn` up (JIT, wasm tier-up) and returns a batch size of ~5 ms. */
async function calibrate(fn, isAsync) {
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) isAsync ? await fn() : fn();
    if (performance.now() - t0 > 5) return batch;
    batch *= 2;
  }
}

/** ns per operation of one round of ~`ms` milliseconds. */
async function round({ fn, isAsync, batch }, ms) {
  let n = 0;
  let dt = 0;
  const t0 = performance.now();
  do {
    if (isAsync) for (let i = 0; i < batch; i++) await fn();
    else for (let i = 0; i < batch; i++) fn();
    n += batch;
    dt = performance.now() - t0;
  } while (dt < ms);
  return (dt * 1e6) / n;
}

/**
 * Median ns per operation of each contender over `rounds` rounds of ~`ms`
 * milliseconds. Rounds are interleaved (every contender once per round), so
 * that load from other processes on a shared machine hits every contender
 * alike instead of whichever happened to be running.
 */
async function timeAll(contenders, { rounds = 7, ms = 250 } = {}) {
  for (const c of contenders) c.batch = await calibrate(c.fn, c.isAsync);
  const perOp = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) perOp[i].push(await round(contenders[i], ms));
  }
  return contenders.map((c, i) => {
    const sorted = perOp[i].sort((a, b) => a - b);
    return { name: c.name, ns: sorted[rounds >> 1] };
  });
}

/**
 * `wasm`: the package; `noble`: { hmac, sha256 }; `nodeCrypto`: node:crypto
 * or null; `subtle`: WebCrypto SubtleCrypto.
 */
export async function runBench({ wasm, noble, nodeCrypto, subtle, rounds, ms }) {
  const req = REQUEST;
  const key = enc.encode(req.secret);
  const signer = new wasm.EmbedSigner(req.kid, req.secret);
  const signerReq = { url: req.url, sub: req.sub, exp: req.exp, nonce: req.nonce, session: req.session, attrs: req.attrs };
  const cryptoKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);

  const contenders = [
    { name: 'wasm signEmbedUrl (one-shot)', fn: () => wasm.signEmbedUrl(req) },
    { name: 'wasm EmbedSigner.sign', fn: () => signer.sign(signerReq) },
    { name: '@noble/hashes hmac + JS URL building', fn: () => signSync(req, (m) => noble.hmac(noble.sha256, key, m)) },
  ];
  if (nodeCrypto) {
    contenders.push({ name: 'node:crypto createHmac + JS URL building', fn: () => signSync(req, (m) => nodeCrypto.createHmac('sha256', key).update(m).digest()) });
  }
  contenders.push({ name: 'WebCrypto subtle.sign (awaited) + JS URL building', isAsync: true, fn: () => signAsync(req, (m) => subtle.sign('HMAC', cryptoKey, m)) });

  const expected = wasm.signEmbedUrl(req);
  if (expected.length < 280 || expected.length > 340) throw new Error(`the signed URL is ${expected.length} bytes, not ~300`);
  for (const c of contenders) {
    const got = c.isAsync ? await c.fn() : c.fn();
    if (got !== expected) throw new Error(`${c.name} signs differently:\n${got}\n${expected}`);
  }
  const results = await timeAll(contenders, { rounds, ms });
  signer.free();
  return { urlBytes: expected.length, results };
}
