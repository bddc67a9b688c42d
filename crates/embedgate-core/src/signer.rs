//! Producing signed embed URLs: EG1 (`embed-url-v1.md` §1 and §2 from the
//! signer's side) and EGJ1 (`embed-jwt-v1.md` §1).

use core::fmt;

use crate::base64url;
use crate::canonical::{is_scheme_param, CanonicalUrl};
use crate::jwt::{self, JWT_PARAM};
use crate::jwt_claims::ClaimsToSign;
use crate::key::{new_mac, tag, HmacSha256};
use crate::params::{
    check_attr_name, check_kid, check_nonce, check_sub, check_text, decimal, TextField, ATTR_PREFIX,
};
use crate::percent::{ascii_text, push_query_encoded};
use crate::reason::EmbedError;
use crate::url_parts::split_absolute_url;

/// What to sign: the content URL and the viewer.
#[derive(Clone, Copy, Debug)]
pub struct SignRequest<'a> {
    /// The absolute content URL, with any content parameters (filters)
    /// already in its query. It must carry no `eg_` parameter.
    pub url: &'a str,
    /// The external user id (1-256 bytes, no control characters).
    pub sub: &'a str,
    /// Expiry of the URL, Unix seconds.
    pub exp: u64,
    /// 16-128 of `A-Z a-z 0-9 _ -`; see [`crate::generate_nonce`].
    pub nonce: &'a str,
    /// Wanted session length in seconds.
    pub session: Option<u64>,
    /// User attributes as `(name, value)`; names 1-64 of `a-z 0-9 _ -`,
    /// values without control characters.
    pub attrs: &'a [(&'a str, &'a str)],
}

/// Signs embed URLs for one secret, in either form: [`Signer::sign`]
/// (EG1) or [`Signer::sign_jwt`] (EGJ1).
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
        Ok(Signer {
            kid: check_kid(kid)?.to_owned(),
            mac: new_mac(secret),
        })
    }

    /// The key id this signer signs as.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the signed URL: the input URL with the `eg_` parameters (in
    /// the order of the spec's table) and then `eg_sig` appended to its
    /// query, before any fragment.
    pub fn sign(&self, req: &SignRequest<'_>) -> Result<String, EmbedError> {
        let fragment_start = req.url.bytes().position(|b| b == b'#');
        let (base, fragment) = req.url.split_at(fragment_start.unwrap_or(req.url.len()));
        let mut canonical = CanonicalUrl::from_url(base)?;
        check_no_scheme_params(&canonical)?;
        let params = self.scheme_params(req)?;

        for (name, value) in &params {
            canonical
                .query
                .push_encoded(name.as_bytes(), value.as_bytes());
        }
        canonical.query.sort();
        let sig = self.signature(&canonical.string_to_sign());

        let mut url = String::with_capacity(base.len() + 200 + fragment.len());
        url.push_str(base);
        url.push(if base.contains('?') { '&' } else { '?' });
        for (name, value) in &params {
            url.push_str(name);
            url.push('=');
            url.push_str(value);
            url.push('&');
        }
        url.push_str("eg_sig=");
        url.push_str(&sig);
        url.push_str(fragment);
        Ok(url)
    }

    /// Returns the EGJ1 URL for the same request:
    /// `scheme://authority/path?eg_jwt=<token>`, any fragment kept.
    ///
    /// The content URL's query becomes the token's `params` (a name given
    /// more than once becomes an array, in order), its canonical host `aud`
    /// and its normalised path `path`; the URL returned keeps the scheme and
    /// authority as written and carries the normalised path. The header is
    /// `{"alg":"HS256","kid":…,"typ":"JWT"}`; the claims are written as
    /// `sdk/python` writes them (see `ClaimsToSign::to_json`), so both
    /// signers produce the same URL for the same inputs. `exp` and
    /// `session` must be at most 2^53.
    ///
    /// ```
    /// use embedgate_core::{verify_url, EmbedKey, Scheme, SignRequest, Signer, VerifyPolicy};
    /// use std::collections::HashMap;
    /// let signer = Signer::new("ek_live_4f9c2a", b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo").unwrap();
    /// let url = signer.sign_jwt(&SignRequest {
    ///     url: "https://embed.example.com/d/sales?orgId=1",
    ///     sub: "user-42",
    ///     exp: 1_767_225_300,
    ///     nonce: "Yc1mB0sD7rX2aQ9vT4kL",
    ///     session: None,
    ///     attrs: &[],
    /// }).unwrap();
    /// assert!(url.starts_with("https://embed.example.com/d/sales?eg_jwt=eyJhbGciOiJIUzI1NiIs"));
    /// let keys: HashMap<String, EmbedKey> =
    ///     [("ek_live_4f9c2a".into(), EmbedKey::new(b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo"))].into();
    /// let ok = verify_url(&url, &keys, 1_767_225_000, &VerifyPolicy::default()).unwrap();
    /// assert_eq!(ok.scheme(), Scheme::Egj1);
    /// assert_eq!(ok.forward_path_and_query(), "/d/sales?orgId=1");
    /// ```
    pub fn sign_jwt(&self, req: &SignRequest<'_>) -> Result<String, EmbedError> {
        let fragment_start = req.url.bytes().position(|b| b == b'#');
        let (base, fragment) = req.url.split_at(fragment_start.unwrap_or(req.url.len()));
        let (authority, target) = split_absolute_url(base)?;
        let canonical = CanonicalUrl::in_written_order(authority, target)?;
        check_no_scheme_params(&canonical)?;
        check_request(req)?;
        let claims = ClaimsToSign {
            aud: &canonical.host,
            path: &canonical.path,
            params: &canonical.query,
            sub: req.sub,
            exp: req.exp,
            jti: req.nonce,
            attrs: req.attrs,
            session: req.session,
        }
        .to_json()?;
        let signing_input = jwt::signing_input(&self.kid, &claims);
        let sig = self.signature(signing_input.as_bytes());

        // `scheme://authority` as written, then the normalised path.
        let origin = &base[..base.len() - target.len()];
        let mut url = String::with_capacity(origin.len() + 120 + signing_input.len());
        url.push_str(origin);
        url.push_str(&canonical.path);
        url.push('?');
        url.push_str(JWT_PARAM);
        url.push('=');
        url.push_str(&signing_input);
        url.push('.');
        url.push_str(&sig);
        url.push_str(fragment);
        Ok(url)
    }

    /// The `eg_` parameters of a request, checked by spec §1 and encoded
    /// canonically, in the order of the spec's table.
    fn scheme_params(&self, req: &SignRequest<'_>) -> Result<Vec<(String, String)>, EmbedError> {
        check_request(req)?;
        let mut params = vec![
            ("eg_kid".to_owned(), self.kid.clone()),
            ("eg_sub".to_owned(), encoded(req.sub)),
            ("eg_exp".to_owned(), decimal(req.exp)),
            ("eg_nonce".to_owned(), req.nonce.to_owned()),
        ];
        if let Some(session) = req.session {
            params.push(("eg_session".to_owned(), decimal(session)));
        }
        for (name, value) in req.attrs {
            params.push(([ATTR_PREFIX, name].concat(), encoded(value)));
        }
        Ok(params)
    }

    /// `base64url_nopad(HMAC-SHA256(key, signed))`: over the string to
    /// sign (EG1), or over the token's signing input (EGJ1).
    fn signature(&self, signed: &[u8]) -> String {
        base64url::encode(&tag(&self.mac, signed))
    }
}

