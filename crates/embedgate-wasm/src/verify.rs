//! `verifyEmbedUrl` and `stringToSign`: verification with a verdict object
//! instead of an exception, plus what the playground needs to explain it.

use crate::error::{embed_error, invalid_argument};
use crate::options::{read_key, read_verify_options};
use embedgate_core::{
    EmbedKey, KeyStore, NonceCheck, Scheme, UnverifiedEmbedUrl, VerifiedEmbedUrl, VerifyPolicy,
};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    /// `EmbedKeys` in TypeScript.
    #[wasm_bindgen(typescript_type = "EmbedKeys")]
    pub type EmbedKeys;
    /// `VerifyOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "VerifyOptions")]
    pub type VerifyOptions;
    /// `VerifyResult` in TypeScript.
    #[wasm_bindgen(typescript_type = "VerifyResult")]
    pub type VerifyResult;
}

/// The EG1 string to sign for an absolute URL (spec §2), `eg_sig` excluded.
/// Throws `EmbedError` `malformed` when the URL cannot be canonicalised.
#[wasm_bindgen(js_name = stringToSign)]
pub fn string_to_sign(url: &str) -> Result<String, JsValue> {
    embedgate_core::string_to_sign(url).map_err(|e| embed_error(&e))
}

/// Verifies `url`, EG1 or EGJ1, against `keys` at `options.now`, without
/// replay state.
///
/// A refused URL is a result (`ok: false` and its `reason`), not an
/// exception; only wrong arguments throw.
#[wasm_bindgen(js_name = verifyEmbedUrl)]
pub fn verify_embed_url(
    url: &str,
    keys: &EmbedKeys,
    options: &VerifyOptions,
) -> Result<VerifyResult, JsValue> {
    let (now, policy) = read_verify_options(options)?;
    let keys = read_keys(keys)?;
    Ok(verify(url, &keys, now, &policy).to_js().unchecked_into())
}

/// Keys by `eg_kid`, looked up linearly: a verifier here holds a handful.
#[derive(Debug, Default)]
pub struct Keys(Vec<(String, EmbedKey)>);

impl Keys {
    /// Keys from `(kid, key)` pairs; a later pair for a kid replaces an earlier one.
    pub fn new(pairs: impl IntoIterator<Item = (String, EmbedKey)>) -> Self {
        let mut keys = Keys::default();
        for (kid, key) in pairs {
            keys.0.retain(|(k, _)| *k != kid);
            keys.0.push((kid, key));
        }
        keys
    }
}

impl KeyStore for Keys {
    type Key<'a> = &'a EmbedKey;
    fn key(&self, kid: &str) -> Option<&EmbedKey> {
        self.0.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

fn read_keys(keys: &JsValue) -> Result<Keys, JsValue> {
    if !keys.is_object() || js_sys::Array::is_array(keys) {
        return Err(invalid_argument(
            "keys must be an object of { kid: secret } or { kid: { secret, active, expiresAt, scopes } }",
        ));
    }
    let mut pairs = Vec::new();
    for entry in Object::entries(keys.unchecked_ref()).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let kid = entry.get(0).as_string().unwrap_or_default();
        pairs.push((kid, read_key(&entry.get(1))?));
    }
    Ok(Keys::new(pairs))
}

/// The verdict as JavaScript receives it (`VerifyResult`), converted by
/// [`Outcome::to_js`]: a plain object, absent fields left out (no serde, which
/// would add its generic machinery to the download).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Whether the URL verified.
    pub ok: bool,
    /// The reason code on failure.
    pub reason: Option<&'static str>,
    /// The failed rule in words.
    pub detail: Option<&'static str>,
    /// What the signature covers (`null` if nothing): the EG1 string to
    /// sign, or the EGJ1 token's `header.payload`.
    pub string_to_sign: Option<String>,
    /// What the key for the kid signs that string as, when the key is known.
    pub expected_signature: Option<String>,
    /// The verified fields (only `kid` and `scheme` on failure).
    pub fields: Fields,
}

/// `VerifiedFields`: all set when verified, only `kid` and `scheme` otherwise.
#[derive(Debug, Default)]
pub struct Fields {
    scheme: Option<&'static str>,
    kid: Option<String>,
    sub: Option<String>,
    exp: Option<u64>,
    nonce: Option<String>,
    session: Option<u64>,
    requested_session: Option<u64>,
    attrs: Option<Vec<(String, String)>>,
    host: Option<String>,
    path: Option<String>,
    forward_path_and_query: Option<String>,
}

