//! `generateSecret` and `generateNonce` from the host's CSPRNG
//! (`crypto.getRandomValues` in browsers, `node:crypto` in Node).

use rand_core::OsRng;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// A new embed secret: 32 base62 characters (about 190 bits).
#[wasm_bindgen(js_name = generateSecret)]
pub fn generate_secret() -> Result<String, JsValue> {
    check_rng()?;
    // The Rust copy is wiped when `secret` drops; JS gets its own string.
    let secret = embedgate_core::generate_secret(&mut OsRng);
    Ok(secret.as_str().to_owned())
}

/// A new nonce: 22 characters of base64url (16 random bytes).
#[wasm_bindgen(js_name = generateNonce)]
pub fn generate_nonce() -> Result<String, JsValue> {
    nonce()
}

pub(crate) fn nonce() -> Result<String, JsValue> {
    check_rng()?;
    Ok(embedgate_core::generate_nonce(&mut OsRng))
}

/// `OsRng` panics (traps, on wasm) when the host has no CSPRNG; answer with
/// an error instead.
fn check_rng() -> Result<(), JsValue> {
    let mut probe = [0u8; 1];
    getrandom::getrandom(&mut probe).map_err(|_| {
        JsValue::from(js_sys::Error::new(
            "no cryptographically secure random source (crypto.getRandomValues) in this JavaScript host",
        ))
    })
}
