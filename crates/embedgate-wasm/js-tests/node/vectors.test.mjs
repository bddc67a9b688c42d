// The conformance vectors and the API of the WebAssembly package, in Node,
// through both the ES-module and the CommonJS entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import * as esm from '../../pkg/node/index.mjs';
import { runJwtVectors, runVectors } from '../shared/vectors.mjs';

const require = createRequire(import.meta.url);
const cjs = require('../../pkg/node/index.cjs');
const vectors = JSON.parse(readFileSync(new URL('../../../../tests/vectors/embed-url-v1.json', import.meta.url), 'utf8'));

const jwtVectors = JSON.parse(readFileSync(new URL('../../../../tests/vectors/embed-jwt-v1.json', import.meta.url), 'utf8'));

const SECRET = vectors.keys.ek_live_4f9c2a.secret;
const BASIC = vectors.cases.find((c) => c.name === 'basic');

for (const [name, api] of [['ESM', esm], ['CommonJS', cjs]]) {
  test(`every conformance vector through the wasm build (${name})`, () => {
    const { checked, failures } = runVectors(api, vectors);
    assert.equal(checked, vectors.cases.length);
    assert.ok(checked >= 30, `only ${checked} cases`);
    assert.deepEqual(failures, []);
  });
}

for (const [name, api] of [['ESM', esm], ['CommonJS', cjs]]) {
  test(`every EGJ1 vector through the wasm build (${name})`, () => {
    const { checked, failures } = runJwtVectors(api, jwtVectors);
    assert.equal(checked, 30);
    assert.deepEqual(failures, []);
  });
}

