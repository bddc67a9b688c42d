//! Reading the JavaScript arguments: sign options, verify options, keys.
//!
//! Each property is read with its own getter rather than a generic
//! deserialiser: signing is the hot path of a server signing many URLs, and
//! serde's deserialisation errors would pull float formatting and more into
//! a download that should stay small (see docs/wasm.md). The checks that do
//! not need JavaScript live in plain functions, tested natively.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use embedgate_core::{normalise_path, EmbedKey, VerifyPolicy};
use zeroize::Zeroizing;

use crate::error::{embed_error, invalid_argument};

#[wasm_bindgen]
extern "C" {
    /// `SignOptions` in TypeScript: what `signEmbedUrl` takes.
    #[wasm_bindgen(typescript_type = "SignOptions")]
    pub type SignOptions;

    /// `SignerOptions` in TypeScript: what `EmbedSigner.sign` takes.
    #[wasm_bindgen(typescript_type = "SignerOptions")]
    pub type SignerOptions;

    /// Either options object, read property by property.
    pub type RawOptions;
    #[wasm_bindgen(method, getter, structural)]
    fn url(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn kid(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn secret(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn sub(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn exp(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn ttl(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn now(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn nonce(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn session(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn attrs(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn skew(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter = maxUrlTtl, structural)]
    fn max_url_ttl(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter = maxSession, structural)]
    fn max_session(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn active(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter = expiresAt, structural)]
    fn expires_at(this: &RawOptions) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn scopes(this: &RawOptions) -> JsValue;
}

/// The fields of a sign request, owned, as read from JavaScript.
#[derive(Debug)]
pub struct SignFields {
    /// The content URL.
    pub url: String,
    /// The external user id.
    pub sub: String,
    /// The resolved expiry, Unix seconds.
    pub exp: u64,
    /// The nonce, if the caller gave one.
    pub nonce: Option<String>,
    /// The wanted session length.
    pub session: Option<u64>,
    /// User attributes in the order given.
    pub attrs: Vec<(String, String)>,
}

/// Reads the request part shared by both options objects.
pub fn read_sign_fields(opts: &JsValue) -> Result<SignFields, JsValue> {
    let raw = as_options(opts)?;
    let url = required_string(raw.url(), "url")?;
    let sub = required_string(raw.sub(), "sub")?;
    let exp = optional_seconds(raw.exp(), "exp")?;
    let ttl = optional_seconds(raw.ttl(), "ttl")?;
    let exp = match (exp, ttl) {
        (Some(exp), None) => exp,
        (None, Some(ttl)) => {
            let now = match optional_seconds(raw.now(), "now")? {
                Some(now) => now,
                None => unix_now(),
            };
            expiry_from_ttl(now, ttl).map_err(invalid_argument)?
        }
        (Some(_), Some(_)) => return Err(invalid_argument("give exp or ttl, not both")),
        (None, None) => return Err(invalid_argument("give exp (Unix seconds) or ttl (seconds)")),
    };
    let nonce = optional_string(raw.nonce(), "nonce")?;
    let session = optional_seconds(raw.session(), "session")?;
    let attrs = read_attrs(&raw.attrs())?;
    Ok(SignFields {
        url,
        sub,
        exp,
        nonce,
        session,
        attrs,
    })
}

/// Reads `kid` and `secret` (for `signEmbedUrl`). The secret is returned in
/// memory that is wiped on drop.
pub fn read_key_fields(opts: &JsValue) -> Result<(String, Zeroizing<String>), JsValue> {
    let raw = as_options(opts)?;
    let kid = required_string(raw.kid(), "kid")?;
    let secret = Zeroizing::new(required_string(raw.secret(), "secret")?);
    Ok((kid, secret))
}

fn as_options(opts: &JsValue) -> Result<&RawOptions, JsValue> {
    if opts.is_object() {
        Ok(opts.unchecked_ref())
    } else {
        Err(invalid_argument("the options must be an object"))
    }
}

/// `VerifyOptions`: `now` (required) and the policy, defaults from the spec.
pub fn read_verify_options(opts: &JsValue) -> Result<(u64, VerifyPolicy), JsValue> {
    let raw = as_options(opts)?;
    let Some(now) = optional_seconds(raw.now(), "now")? else {
        return Err(invalid_argument(
            "verify options need now (Unix seconds): verification is reproducible",
        ));
    };
    let d = VerifyPolicy::default();
    let policy = VerifyPolicy {
        skew: optional_seconds(raw.skew(), "skew")?.unwrap_or(d.skew),
        max_url_ttl: optional_seconds(raw.max_url_ttl(), "maxUrlTtl")?.unwrap_or(d.max_url_ttl),
        max_session: optional_seconds(raw.max_session(), "maxSession")?.unwrap_or(d.max_session),
    };
    Ok((now, policy))
}

/// One `EmbedKeySpec`: a secret string, or `{ secret, active, expiresAt, scopes }`.
pub fn read_key(spec: &JsValue) -> Result<EmbedKey, JsValue> {
    if let Some(secret) = spec.as_string() {
        let secret = Zeroizing::new(secret);
        return Ok(EmbedKey::new(secret.as_bytes()));
    }
    let raw = as_options(spec)?;
    for name in Object::keys(spec.unchecked_ref::<Object>()).iter() {
        let known = name
            .as_string()
            .is_some_and(|n| matches!(n.as_str(), "secret" | "active" | "expiresAt" | "scopes"));
        if !known {
            return Err(invalid_argument(
                "a key is a secret string or { secret, active, expiresAt, scopes }",
            ));
        }
    }
    let secret = Zeroizing::new(required_string(raw.secret(), "secret")?);
    let active = raw.active();
    let active = if active.is_undefined() {
        true
    } else {
        active
            .as_bool()
            .ok_or_else(|| invalid_argument("active must be a boolean"))?
    };
    let scopes_raw = raw.scopes();
    let mut scopes = Vec::new();
    if !scopes_raw.is_undefined() {
        if !Array::is_array(&scopes_raw) {
            return Err(invalid_argument("scopes must be an array of path prefixes"));
        }
        for s in Array::from(&scopes_raw).iter() {
            let s = s
                .as_string()
                .ok_or_else(|| invalid_argument("scopes must be an array of path prefixes"))?;
            scopes.push(normalise_path(&s).map_err(|e| embed_error(&e))?);
        }
    }
    Ok(EmbedKey::new(secret.as_bytes())
        .with_active(active)
        .with_expires_at(optional_seconds(raw.expires_at(), "expiresAt")?)
        .with_scopes(scopes))
}

// Each JS↔wasm crossing costs about as much as hashing a few bytes, and
// signing is the hot path: the common case (the value has the right type)
// is tested first with one crossing, `undefined`/`null` only after.

fn required_string(v: JsValue, name: &str) -> Result<String, JsValue> {
    v.as_string()
        .ok_or_else(|| invalid_argument(&[name, " must be a string"].concat()))
}

fn optional_string(v: JsValue, name: &str) -> Result<Option<String>, JsValue> {
    match v.as_string() {
        Some(s) => Ok(Some(s)),
        None if v.is_null_or_undefined() => Ok(None),
        None => Err(invalid_argument(&[name, " must be a string"].concat())),
    }
}

/// A whole number of seconds: a JS number that is a non-negative safe integer.
fn optional_seconds(v: JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    match v.as_f64().map(seconds_from_f64) {
        Some(Ok(s)) => Ok(Some(s)),
        None if v.is_null_or_undefined() => Ok(None),
        _ => Err(invalid_argument(
            &[name, " must be a whole, non-negative number of seconds"].concat(),
        )),
    }
}

/// `x` as whole seconds, if it is a non-negative safe integer.
pub fn seconds_from_f64(x: f64) -> Result<u64, &'static str> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if (0.0..=MAX_SAFE).contains(&x) && x.fract() == 0.0 {
        // In range and integral, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(x as u64)
    } else {
        Err("not a whole, non-negative number of seconds")
    }
}

/// `now + ttl`, refusing a zero TTL and overflow.
pub fn expiry_from_ttl(now: u64, ttl: u64) -> Result<u64, &'static str> {
    if ttl == 0 {
        return Err("ttl must be at least 1 second");
    }
    now.checked_add(ttl).ok_or("now + ttl overflows")
}

/// The host's clock, whole Unix seconds.
pub fn unix_now() -> u64 {
    seconds_from_f64((js_sys::Date::now() / 1000.0).floor()).unwrap_or(0)
}

/// `attrs`: absent, an object of strings, or an array of `[name, value]`.
fn read_attrs(v: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let bad = || invalid_argument("each attribute must be a [name, value] pair of strings");
    if Array::is_array(v) {
        let pairs: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(pairs.length() as usize);
        for pair in pairs.iter() {
            if !Array::is_array(&pair) {
                return Err(bad());
            }
            let pair: Array = pair.unchecked_into();
            if pair.length() != 2 {
                return Err(bad());
            }
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(n), Some(val)) => out.push((n, val)),
                _ => return Err(bad()),
            }
        }
        Ok(out)
    } else if v.is_object() {
        // Names and values as two arrays: fewer crossings than an array
        // of `[name, value]` arrays (Object.entries). Names are strings.
        let obj: &Object = v.unchecked_ref();
        let (names, values) = (Object::keys(obj), Object::values(obj));
        let n = names.length();
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            match (names.get(i).as_string(), values.get(i).as_string()) {
                (Some(n), Some(val)) => out.push((n, val)),
                _ => return Err(bad()),
            }
        }
        Ok(out)
    } else if v.is_null_or_undefined() {
        Ok(Vec::new())
    } else {
        Err(invalid_argument(
            "attrs must be an object of strings or an array of [name, value] pairs",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_must_be_safe_whole_numbers() {
        assert_eq!(seconds_from_f64(0.0), Ok(0));
        assert_eq!(seconds_from_f64(1_767_225_300.0), Ok(1_767_225_300));
        assert_eq!(
            seconds_from_f64(9_007_199_254_740_991.0),
            Ok(9_007_199_254_740_991)
        );
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
            assert!(seconds_from_f64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ttl_is_added_to_now() {
        assert_eq!(expiry_from_ttl(1_000, 300), Ok(1_300));
        assert!(expiry_from_ttl(1_000, 0).is_err());
        assert!(expiry_from_ttl(u64::MAX, 1).is_err());
    }
}