impl Fields {
    fn verified(v: &VerifiedEmbedUrl) -> Self {
        Fields {
            scheme: Some(v.scheme().as_str()),
            kid: Some(v.kid().to_owned()),
            sub: Some(v.sub().to_owned()),
            exp: Some(v.exp()),
            nonce: Some(v.nonce().to_owned()),
            session: Some(v.session_secs()),
            requested_session: v.requested_session(),
            attrs: Some({
                // A plain loop: `map` + `collect` costs ~0.5 KB of wasm.
                let mut attrs = Vec::with_capacity(v.attrs().len());
                for (name, value) in v.attrs() {
                    attrs.push((name.to_owned(), value.to_owned()));
                }
                attrs
            }),
            host: Some(v.host().to_owned()),
            path: Some(v.path().to_owned()),
            forward_path_and_query: Some(v.forward_path_and_query()),
        }
    }
}

impl Outcome {
    /// The `VerifyResult` object: `stringToSign` is `null` when absent,
    /// every other absent field is left out.
    pub fn to_js(&self) -> JsValue {
        let obj = Object::new();
        set(&obj, "ok", JsValue::from_bool(self.ok));
        set_opt(&obj, "reason", self.reason.map(JsValue::from_str));
        set_opt(&obj, "detail", self.detail.map(JsValue::from_str));
        set(
            &obj,
            "stringToSign",
            self.string_to_sign
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
        );
        set_opt(
            &obj,
            "expectedSignature",
            self.expected_signature.as_deref().map(JsValue::from_str),
        );
        set(&obj, "fields", self.fields.to_js());
        obj.into()
    }
}

impl Fields {
    fn to_js(&self) -> JsValue {
        let obj = Object::new();
        let string = |s: &Option<String>| s.as_deref().map(JsValue::from_str);
        set_opt(&obj, "scheme", self.scheme.map(JsValue::from_str));
        set_opt(&obj, "kid", string(&self.kid));
        set_opt(&obj, "sub", string(&self.sub));
        set_opt(&obj, "exp", self.exp.map(number));
        set_opt(&obj, "nonce", string(&self.nonce));
        set_opt(&obj, "session", self.session.map(number));
        set_opt(&obj, "requestedSession", self.requested_session.map(number));
        if let Some(attrs) = &self.attrs {
            let a = Object::new();
            for (n, v) in attrs {
                set(&a, n, JsValue::from_str(v));
            }
            set(&obj, "attrs", a.into());
        }
        set_opt(&obj, "host", string(&self.host));
        set_opt(&obj, "path", string(&self.path));
        set_opt(
            &obj,
            "forwardPathAndQuery",
            string(&self.forward_path_and_query),
        );
        obj.into()
    }
}

/// A JS number when exact (up to 2^53 - 1), else a `BigInt`, as
/// serde-wasm-bindgen converted a `u64`.
fn number(n: u64) -> JsValue {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    if n <= MAX_SAFE {
        // Exact: at most 53 bits.
        #[allow(clippy::cast_precision_loss)]
        JsValue::from_f64(n as f64)
    } else {
        JsValue::from(n)
    }
}

fn set(obj: &Object, key: &str, value: JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value);
}

fn set_opt(obj: &Object, key: &str, value: Option<JsValue>) {
    if let Some(v) = value {
        set(obj, key, v);
    }
}