/// The content URL must not carry the scheme's parameters already.
fn check_no_scheme_params(content: &CanonicalUrl) -> Result<(), EmbedError> {
    if content.query.pairs().any(|(name, _)| is_scheme_param(name)) {
        return Err(EmbedError::malformed(
            "the URL to sign already has eg_ parameters",
        ));
    }
    Ok(())
}

/// The user, nonce and attributes of a request by their rules (EG1 §1,
/// which EGJ1 §1 takes for `sub`, `jti` and `attrs`).
fn check_request(req: &SignRequest<'_>) -> Result<(), EmbedError> {
    check_text(check_sub(req.sub)?, TextField::Sub)?;
    check_nonce(req.nonce)?;
    check_attrs(req.attrs)
}

/// Attribute names by their rule, each once; values without control
/// characters.
fn check_attrs(attrs: &[(&str, &str)]) -> Result<(), EmbedError> {
    for (k, (name, value)) in attrs.iter().enumerate() {
        check_attr_name(name)?;
        check_text(value, TextField::AttrValue)?;
        if attrs[..k].iter().any(|(earlier, _)| earlier == name) {
            return Err(EmbedError::malformed("an attribute is given twice"));
        }
    }
    Ok(())
}

/// A text value in canonical query encoding.
fn encoded(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    push_query_encoded(&mut out, text.as_bytes());
    ascii_text(out)
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new("ek_live_4f9c2a", b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo").expect("kid")
    }

    fn request<'a>(url: &'a str, sub: &'a str, attrs: &'a [(&'a str, &'a str)]) -> SignRequest<'a> {
        SignRequest {
            url,
            sub,
            exp: 5,
            nonce: "Yc1mB0sD7rX2aQ9vT4kL",
            session: Some(60),
            attrs,
        }
    }

    #[test]
    fn writes_the_eg_parameters_in_the_spec_order_before_eg_sig() {
        let url = signer()
            .sign(&request(
                "https://e.x/p?z=1#frag",
                "a b",
                &[("zz", "1"), ("aa", "2 3")],
            ))
            .expect("signs");
        let (head, sig) = url.split_once("&eg_sig=").expect("eg_sig");
        assert_eq!(
            head,
            "https://e.x/p?z=1&eg_kid=ek_live_4f9c2a&eg_sub=a%20b&eg_exp=5\
             &eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_session=60&eg_attr.zz=1&eg_attr.aa=2%203"
        );
        assert_eq!(sig.len(), 43 + "#frag".len());
        assert!(sig.ends_with("#frag"));
    }

    #[test]
    fn refuses_what_a_verifier_would_refuse() {
        let s = signer();
        for (url, sub, attrs) in [
            ("https://e.x/p?eg_kid=x", "u", &[][..]),
            ("https://e.x/p?eg%5Fsig=x", "u", &[][..]),
            ("https://e.x/a/..;/b", "u", &[][..]),
            ("https://e.x/p", "", &[][..]),
            ("https://e.x/p", "a\nb", &[][..]),
            ("https://e.x/p", "u", &[("A", "1")][..]),
            ("https://e.x/p", "u", &[("a", "1"), ("a", "2")][..]),
            ("https://e.x/p", "u", &[("a", "x\u{7f}")][..]),
        ] {
            assert!(
                s.sign(&request(url, sub, attrs)).is_err(),
                "{url} {sub:?} {attrs:?}"
            );
        }
        assert!(Signer::new("bad kid", b"k").is_err());
    }
}
