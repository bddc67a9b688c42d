//! Producing signed embed URLs.

use core::fmt;

use hmac::Mac;

use crate::canonical::{Canonical, SigField};
use crate::key::{new_mac, HmacSha256};
use crate::params::{check_attr_name, check_kid, check_nonce, check_sub, encode_sig};
use crate::percent::encode_query_component;
use crate::reason::EmbedError;

/// What to sign: the content URL and the viewer.
#[derive(Clone, Copy, Debug)]
pub struct SignRequest<'a> {
    /// The absolute content URL, with any content parameters (filters)
    /// already in its query. It must carry no `eg_` parameter.
    pub url: &'a str,
    /// The external user id (1-256 bytes).
    pub sub: &'a str,
    /// Expiry of the URL, Unix seconds.
    pub exp: u64,
    /// 16-128 of `A-Z a-z 0-9 _ -`; see [`crate::generate_nonce`].
    pub nonce: &'a str,
    /// Wanted session length in seconds.
    pub session: Option<u64>,
    /// User attributes as `(name, value)`; names 1-64 of `a-z 0-9 _ -`.
    pub attrs: &'a [(&'a str, &'a str)],
}

/// Signs embed URLs for one secret.
///
/// The HMAC state is keyed once at construction, so each signature costs
/// only the hash of the string to sign. `Debug` shows the key id, never key
/// material.
///
/// ```
/// use embedgate_core::{SignRequest, Signer, UnverifiedEmbedUrl, VerifyPolicy, EmbedKey, NonceCheck};
/// let signer = Signer::new("ek_demo", b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo").unwrap();
/// let url = signer.sign(&SignRequest {
///     url: "https://embed.example.com/d/sales?orgId=1",
///     sub: "user-42",
///     exp: 1_767_225_300,
///     nonce: "Yc1mB0sD7rX2aQ9vT4kL",
///     session: None,
///     attrs: &[("tenant", "acme")],
/// }).unwrap();
/// let key = EmbedKey::new(b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo");
/// let ok = UnverifiedEmbedUrl::parse(&url).unwrap()
///     .authenticate_with(&key, 1_767_225_000, &VerifyPolicy::default()).unwrap()
///     .accept(NonceCheck::Fresh).unwrap();
/// assert_eq!(ok.sub(), "user-42");
/// assert_eq!(ok.forward_path_and_query(), "/d/sales?orgId=1");
/// ```
#[derive(Clone)]
pub struct Signer {
    kid: String,
    mac: HmacSha256,
}

impl Signer {
    /// A signer for the secret `secret` (its UTF-8 bytes as issued) known
    /// publicly as `kid`.
    pub fn new(kid: &str, secret: &[u8]) -> Result<Self, EmbedError> {
        check_kid(kid)?;
        Ok(Signer {
            kid: kid.to_owned(),
            mac: new_mac(secret),
        })
    }

    /// The key id this signer signs as.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the signed URL: the input URL with the `eg_` parameters and
    /// `eg_sig` appended to its query (before any fragment).
    pub fn sign(&self, req: &SignRequest<'_>) -> Result<String, EmbedError> {
        check_sub(req.sub.as_bytes())?;
        check_nonce(req.nonce)?;
        let (base, fragment) = match req.url.find('#') {
            Some(i) => (&req.url[..i], &req.url[i..]),
            None => (req.url, ""),
        };
        let mut url: Vec<u8> = Vec::with_capacity(base.len() + 200 + req.sub.len());
        url.extend_from_slice(base.as_bytes());
        url.push(if base.contains('?') { b'&' } else { b'?' });
        url.extend_from_slice(b"eg_kid=");
        url.extend_from_slice(self.kid.as_bytes());
        url.extend_from_slice(b"&eg_sub=");
        encode_query_component(&mut url, req.sub.as_bytes());
        url.extend_from_slice(b"&eg_exp=");
        push_decimal(&mut url, req.exp);
        url.extend_from_slice(b"&eg_nonce=");
        url.extend_from_slice(req.nonce.as_bytes());
        if let Some(s) = req.session {
            url.extend_from_slice(b"&eg_session=");
            push_decimal(&mut url, s);
        }
        for (i, (name, value)) in req.attrs.iter().enumerate() {
            check_attr_name(name)?;
            if req.attrs[..i].iter().any(|(n, _)| n == name) {
                return Err(EmbedError::malformed("an attribute is given twice"));
            }
            url.extend_from_slice(b"&eg_attr.");
            url.extend_from_slice(name.as_bytes());
            url.push(b'=');
            encode_query_component(&mut url, value.as_bytes());
        }
        // `base` is a &str and everything appended is ASCII.
        let mut url =
            String::from_utf8(url).map_err(|_| EmbedError::malformed("the URL is not UTF-8"))?;
        let canonical = Canonical::from_url(&url)?;
        self.check_embed_params(&canonical, req)?;
        let mut mac = self.mac.clone();
        mac.update(canonical.sts.as_bytes());
        url.push_str("&eg_sig=");
        url.push_str(&encode_sig(&mac.finalize().into_bytes()));
        url.push_str(fragment);
        Ok(url)
    }

    /// The URL given to sign must not already speak the scheme: a second
    /// `eg_kid`, say, would make the result malformed.
    fn check_embed_params(&self, c: &Canonical, req: &SignRequest<'_>) -> Result<(), EmbedError> {
        if c.sig != SigField::Absent {
            return Err(EmbedError::malformed("the URL to sign already has eg_sig"));
        }
        let own = 4 + usize::from(req.session.is_some()) + req.attrs.len();
        let found = c
            .params
            .iter()
            .filter(|p| c.name(p).starts_with("eg_"))
            .count();
        if found != own {
            return Err(EmbedError::malformed(
                "the URL to sign already has eg_ parameters",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Writes `n` in decimal without the formatting machinery (which would
/// weigh on the wasm build for one number).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
