#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! * **Sans-IO and clock-free.** Nothing here reads a clock, a socket, a file
//!   or the environment; `now` and the random generator are arguments. That
//!   keeps every result reproducible and lets the same code run in a proxy,
//!   a CLI and a browser (`wasm32-unknown-unknown`, where `SystemTime::now`
//!   traps).
//! * **Parse, then verify, then use.** [`UnverifiedEmbedUrl`] →
//!   [`AuthenticEmbedUrl`] → [`VerifiedEmbedUrl`]; only the last exposes the
//!   user, attributes and the path to forward.
//! * **Constant-time, opaque failure.** The MAC is compared with
//!   `Mac::verify_slice`; failures carry one stable [`Reason`].
//! * **Readable against the spec.** Each step of spec §2 and each row of
//!   §3's table is one named function (`query.rs` steps 1-6, `path.rs`,
//!   `host.rs`, `params.rs` for §1, `verifier.rs` for §3). A literal
//!   transcription of the spec, sharing no code with the crate, lives in
//!   the tests (`spec_reference.rs`) and is run against it on hostile input.
//! * **Two forms, one contract.** EGJ1 (`embed-jwt-v1.md`: the same URL as
//!   an HS256 JWT in `eg_jwt`) reuses EG1's pieces: `jwt.rs` reads the
//!   compact JWS and its header, `json.rs` the JSON strictly, and
//!   `jwt_claims.rs` turns the claims into the EG1 parameters they stand
//!   for, which EG1's own rules check. [`UnverifiedEmbedUrl`] reads either
//!   form; the MAC is checked before the claims are read.
//! * **No key material in `Debug`.** [`Signer`] and [`EmbedKey`] hold
//!   pre-keyed HMAC states, never print them, and generated secrets live in
//!   [`zeroize::Zeroizing`] memory.
#![warn(missing_docs)]

mod base64url;
mod canonical;
#[cfg(test)]
mod differential;
mod generate;
mod host;
mod json;
mod jwt;
mod jwt_claims;
mod key;
mod params;
mod path;
mod percent;
mod query;
mod reason;
mod signer;
mod sort;
#[cfg(test)]
mod spec_reference;
mod url_parts;
mod verifier;

pub use canonical::{string_to_sign, SCHEME};
pub use generate::{generate_base62, generate_nonce, generate_secret, SECRET_LEN};
pub use key::{EmbedKey, KeyStore};
pub use params::SIG_LEN;
pub use path::{normalise_path, path_in_scope};
pub use reason::{EmbedError, Reason};
pub use signer::{SignRequest, Signer};
pub use verifier::{
    Attrs, AuthenticEmbedUrl, NonceCheck, Scheme, UnverifiedEmbedUrl, VerifiedEmbedUrl,
    VerifyPolicy,
};

/// Verifies an absolute URL without replay state (for tools and tests):
/// spec §3 steps 1-6 and 8, nonce treated as [`NonceCheck::NotTracked`].
///
/// ```
/// use std::collections::HashMap;
/// use embedgate_core::{verify_url, EmbedKey, Reason, VerifyPolicy};
/// let keys: HashMap<String, EmbedKey> = HashMap::new();
/// let url = "https://h/d?eg_kid=k1&eg_sub=u&eg_exp=10&eg_nonce=AAAAAAAAAAAAAAAA&eg_sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// assert_eq!(verify_url(url, &keys, 0, &VerifyPolicy::default()).unwrap_err().reason(), Reason::UnknownKey);
/// ```
pub fn verify_url<K: KeyStore + ?Sized>(
    url: &str,
    keys: &K,
    now: u64,
    policy: &VerifyPolicy,
) -> Result<VerifiedEmbedUrl, EmbedError> {
    UnverifiedEmbedUrl::parse(url)?
        .authenticate(keys, now, policy)?
        .accept(NonceCheck::NotTracked)
}