test('signEmbedJwt reproduces the EGJ1 vectors byte for byte', () => {
  const byName = Object.fromEntries(jwtVectors.cases.map((c) => [c.name, c]));
  const base = { kid: 'ek_live_4f9c2a', secret: SECRET, sub: 'user-42', exp: 1767225300, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' };
  assert.equal(esm.signEmbedJwt({ ...base, url: 'https://embed.example.com/d/sales?orgId=1' }), byName.basic.url);
  assert.equal(esm.signEmbedJwt({ ...base, url: 'https://embed.example.com/d/sales' }), byName['no params'].url);
  assert.equal(
    esm.signEmbedJwt({ ...base, url: 'https://embed.example.com/d/sales?q=a+b%2Bc%2F%C3%BC&empty' }),
    byName['params needing escapes'].url,
  );
  const signer = new esm.EmbedSigner('ek_live_4f9c2a', SECRET);
  assert.equal(
    signer.signJwt({
      url: 'https://embed.example.com/d/sales?var-region=emea&var-region=apac&orgId=1',
      sub: 'user-42',
      exp: 1767225300,
      nonce: 'Yc1mB0sD7rX2aQ9vT4kL',
      session: 1800,
      attrs: [['tenant', 'acme'], ['role', 'viewer']],
    }),
    byName['array params, attributes, session'].url,
  );
  signer.free();
});

test('EGJ1: ttl, a fresh jti, both forms verified by one function, refusals with codes', () => {
  const base = { url: 'https://h.example/d?x=1&x=2', kid: 'k1', secret: 's', sub: 'u' };
  const a = esm.signEmbedJwt({ ...base, ttl: 300, now: 1000 });
  const b = esm.signEmbedJwt({ ...base, ttl: 300, now: 1000 });
  assert.match(a, /^https:\/\/h\.example\/d\?eg_jwt=[\w-]+\.[\w-]+\.[\w-]{43}$/);
  assert.notEqual(a, b, 'a fresh jti each time');
  const r = esm.verifyEmbedUrl(a, { k1: 's' }, { now: 1000 });
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.fields.scheme, 'EGJ1');
  assert.equal(r.fields.exp, 1300);
  assert.match(r.fields.nonce, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(r.fields.forwardPathAndQuery, '/d?x=1&x=2');
  const eg1 = esm.verifyEmbedUrl(esm.signEmbedUrl({ ...base, ttl: 300, now: 1000 }), { k1: 's' }, { now: 1000 });
  assert.equal(eg1.fields.scheme, 'EG1');
  assert.equal(eg1.fields.forwardPathAndQuery, r.fields.forwardPathAndQuery);
  const other = esm.verifyEmbedUrl(a.replace('/d?', '/e?'), { k1: 's' }, { now: 1000 });
  assert.equal(other.reason, 'bad_signature');
  assert.equal(other.fields.scheme, 'EGJ1');
  assert.equal(other.fields.sub, undefined);
  const broken = esm.verifyEmbedUrl('https://h.example/d?eg_jwt=x.y.z', { k1: 's' }, { now: 1000 });
  assert.equal(broken.reason, 'malformed');
  assert.equal(broken.stringToSign, null);
  throwsCode(() => esm.signEmbedJwt({ ...base, url: 'https://h.example/d?eg_jwt=x', exp: 10, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' }), 'malformed', 'EmbedError');
  throwsCode(() => esm.signEmbedJwt({ ...base, url: 'https://h.example/d?a=%FF', exp: 10, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' }), 'malformed');
  throwsCode(() => esm.signEmbedJwt({ ...base, exp: 2 ** 53 + 2, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' }), 'invalid_argument');
  throwsCode(() => esm.signEmbedJwt({ ...base }), 'invalid_argument', 'TypeError');
});

test('ESM and CommonJS share one WebAssembly instance', () => {
  assert.equal(esm.signEmbedUrl, cjs.signEmbedUrl);
  assert.equal(esm.signEmbedJwt, cjs.signEmbedJwt);
  assert.equal(esm.EmbedSigner, cjs.EmbedSigner);
  assert.equal(typeof esm.default, 'function');
});

test('signEmbedUrl reproduces the basic vector byte for byte', () => {
  const url = esm.signEmbedUrl({
    url: 'https://embed.example.com/d/sales?orgId=1',
    kid: 'ek_live_4f9c2a',
    secret: SECRET,
    sub: 'user-42',
    exp: 1767225300,
    nonce: 'Yc1mB0sD7rX2aQ9vT4kL',
  });
  assert.equal(url, BASIC.url);
});

test('ttl counts from now, attrs may be pairs, a fresh nonce is drawn', () => {
  const base = { url: 'https://h.example/d?x=1', kid: 'k1', secret: 's', sub: 'u' };
  const a = new URL(esm.signEmbedUrl({ ...base, ttl: 300, now: 1000, attrs: [['tenant', 'acme']] }));
  const b = new URL(esm.signEmbedUrl({ ...base, ttl: 300, now: 1000, attrs: { tenant: 'acme' } }));
  assert.equal(a.searchParams.get('eg_exp'), '1300');
  assert.equal(a.searchParams.get('eg_attr.tenant'), 'acme');
  assert.match(a.searchParams.get('eg_nonce'), /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a.searchParams.get('eg_nonce'), b.searchParams.get('eg_nonce'));
  const r = esm.verifyEmbedUrl(a.href, { k1: 's' }, { now: 1000 });
  assert.equal(r.ok, true, r.detail);
  assert.deepEqual(r.fields.attrs, { tenant: 'acme' });
  assert.equal(r.fields.forwardPathAndQuery, '/d?x=1');
  // Without `now`, the host clock is used.
  const exp = Number(new URL(esm.signEmbedUrl({ ...base, ttl: 60 })).searchParams.get('eg_exp'));
  assert.ok(Math.abs(exp - (Math.floor(Date.now() / 1000) + 60)) <= 2, `${exp}`);
});

test('EmbedSigner signs like signEmbedUrl and reports its kid', () => {
  const signer = new esm.EmbedSigner('ek_live_4f9c2a', SECRET);
  assert.equal(signer.kid, 'ek_live_4f9c2a');
  const req = { url: 'https://embed.example.com/d/sales?orgId=1', sub: 'user-42', exp: 1767225300, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' };
  assert.equal(signer.sign(req), BASIC.url);
  for (let i = 0; i < 1000; i++) assert.equal(signer.sign(req), BASIC.url);
  signer.free();
});

function throwsCode(fn, code, name) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, 'an Error');
    assert.equal(e.code, code, e.message);
    if (name) assert.equal(e.name, name);
    return true;
  });
}

test('refusals throw Errors with the stable reason code, never the secret', () => {
  const base = { url: 'https://h.example/d', kid: 'k1', secret: 'do-not-print-me', sub: 'u', exp: 10, nonce: 'Yc1mB0sD7rX2aQ9vT4kL' };
  throwsCode(() => esm.signEmbedUrl({ ...base, kid: 'bad kid' }), 'malformed', 'EmbedError');
  throwsCode(() => esm.signEmbedUrl({ ...base, nonce: 'short' }), 'malformed', 'EmbedError');
  throwsCode(() => esm.signEmbedUrl({ ...base, sub: '' }), 'malformed');
  throwsCode(() => esm.signEmbedUrl({ ...base, url: 'https://h.example/d?eg_kid=x' }), 'malformed');
  throwsCode(() => esm.signEmbedUrl({ ...base, url: 'https://h.example/a/../b' }), 'malformed');
  throwsCode(() => esm.signEmbedUrl({ ...base, attrs: { Tenant: 'x' } }), 'malformed');
  throwsCode(() => esm.stringToSign('no-scheme/d'), 'malformed', 'EmbedError');
  throwsCode(() => new esm.EmbedSigner('', 'x'), 'malformed');
  try {
    esm.signEmbedUrl({ ...base, kid: 'bad kid' });
  } catch (e) {
    assert.ok(!String(e.message).includes('do-not-print-me'));
    assert.ok(!String(e.stack).includes('do-not-print-me'));
  }
});

test('wrong arguments throw TypeErrors with code invalid_argument', () => {
  const base = { url: 'https://h.example/d', kid: 'k1', secret: 's', sub: 'u', nonce: 'Yc1mB0sD7rX2aQ9vT4kL' };
  throwsCode(() => esm.signEmbedUrl(base), 'invalid_argument', 'TypeError');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: 10, ttl: 10 }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: -1 }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: 1.5 }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: '10' }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, ttl: 0 }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: 10, sub: 42 }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: 10, attrs: 'tenant=acme' }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl({ ...base, exp: 10, attrs: { tenant: 1 } }), 'invalid_argument');
  throwsCode(() => esm.signEmbedUrl(null), 'invalid_argument');
  throwsCode(() => esm.verifyEmbedUrl(BASIC.url, { ek_live_4f9c2a: SECRET }, {}), 'invalid_argument');
  throwsCode(() => esm.verifyEmbedUrl(BASIC.url, { ek_live_4f9c2a: { secret: SECRET, colour: 1 } }, { now: 1 }), 'invalid_argument');
  throwsCode(() => esm.verifyEmbedUrl(BASIC.url, 'secret', { now: 1 }), 'invalid_argument');
});

