// The shared conformance vectors (tests/vectors/embed-url-v1.json) through
// the WebAssembly package. Plain ESM with no Node or DOM imports, so the
// Node suite and the Chromium page run the very same checks.

/** `{ kid: { secret, active } }` of the vector file as `verifyEmbedUrl` keys. */
export function vectorKeys(vectors) {
  return Object.fromEntries(
    Object.entries(vectors.keys).map(([kid, k]) => [kid, { secret: k.secret, active: k.active }]),
  );
}

function secretOf(vectors, kid) {
  return vectors.keys[kid]?.secret;
}

/**
 * Runs every case; returns `{ checked, failures }` where each failure names
 * the case and what differed. Checks, per case:
 * - the verdict (`ok` or the reason code) equals `expect`;
 * - `stringToSign(url)` and the result's `stringToSign` equal the vector's;
 * - for a URL that verifies, signing its verified fields again (same kid,
 *   sub, exp, nonce, session, attributes, content URL) gives the same string
 *   to sign and the same `eg_sig`, one-shot and with `EmbedSigner`;
 * - for `bad_signature`, `expectedSignature` is the signature of the
 *   implied string to sign (it differs from the URL's `eg_sig`).
 */
export function runVectors(api, vectors) {
  const keys = vectorKeys(vectors);
  const failures = [];
  let checked = 0;
  const fail = (c, what) => failures.push(`${c.name}: ${what}`);
  for (const c of vectors.cases) {
    checked++;
    const r = api.verifyEmbedUrl(c.url, keys, { now: c.now, skew: vectors.skew, maxUrlTtl: vectors.max_url_ttl });
    const verdict = r.ok ? 'ok' : r.reason;
    if (verdict !== c.expect) fail(c, `verdict ${verdict} (${r.detail ?? ''}), expected ${c.expect}`);
    if (c.string_to_sign !== undefined) {
      if (r.stringToSign !== c.string_to_sign) fail(c, `result stringToSign ${JSON.stringify(r.stringToSign)}`);
      let sts;
      try {
        sts = api.stringToSign(c.url);
      } catch (e) {
        sts = `threw ${e.code}`;
      }
      if (sts !== c.string_to_sign) fail(c, `stringToSign() ${JSON.stringify(sts)}`);
    }
    const urlSig = new URL(c.url).searchParams.get('eg_sig');
    if (r.ok) {
      const f = r.fields;
      const secret = secretOf(vectors, f.kid);
      const request = {
        url: `https://${f.host}${f.forwardPathAndQuery}`,
        sub: f.sub,
        exp: f.exp,
        nonce: f.nonce,
        ...(f.requestedSession === undefined ? {} : { session: f.requestedSession }),
        attrs: f.attrs,
      };
      const again = api.signEmbedUrl({ ...request, kid: f.kid, secret });
      const signer = new api.EmbedSigner(f.kid, secret);
      const again2 = signer.sign(request);
      signer.free();
      if (again !== again2) fail(c, 'EmbedSigner and signEmbedUrl disagree');
      if (api.stringToSign(again) !== r.stringToSign) fail(c, `re-signed string to sign differs: ${api.stringToSign(again)}`);
      if (new URL(again).searchParams.get('eg_sig') !== urlSig) fail(c, 're-signed eg_sig differs');
      if (r.expectedSignature !== urlSig) fail(c, 'expectedSignature of a valid URL is not its eg_sig');
    }
    if (c.expect === 'bad_signature') {
      if (typeof r.expectedSignature !== 'string' || r.expectedSignature.length !== 43) {
        fail(c, `no expectedSignature (${r.expectedSignature})`);
      } else if (r.expectedSignature === urlSig) {
        fail(c, 'expectedSignature equals the rejected eg_sig');
      }
      if (r.fields.sub !== undefined) fail(c, 'an unverified URL exposes its sub');
    }
  }
  return { checked, failures };
}

/**
 * Runs every EGJ1 case (tests/vectors/embed-jwt-v1.json); returns
 * `{ checked, failures }`. Checks, per case:
 * - the verdict (`ok` or the reason code) equals `expect`;
 * - for a token that verifies: `scheme` is `EGJ1`, `forwardPathAndQuery`
 *   equals the case's `forward`, `stringToSign` is the token's
 *   `header.payload` and `expectedSignature` its signature; signing the
 *   verified fields again (`signEmbedJwt`, `EmbedSigner.signJwt`) gives a
 *   token that verifies to the same fields;
 * - for `bad_signature`, `expectedSignature` differs from the token's
 *   unless only the binding failed (signed for another host or path), and
 *   nothing unverified is exposed.
 */
export function runJwtVectors(api, vectors) {
  const keys = vectorKeys(vectors);
  const failures = [];
  let checked = 0;
  const fail = (c, what) => failures.push(`${c.name}: ${what}`);
  const options = (now) => ({ now, skew: vectors.skew, maxUrlTtl: vectors.max_url_ttl });
  for (const c of vectors.cases) {
    checked++;
    const r = api.verifyEmbedUrl(c.url, keys, options(c.now));
    const verdict = r.ok ? 'ok' : r.reason;
    if (verdict !== c.expect) fail(c, `verdict ${verdict} (${r.detail ?? ''}), expected ${c.expect}`);
    const token = new URL(c.url).searchParams.get('eg_jwt') ?? '';
    const cut = token.lastIndexOf('.');
    const [signingInput, tokenSig] = [token.slice(0, cut), token.slice(cut + 1)];
    if (r.ok) {
      const f = r.fields;
      if (f.scheme !== 'EGJ1') fail(c, `scheme ${f.scheme}`);
      if (f.forwardPathAndQuery !== c.forward) fail(c, `forward ${f.forwardPathAndQuery}, expected ${c.forward}`);
      if (r.stringToSign !== signingInput) fail(c, `stringToSign ${r.stringToSign}`);
      if (r.expectedSignature !== tokenSig) fail(c, 'expectedSignature of a valid token is not its signature');
      const request = {
        url: `https://${f.host}${f.forwardPathAndQuery}`,
        sub: f.sub,
        exp: f.exp,
        nonce: f.nonce,
        ...(f.requestedSession === undefined ? {} : { session: f.requestedSession }),
        attrs: f.attrs,
      };
      const secret = secretOf(vectors, f.kid);
      const again = api.signEmbedJwt({ ...request, kid: f.kid, secret });
      const signer = new api.EmbedSigner(f.kid, secret);
      const again2 = signer.signJwt(request);
      signer.free();
      if (again !== again2) fail(c, 'EmbedSigner.signJwt and signEmbedJwt disagree');
      const back = api.verifyEmbedUrl(again, keys, options(c.now));
      if (!back.ok) fail(c, `re-signed token refused: ${back.reason} (${back.detail})`);
      else if (JSON.stringify(back.fields) !== JSON.stringify(f)) fail(c, `re-signed fields differ: ${JSON.stringify(back.fields)}`);
    }
    if (c.expect === 'bad_signature') {
      // A token signed for another host or path has a matching MAC: its
      // expected signature is its own; a wrong secret's is not.
      const macMatches = r.expectedSignature === tokenSig;
      if (typeof r.expectedSignature !== 'string' || r.expectedSignature.length !== 43) {
        fail(c, `no expectedSignature (${r.expectedSignature})`);
      } else if (macMatches !== /another (host|path)/.test(c.name)) {
        fail(c, `expectedSignature ${macMatches ? 'equals' : 'differs from'} the token's`);
      }
      if (r.fields.sub !== undefined) fail(c, 'an unverified token exposes its sub');
    }
  }
  return { checked, failures };
}
