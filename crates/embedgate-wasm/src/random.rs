//! `generateSecret` and `generateNonce` from the host's CSPRNG:
//! `crypto.getRandomValues`, which browsers and Node (19 and later, as
//! `globalThis.crypto`) provide.
//!
//! Bound directly rather than through `getrandom`'s `js` backend, whose
//! probing for `require("crypto")`, `msCrypto` and friends cost a dozen JS
//! imports and ~1 KB of the download for hosts this package does not target.

use rand_core::{CryptoRng, RngCore};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues(buf)`; throws when the host has no `crypto`.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<(), JsValue>;
}

/// A new embed secret: 32 base62 characters (about 190 bits).
#[wasm_bindgen(js_name = generateSecret)]
pub fn generate_secret() -> Result<String, JsValue> {
    let mut rng = JsRng::default();
    // The Rust copy is wiped when `secret` drops; JS gets its own string.
    let secret = embedgate_core::generate_secret(&mut rng);
    rng.check()?;
    Ok(secret.as_str().to_owned())
}

/// A new nonce: 22 characters of base64url (16 random bytes).
#[wasm_bindgen(js_name = generateNonce)]
pub fn generate_nonce() -> Result<String, JsValue> {
    nonce()
}

pub(crate) fn nonce() -> Result<String, JsValue> {
    let mut rng = JsRng::default();
    let nonce = embedgate_core::generate_nonce(&mut rng);
    rng.check()?;
    Ok(nonce)
}

/// `crypto.getRandomValues` as a [`RngCore`]. A failed call is remembered
/// rather than panicking; [`JsRng::check`] turns it into an error, and
/// whatever was generated with it is discarded.
#[derive(Debug, Default)]
struct JsRng {
    failed: bool,
}

impl JsRng {
    fn check(&self) -> Result<(), JsValue> {
        if self.failed {
            Err(JsValue::from(js_sys::Error::new(
                "no cryptographically secure random source (crypto.getRandomValues) in this JavaScript host",
            )))
        } else {
            Ok(())
        }
    }
}

impl RngCore for JsRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // getRandomValues takes at most 65,536 bytes per call.
        for chunk in dest.chunks_mut(65_536) {
            if get_random_values(chunk).is_err() {
                self.failed = true;
                chunk.fill(0);
            }
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for JsRng {}