/// The verdict for `url`: pure Rust, so the native tests cover it.
pub fn verify(url: &str, keys: &Keys, now: u64, policy: &VerifyPolicy) -> Outcome {
    let mut out = Outcome::default();
    let result = UnverifiedEmbedUrl::parse(url).and_then(|u| {
        out.fields.scheme = Some(u.scheme().as_str());
        out.fields.kid = Some(u.kid().to_owned());
        out.string_to_sign = Some(u.string_to_sign().to_owned());
        if let Some(key) = keys.key(u.kid()) {
            out.expected_signature = Some(key.signature_for(u.string_to_sign()));
        }
        u.authenticate(keys, now, policy)?
            .accept(NonceCheck::NotTracked)
    });
    if out.string_to_sign.is_none() && Scheme::of_url(url) == Some(Scheme::Eg1) {
        // A malformed EG1 URL still has a string to sign, to compare with.
        out.string_to_sign = embedgate_core::string_to_sign(url).ok();
    }
    match result {
        Ok(v) => {
            out.ok = true;
            out.fields = Fields::verified(&v);
        }
        Err(e) => {
            out.reason = Some(e.code());
            out.detail = Some(e.detail());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo";
    const URL: &str = "https://embed.example.com/d/sales?orgId=1&eg_kid=ek_live_4f9c2a&eg_sub=user-42&eg_exp=1767225300&eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_sig=YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw";

    fn keys() -> Keys {
        Keys::new([
            ("ek_live_4f9c2a".to_owned(), EmbedKey::new(b"replaced")),
            (
                "ek_live_4f9c2a".to_owned(),
                EmbedKey::new(SECRET.as_bytes()),
            ),
        ])
    }

    #[test]
    fn a_valid_url_reports_its_fields() {
        let out = verify(URL, &keys(), 1_767_225_000, &VerifyPolicy::default());
        assert!(out.ok, "{out:?}");
        assert_eq!(out.reason, None);
        assert_eq!(out.fields.sub.as_deref(), Some("user-42"));
        assert_eq!(
            out.fields.forward_path_and_query.as_deref(),
            Some("/d/sales?orgId=1")
        );
        assert_eq!(
            out.expected_signature.as_deref(),
            Some("YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw")
        );
    }

    #[test]
    fn a_tampered_url_reports_reason_and_the_signature_it_should_carry() {
        let tampered = URL.replace("orgId=1", "orgId=2");
        let out = verify(&tampered, &keys(), 1_767_225_000, &VerifyPolicy::default());
        assert!(!out.ok);
        assert_eq!(out.reason, Some("bad_signature"));
        assert_eq!(
            out.fields.sub, None,
            "unverified fields must not be exposed"
        );
        assert_eq!(out.fields.kid.as_deref(), Some("ek_live_4f9c2a"));
        let sts = out.string_to_sign.expect("canonicalises");
        assert!(sts.ends_with("&orgId=2"), "{sts}");
        let expected = out.expected_signature.expect("key known");
        assert_ne!(expected, "YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw");
        assert_eq!(
            expected,
            EmbedKey::new(SECRET.as_bytes()).signature_for(&sts)
        );
    }

    const JWT_URL: &str = "https://embed.example.com/d/sales?eg_jwt=eyJhbGciOiJIUzI1NiIsImtpZCI6ImVrX2xpdmVfNGY5YzJhIiwidHlwIjoiSldUIn0.eyJhdWQiOiJlbWJlZC5leGFtcGxlLmNvbSIsInBhdGgiOiIvZC9zYWxlcyIsInBhcmFtcyI6eyJvcmdJZCI6IjEifSwic3ViIjoidXNlci00MiIsImV4cCI6MTc2NzIyNTMwMCwianRpIjoiWWMxbUIwc0Q3clgyYVE5dlQ0a0wifQ.gSA5LGshjzY5O98QOS-3RMbu5Y-UNWyxTJKuYpVT4NI";

    #[test]
    fn a_jwt_url_reports_the_same_fields_and_its_signing_input() {
        let out = verify(JWT_URL, &keys(), 1_767_225_000, &VerifyPolicy::default());
        assert!(out.ok, "{out:?}");
        assert_eq!(out.fields.scheme, Some("EGJ1"));
        assert_eq!(out.fields.sub.as_deref(), Some("user-42"));
        assert_eq!(
            out.fields.forward_path_and_query.as_deref(),
            Some("/d/sales?orgId=1")
        );
        let (signing_input, sig) = JWT_URL
            .split_once("eg_jwt=")
            .and_then(|(_, t)| t.rsplit_once('.'))
            .expect("token");
        assert_eq!(out.string_to_sign.as_deref(), Some(signing_input));
        assert_eq!(out.expected_signature.as_deref(), Some(sig));

        let other_path = JWT_URL.replace("/d/sales?", "/d/other?");
        let moved = verify(
            &other_path,
            &keys(),
            1_767_225_000,
            &VerifyPolicy::default(),
        );
        assert_eq!(moved.reason, Some("bad_signature"));
        assert_eq!(moved.fields.sub, None);
        assert_eq!(moved.fields.scheme, Some("EGJ1"));

        let broken = verify(
            &JWT_URL.replace("eg_jwt=eyJ", "eg_jwt=eyX"),
            &keys(),
            1_767_225_000,
            &VerifyPolicy::default(),
        );
        assert_eq!(broken.reason, Some("malformed"));
        assert_eq!(broken.string_to_sign, None);
    }

    #[test]
    fn an_unparseable_url_has_no_string_to_sign() {
        let out = verify("not a url", &keys(), 0, &VerifyPolicy::default());
        assert_eq!(out.reason, Some("malformed"));
        assert_eq!(out.string_to_sign, None);
        let unknown = verify(
            URL,
            &Keys::default(),
            1_767_225_000,
            &VerifyPolicy::default(),
        );
        assert_eq!(unknown.reason, Some("unknown_key"));
        assert_eq!(unknown.expected_signature, None);
    }
}