test('verifyEmbedUrl honours key status, expiry, scopes and policy', () => {
  const now = BASIC.now;
  const v = (key, opts = {}) => esm.verifyEmbedUrl(BASIC.url, { ek_live_4f9c2a: key }, { now, ...opts });
  assert.equal(v(SECRET).ok, true);
  assert.equal(v({ secret: SECRET, active: false }).reason, 'key_inactive');
  assert.equal(v({ secret: SECRET, expiresAt: now - 1 }).reason, 'key_inactive');
  assert.equal(v({ secret: SECRET, scopes: ['/d/other'] }).reason, 'out_of_scope');
  assert.equal(v({ secret: SECRET, scopes: ['/d/sales'] }).ok, true);
  assert.equal(v(SECRET, { maxUrlTtl: 100, skew: 0 }).reason, 'exp_too_far');
  assert.equal(v(SECRET, { now: 1767225300 + 61 }).reason, 'expired');
  assert.equal(v(SECRET, { now: 1767225300 + 61, skew: 120 }).ok, true);
  assert.equal(v(SECRET, { maxSession: 10 }).fields.session, 10);
  assert.equal(esm.verifyEmbedUrl(BASIC.url, {}, { now }).reason, 'unknown_key');
  const bad = esm.verifyEmbedUrl('https://h/%zz', {}, { now });
  assert.equal(bad.reason, 'malformed');
  assert.equal(bad.stringToSign, null);
});

test('generateSecret and generateNonce draw from a CSPRNG', () => {
  const secrets = new Set(Array.from({ length: 200 }, () => esm.generateSecret()));
  assert.equal(secrets.size, 200);
  for (const s of secrets) assert.match(s, /^[A-Za-z0-9]{32}$/);
  const all = [...secrets].join('');
  for (const ch of 'AZaz09') assert.ok(all.includes(ch), `${ch} never drawn`);
  const nonces = new Set(Array.from({ length: 200 }, () => esm.generateNonce()));
  assert.equal(nonces.size, 200);
  for (const n of nonces) assert.match(n, /^[A-Za-z0-9_-]{22}$/);
});
