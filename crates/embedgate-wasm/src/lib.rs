//! JavaScript and WebAssembly bindings of [`embedgate_core`].
//!
//! The same core that the proxy verifies with signs and explains embed URLs,
//! in both forms (EG1 `eg_` parameters, EGJ1 `eg_jwt` tokens), in Node and
//! in the browser. Everything here is a thin translation layer:
//!
//! * **Arguments in, results out.** Options objects are read property by
//!   property ([`options`]), result objects are built property by property
//!   ([`verify`]); no URL logic lives in this crate.
//! * **Errors keep the stable code.** A refusal from the core becomes a JS
//!   `Error` named `EmbedError` whose `code` is the spec §3 reason code
//!   (`malformed`, `bad_signature`, …); a wrong argument type becomes a
//!   `TypeError` with `code` `invalid_argument` ([`error`]).
//! * **The clock and randomness come from the host.** `now` defaults to
//!   `Date.now()`, nonces and secrets come from the host's
//!   `crypto.getRandomValues` (browsers; `globalThis.crypto` in Node 19+).
//! * **Secrets are not kept.** Secrets passed in are wiped after the HMAC
//!   key schedule; [`EmbedSigner`] holds only the keyed HMAC state.
//!
//! The crate also builds for the host target so that the workspace's lints
//! and tests cover it; calling the exported functions outside a
//! WebAssembly host panics, as wasm-bindgen's imports do.
#![warn(missing_docs)]

pub mod error;
pub mod options;
mod random;
mod sign;
pub mod verify;

pub use random::{generate_nonce, generate_secret};
pub use sign::{sign_embed_jwt, sign_embed_url, EmbedSigner};
pub use verify::{string_to_sign, verify_embed_url};

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** The stable reason codes of spec §3, plus `invalid_argument` for a wrong argument. */
export type EmbedErrorCode =
  | "malformed" | "unknown_key" | "key_inactive" | "bad_signature"
  | "expired" | "exp_too_far" | "replayed" | "out_of_scope"
  | "invalid_argument";

/** What every function of this package throws. Match on `code`; the message wording may change. */
export interface EmbedError extends Error {
  name: "EmbedError" | "TypeError";
  code: EmbedErrorCode;
}

/** User attributes: an object, or `[name, value]` pairs. Names are 1-64 of `a-z 0-9 _ -`. */
export type EmbedAttributes = Record<string, string> | ReadonlyArray<readonly [string, string]>;

/** What to sign, for `EmbedSigner.sign` (EG1) and `EmbedSigner.signJwt` (EGJ1). Give `exp` or `ttl`, not both. */
export interface SignerOptions {
  /** The absolute content URL, with its content parameters (filters) already in the query (EGJ1: they become the token's `params`). */
  url: string;
  /** The external user id (1-256 bytes). */
  sub: string;
  /** Expiry, Unix seconds (EGJ1: at most 2^53). */
  exp?: number;
  /** Lifetime in seconds from `now`. */
  ttl?: number;
  /** The signer's clock, Unix seconds (default: `Date.now()`); only used with `ttl`. */
  now?: number;
  /** 16-128 of `A-Z a-z 0-9 _ -` (default: a fresh random nonce). */
  nonce?: string;
  /** Wanted session length in seconds. */
  session?: number;
  attrs?: EmbedAttributes;
}

/** What to sign with which secret, for `signEmbedUrl` and `signEmbedJwt`. */
export interface SignOptions extends SignerOptions {
  /** The secret's public key id (`eg_kid`). */
  kid: string;
  /** The embed secret, exactly as issued. */
  secret: string;
}

/** A verification key: the secret, or the secret with its status. */
export type EmbedKeySpec = string | {
  secret: string;
  /** Default `true`; an inactive key answers `key_inactive`. */
  active?: boolean;
  /** The secret's own expiry, Unix seconds. */
  expiresAt?: number;
  /** Path prefixes the key is limited to (default: anywhere). */
  scopes?: string[];
};

/** Keys by `eg_kid` (EGJ1: the JWT header's `kid`). */
export type EmbedKeys = Record<string, EmbedKeySpec>;

/** The verifier's clock and settings (spec §3 defaults: skew 60, maxUrlTtl 600; maxSession 3600). */
export interface VerifyOptions {
  /** The verifier's clock, Unix seconds. Required: verification is reproducible. */
  now: number;
  skew?: number;
  maxUrlTtl?: number;
  maxSession?: number;
}

/** Which form a URL is signed in: `EG1` (`eg_` parameters and `eg_sig`) or `EGJ1` (`eg_jwt`). */
export type EmbedScheme = "EG1" | "EGJ1";

/** What a verified URL carries, the same for both forms. On failure only `kid` and `scheme` (when the URL parses) are present. */
export interface VerifiedFields {
  scheme?: EmbedScheme;
  kid?: string;
  sub?: string;
  exp?: number;
  nonce?: string;
  /** The session length the verifier grants (requested, clamped to maxSession). */
  session?: number;
  requestedSession?: number;
  attrs?: Record<string, string>;
  host?: string;
  path?: string;
  /** The normalised path and content query a proxy forwards (EGJ1: the query built from `params`). */
  forwardPathAndQuery?: string;
}

export interface VerifyResult {
  ok: boolean;
  /** The stable reason code when `ok` is false. */
  reason?: Exclude<EmbedErrorCode, "invalid_argument">;
  /** Which rule failed, in words (wording not stable). */
  detail?: string;
  /** What the signature covers: the EG1 string to sign the URL implies, or for EGJ1 the token's `header.payload`; null when there is none (a URL that cannot be canonicalised, a malformed EGJ1 token). */
  stringToSign: string | null;
  /** The signature the key for the kid gives `stringToSign` (diagnostics), when the URL parses and that key is known. */
  expectedSignature?: string;
  fields: VerifiedFields;
}
"#;
