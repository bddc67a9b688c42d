//! `signEmbedUrl`, `signEmbedJwt` and the pre-keyed `EmbedSigner`.

use embedgate_core::{SignRequest, Signer};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::error::embed_error;
use crate::options::{read_key_fields, read_sign_fields, SignOptions, SignerOptions};

/// Signs one URL: `signEmbedUrl({ url, kid, secret, sub, exp | ttl, nonce?,
/// session?, attrs?, now? })` returns the signed URL.
///
/// It keys an HMAC per call; a server signing many URLs with one secret
/// should keep an [`EmbedSigner`] instead.
#[wasm_bindgen(js_name = signEmbedUrl)]
pub fn sign_embed_url(options: &SignOptions) -> Result<String, JsValue> {
    let (kid, secret) = read_key_fields(options)?;
    let signer = Signer::new(&kid, secret.as_bytes()).map_err(|e| embed_error(&e))?;
    drop(secret);
    sign_with(&signer, options, Form::Eg1)
}

/// Signs one URL in the EGJ1 form (an HS256 JWT in `eg_jwt`):
/// `signEmbedJwt({ url, kid, secret, sub, exp | ttl, nonce?, session?,
/// attrs?, now? })` returns `https://host/path?eg_jwt=…`. The content URL's
/// query travels in the token's `params`.
#[wasm_bindgen(js_name = signEmbedJwt)]
pub fn sign_embed_jwt(options: &SignOptions) -> Result<String, JsValue> {
    let (kid, secret) = read_key_fields(options)?;
    let signer = Signer::new(&kid, secret.as_bytes()).map_err(|e| embed_error(&e))?;
    drop(secret);
    sign_with(&signer, options, Form::Jwt)
}

/// Signs many URLs with one secret: `new EmbedSigner(kid, secret)`, then
/// `.sign({ url, sub, exp | ttl, … })` (EG1) or `.signJwt(…)` (EGJ1);
/// `.free()` releases it.
///
/// It keeps the HMAC state keyed once (never the secret text).
#[wasm_bindgen]
#[derive(Debug)]
pub struct EmbedSigner {
    signer: Signer,
}

#[wasm_bindgen]
impl EmbedSigner {
    /// A signer for `secret` (exactly as issued) known publicly as `kid`.
    /// Throws `EmbedError` `malformed` for a kid outside `A-Z a-z 0-9 _ -`.
    #[wasm_bindgen(constructor)]
    pub fn new(kid: &str, secret: String) -> Result<EmbedSigner, JsValue> {
        let secret = Zeroizing::new(secret);
        let signer = Signer::new(kid, secret.as_bytes()).map_err(|e| embed_error(&e))?;
        Ok(EmbedSigner { signer })
    }

    /// The key id this signer signs as.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> String {
        self.signer.kid().to_owned()
    }

    /// Returns the signed URL for `options` (see `SignerOptions`).
    pub fn sign(&self, options: &SignerOptions) -> Result<String, JsValue> {
        sign_with(&self.signer, options, Form::Eg1)
    }

    /// Returns the EGJ1 URL for `options` (see `SignerOptions`).
    #[wasm_bindgen(js_name = signJwt)]
    pub fn sign_jwt(&self, options: &SignerOptions) -> Result<String, JsValue> {
        sign_with(&self.signer, options, Form::Jwt)
    }
}

/// Which form to sign.
#[derive(Clone, Copy)]
enum Form {
    Eg1,
    Jwt,
}

fn sign_with(signer: &Signer, options: &JsValue, form: Form) -> Result<String, JsValue> {
    let f = read_sign_fields(options)?;
    let nonce = match f.nonce {
        Some(n) => n,
        None => crate::random::nonce()?,
    };
    let attrs: Vec<(&str, &str)> = f
        .attrs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = SignRequest {
        url: &f.url,
        sub: &f.sub,
        exp: f.exp,
        nonce: &nonce,
        session: f.session,
        attrs: &attrs,
    };
    match form {
        Form::Eg1 => signer.sign(&request),
        Form::Jwt => signer.sign_jwt(&request),
    }
    .map_err(|e| embed_error(&e))
}
