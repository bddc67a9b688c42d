//! Spec §3 of both forms: parse → [`UnverifiedEmbedUrl`] → authenticate →
//! [`AuthenticEmbedUrl`] → replay verdict → [`VerifiedEmbedUrl`].
//!
//! Each row of the specs' tables is one function below, called in the
//! table's order: EG1 (`embed-url-v1.md` §3) in
//! [`UnverifiedEmbedUrl::authenticate_with`] and
//! [`AuthenticEmbedUrl::accept`], EGJ1 (`embed-jwt-v1.md` §3) the same way,
//! with its own steps 4-8 in `authenticate_jwt`. Only the last type exposes
//! the user, attributes, session and the path to forward; the earlier ones
//! expose what a caller needs to take the next step (the key id to look
//! up, the nonce to remember).

use core::fmt;
use std::borrow::Cow;

use subtle::ConstantTimeEq;

use crate::canonical::CanonicalUrl;
use crate::jwt::{is_jwt_query, token_of, CompactJws};
use crate::jwt_claims::Claims;
use crate::key::{tag, EmbedKey, KeyStore};
use crate::params::EmbedParams;
use crate::reason::{EmbedError, Reason};

/// A verifier's settings (spec §3 defaults: skew 60 s, max URL TTL 600 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Tolerated clock difference between signer and verifier, seconds.
    pub skew: u64,
    /// How far in the future `eg_exp` may lie, seconds.
    pub max_url_ttl: u64,
    /// The longest session a verified URL may open, seconds; `eg_session` is
    /// clamped to it, and it is the session length when `eg_session` is absent.
    pub max_session: u64,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            skew: 60,
            max_url_ttl: 600,
            max_session: 3600,
        }
    }
}

/// The form of a signed embed URL. Both carry the same contract and are
/// accepted on every route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `EG1-HMAC-SHA256` (`embed-url-v1.md`): `eg_` parameters and `eg_sig`.
    Eg1,
    /// `EGJ1-HS256` (`embed-jwt-v1.md`): one `eg_jwt` parameter, an HS256 JWT.
    Egj1,
}

impl Scheme {
    /// `"EG1"` or `"EGJ1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Eg1 => "EG1",
            Scheme::Egj1 => "EGJ1",
        }
    }

    /// Which form an absolute URL is written in: EGJ1 when its query has an
    /// `eg_jwt` parameter (such a URL is never read as EG1), EG1 otherwise;
    /// `None` when the URL cannot be canonicalised. For diagnostics: it
    /// checks nothing else.
    ///
    /// ```
    /// use embedgate_core::Scheme;
    /// assert_eq!(Scheme::of_url("https://h/d?eg_jwt=x"), Some(Scheme::Egj1));
    /// assert_eq!(Scheme::of_url("https://h/d?eg_kid=k"), Some(Scheme::Eg1));
    /// assert_eq!(Scheme::of_url("https://h/a/../b"), None);
    /// ```
    pub fn of_url(url: &str) -> Option<Scheme> {
        let url = CanonicalUrl::from_url(url).ok()?;
        Some(if is_jwt_query(&url.query) {
            Scheme::Egj1
        } else {
            Scheme::Eg1
        })
    }
}

/// A URL that parsed by its spec's rules (§3 step 1) but whose signature is
/// unchecked.
///
/// It exposes the key id (to look a key up, and for logs: it is public),
/// the form, and what the MAC covers (for diagnostics); nothing else.
#[derive(Clone)]
pub struct UnverifiedEmbedUrl {
    /// The request's host and path (and, for EG1, its query).
    url: CanonicalUrl,
    form: Form,
}

#[derive(Clone)]
enum Form {
    /// EG1: the `eg_` parameters, and the string to sign (ASCII: what the
    /// MAC is computed over).
    Eg1 {
        params: EmbedParams,
        string_to_sign: Vec<u8>,
    },
    /// EGJ1: the token, its payload unread.
    Egj1(CompactJws),
}

impl UnverifiedEmbedUrl {
    /// Parses an absolute URL, EG1 or EGJ1 (spec §3 step 1).
    ///
    /// ```
    /// use embedgate_core::{Reason, UnverifiedEmbedUrl};
    /// let err = UnverifiedEmbedUrl::parse("https://h/d?eg_kid=k").unwrap_err();
    /// assert_eq!(err.reason(), Reason::Malformed);
    /// ```
    pub fn parse(url: &str) -> Result<Self, EmbedError> {
        Self::from_canonical(CanonicalUrl::from_url(url)?)
    }

    /// Parses what a server receives: the `Host` header (or the configured
    /// public host) and the request target in origin-form (`/path?query`).
    pub fn from_request(host: &str, path_and_query: &str) -> Result<Self, EmbedError> {
        Self::from_canonical(CanonicalUrl::from_request(host, path_and_query)?)
    }

    /// Step 1 after canonicalisation (host, path and query by EG1 §2): a
    /// URL with `eg_jwt` is EGJ1, its token alone in the query with a
    /// header by EGJ1 §1; any other is EG1, its `eg_` parameters by EG1 §1.
    fn from_canonical(url: CanonicalUrl) -> Result<Self, EmbedError> {
        // EG1 §1 refuses `eg_jwt` as an unknown `eg_` name, so reading a URL
        // that has it as EG1 always fails: EG1 is read first, and only a
        // failed reading looks for `eg_jwt`. The same split as testing for
        // `eg_jwt` first, without a scan of the query on the EG1 hot path.
        let form = match EmbedParams::from_query(&url.query) {
            Ok(params) => {
                let string_to_sign = url.string_to_sign();
                Form::Eg1 {
                    params,
                    string_to_sign,
                }
            }
            Err(_) if is_jwt_query(&url.query) => {
                Form::Egj1(CompactJws::parse(token_of(&url.query)?)?)
            }
            Err(not_eg1) => return Err(not_eg1),
        };
        Ok(UnverifiedEmbedUrl { url, form })
    }

    /// The public client id of the secret that claims to have signed:
    /// `eg_kid`, or the JOSE header's `kid`.
    pub fn kid(&self) -> &str {
        match &self.form {
            Form::Eg1 { params, .. } => &params.kid,
            Form::Egj1(jws) => &jws.kid,
        }
    }

    /// Which form the URL is written in.
    pub fn scheme(&self) -> Scheme {
        match self.form {
            Form::Eg1 { .. } => Scheme::Eg1,
            Form::Egj1(_) => Scheme::Egj1,
        }
    }

    /// What the signature covers: the string to sign this URL implies
    /// (EG1 §2), or for EGJ1 the token's signing input `<header>.<payload>`.
    pub fn string_to_sign(&self) -> &str {
        let signed = match &self.form {
            Form::Eg1 { string_to_sign, .. } => string_to_sign,
            Form::Egj1(jws) => &jws.signing_input,
        };
        core::str::from_utf8(signed).unwrap_or_default()
    }

    /// The checks of spec §3 up to the replay check: EG1 steps 2-6 (key
    /// known, key usable, MAC in constant time, not expired, expiry not too
    /// far), EGJ1 steps 2-8 (the same, with the claims read and bound to
    /// the request after the MAC). Time rules come after the MAC so an
    /// unsigned party learns nothing from them.
    pub fn authenticate<K: KeyStore + ?Sized>(
        self,
        keys: &K,
        now: u64,
        policy: &VerifyPolicy,
    ) -> Result<AuthenticEmbedUrl, EmbedError> {
        let key = check_key_known(keys, self.kid())?;
        self.authenticate_with(&key, now, policy)
    }

    /// As [`UnverifiedEmbedUrl::authenticate`], with the key already looked up.
    pub fn authenticate_with(
        self,
        key: &EmbedKey,
        now: u64,
        policy: &VerifyPolicy,
    ) -> Result<AuthenticEmbedUrl, EmbedError> {
        check_key_usable(key, now)?;
        match self.form {
            Form::Eg1 {
                params,
                string_to_sign,
            } => {
                check_signature(key, &string_to_sign, &params.sig)?;
                check_not_expired(params.exp, now, policy)?;
                check_exp_not_too_far(params.exp, now, policy)?;
                Ok(AuthenticEmbedUrl::new(
                    self.url,
                    params,
                    Scheme::Eg1,
                    key,
                    policy,
                ))
            }
            Form::Egj1(jws) => {
                let (url, params) = authenticate_jwt(self.url, jws, key, now, policy)?;
                Ok(AuthenticEmbedUrl::new(
                    url,
                    params,
                    Scheme::Egj1,
                    key,
                    policy,
                ))
            }
        }
    }
}

/// EGJ1 §3 steps 4-8 (the key is known and usable): the MAC over the
/// signing input, then, and only then, the claims; their binding to the
/// request; the time rules. Returns the URL as EG1 would have carried it:
/// the request's host and path with `params` as the query, and the claims
/// as the scheme's parameters (`jti` the nonce).
fn authenticate_jwt(
    request: CanonicalUrl,
    jws: CompactJws,
    key: &EmbedKey,
    now: u64,
    policy: &VerifyPolicy,
) -> Result<(CanonicalUrl, EmbedParams), EmbedError> {
    check_signature(key, &jws.signing_input, &jws.signature)?; // 4
    let mut claims = Claims::parse(&jws.payload)?; // 5
    let params = claims.embed_params(&jws.kid, &jws.signature)?; // 5
    check_binding(&claims, &request)?; // 6
    check_not_expired(params.exp, now, policy)?; // 7
    check_not_before(claims.nbf, now, policy)?; // 7
    check_exp_not_too_far(params.exp, now, policy)?; // 8
    let url = CanonicalUrl {
        host: request.host,
        path: request.path,
        query: claims.query,
    };
    Ok((url, params))
}

/// Step 2: the key id names a known secret.
fn check_key_known<'k, K: KeyStore + ?Sized>(
    keys: &'k K,
    kid: &str,
) -> Result<K::Key<'k>, EmbedError> {
    keys.key(kid).ok_or(EmbedError::new(
        Reason::UnknownKey,
        "no secret has this key id (eg_kid, or the JWT's kid)",
    ))
}

/// Step 3: the secret is active and not past its own expiry.
fn check_key_usable(key: &EmbedKey, now: u64) -> Result<(), EmbedError> {
    if key.usable_at(now) {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::KeyInactive,
            "the secret is deactivated or past its expiry",
        ))
    }
}

/// Step 4: the MAC matches, compared in constant time (`subtle` on the
/// whole tag, as `Mac::verify_slice` does). EG1 signs its string to sign,
/// EGJ1 the token's `<header>.<payload>`.
fn check_signature(key: &EmbedKey, signed: &[u8], sig: &[u8; 32]) -> Result<(), EmbedError> {
    if bool::from(tag(&key.mac, signed).ct_eq(sig)) {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::BadSignature,
            "the signature does not match what it covers under this secret",
        ))
    }
}

/// EGJ1 step 6: `aud` equals the request's canonical host and `path` the
/// request's normalised path. A token signed for another URL is, to the
/// verifier, the same as a wrong signature.
fn check_binding(claims: &Claims, request: &CanonicalUrl) -> Result<(), EmbedError> {
    if claims.aud == request.host && claims.path == request.path {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::BadSignature,
            "the token was signed for another host or path (aud, path)",
        ))
    }
}

/// EG1 step 5, EGJ1 step 7: `now <= exp + skew`.
fn check_not_expired(exp: u64, now: u64, policy: &VerifyPolicy) -> Result<(), EmbedError> {
    if now <= exp.saturating_add(policy.skew) {
        Ok(())
    } else {
        Err(EmbedError::new(Reason::Expired, "the expiry has passed"))
    }
}

/// EGJ1 step 7: `nbf <= now + skew` when `nbf` is present.
fn check_not_before(nbf: Option<u64>, now: u64, policy: &VerifyPolicy) -> Result<(), EmbedError> {
    match nbf {
        Some(nbf) if nbf > now.saturating_add(policy.skew) => Err(EmbedError::new(
            Reason::Expired,
            "the token is not valid yet (nbf)",
        )),
        _ => Ok(()),
    }
}

/// EG1 step 6, EGJ1 step 8: `exp <= now + max_url_ttl + skew`.
fn check_exp_not_too_far(exp: u64, now: u64, policy: &VerifyPolicy) -> Result<(), EmbedError> {
    let latest = now
        .saturating_add(policy.max_url_ttl)
        .saturating_add(policy.skew);
    if exp <= latest {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::ExpTooFar,
            "the expiry is further ahead than this verifier allows",
        ))
    }
}

impl fmt::Debug for UnverifiedEmbedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedEmbedUrl")
            .field("scheme", &self.scheme())
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// What a replay check found for the nonce of an [`AuthenticEmbedUrl`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceCheck {
    /// The nonce was claimed now, for the first time.
    Fresh,
    /// The nonce had been accepted before.
    Replayed,
    /// The caller keeps no replay state (offline tools, the playground).
    /// A server that accepts sessions must not use this.
    NotTracked,
}

/// A URL whose MAC and time rules passed. What remains is the replay check
/// (state the core does not keep) and the scope check, in that order.
pub struct AuthenticEmbedUrl {
    url: CanonicalUrl,
    params: EmbedParams,
    scheme: Scheme,
    remember_until: u64,
    in_scope: bool,
    session: u64,
}

impl AuthenticEmbedUrl {
    fn new(
        url: CanonicalUrl,
        params: EmbedParams,
        scheme: Scheme,
        key: &EmbedKey,
        policy: &VerifyPolicy,
    ) -> Self {
        // The scope step needs the key, which the caller no longer holds by then.
        let in_scope = key.covers(&url.path);
        let session = params
            .session
            .map_or(policy.max_session, |s| s.min(policy.max_session));
        AuthenticEmbedUrl {
            remember_until: params.exp.saturating_add(policy.skew),
            url,
            params,
            scheme,
            in_scope,
            session,
        }
    }

    /// The key id (replay entries are per key and nonce).
    pub fn kid(&self) -> &str {
        &self.params.kid
    }

    /// The nonce to claim: `eg_nonce`, or the JWT's `jti`. EG1 nonces and
    /// EGJ1 `jti`s share one replay space.
    pub fn nonce(&self) -> &str {
        &self.params.nonce
    }

    /// Until when (Unix seconds) the nonce must be remembered: `exp + skew`.
    /// After that the URL fails as `expired` anyway.
    pub fn remember_until(&self) -> u64 {
        self.remember_until
    }

    /// The replay and scope steps of spec §3 (EG1 7-8, EGJ1 9-10).
    pub fn accept(self, nonce: NonceCheck) -> Result<VerifiedEmbedUrl, EmbedError> {
        check_not_replayed(nonce)?;
        check_in_scope(self.in_scope)?;
        Ok(VerifiedEmbedUrl {
            url: self.url,
            params: self.params,
            scheme: self.scheme,
            session: self.session,
        })
    }
}

/// EG1 step 7, EGJ1 step 9: the nonce was not accepted before.
fn check_not_replayed(nonce: NonceCheck) -> Result<(), EmbedError> {
    if nonce == NonceCheck::Replayed {
        Err(EmbedError::new(
            Reason::Replayed,
            "this URL was used before",
        ))
    } else {
        Ok(())
    }
}

/// EG1 step 8, EGJ1 step 10: the path lies inside the secret's scopes, if
/// it has any.
fn check_in_scope(in_scope: bool) -> Result<(), EmbedError> {
    if in_scope {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::OutOfScope,
            "the path lies outside the secret's scopes",
        ))
    }
}

impl fmt::Debug for AuthenticEmbedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticEmbedUrl")
            .field("scheme", &self.scheme)
            .field("kid", &self.kid())
            .field("remember_until", &self.remember_until)
            .finish_non_exhaustive()
    }
}

/// A signed embed URL that passed every check: what goes downstream.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedEmbedUrl {
    /// The host and path that were signed; for EGJ1 the query is `params`.
    url: CanonicalUrl,
    params: EmbedParams,
    scheme: Scheme,
    session: u64,
}

impl VerifiedEmbedUrl {
    /// Which form the URL was signed in.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
    /// The public client id of the secret that signed.
    pub fn kid(&self) -> &str {
        &self.params.kid
    }
    /// The external user id (`eg_sub` decoded, or the JWT's `sub`).
    pub fn sub(&self) -> &str {
        &self.params.sub
    }
    /// The expiry: `eg_exp`, or the JWT's `exp`.
    pub fn exp(&self) -> u64 {
        self.params.exp
    }
    /// The nonce: `eg_nonce`, or the JWT's `jti`.
    pub fn nonce(&self) -> &str {
        &self.params.nonce
    }
    /// User attributes (`eg_attr.NAME` decoded, or the JWT's `attrs`) as
    /// `(name, value)`, sorted by name.
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs {
            inner: self.params.attrs.iter(),
        }
    }
    /// Session length in seconds: `eg_session` (or the JWT's `session`)
    /// clamped to the policy's `max_session`, or `max_session` when the URL
    /// asked for none.
    pub fn session_secs(&self) -> u64 {
        self.session
    }
    /// The session length as the URL asked for it, before clamping.
    pub fn requested_session(&self) -> Option<u64> {
        self.params.session
    }
    /// The canonical host that was signed (EGJ1: `aud`).
    pub fn host(&self) -> &str {
        &self.url.host
    }
    /// The normalised path that was signed (EGJ1: `path`), to be forwarded.
    pub fn path(&self) -> &str {
        &self.url.path
    }
    /// The canonical query to forward (may be empty): the content
    /// parameters without the `eg_` ones, or the JWT's `params`.
    pub fn forward_query(&self) -> Cow<'_, str> {
        Cow::Owned(self.url.content_query())
    }
    /// Path and query to forward upstream: exactly what was verified.
    pub fn forward_path_and_query(&self) -> String {
        let query = self.url.content_query();
        if query.is_empty() {
            self.url.path.clone()
        } else {
            [self.url.path.as_str(), "?", &query].concat()
        }
    }
}

impl fmt::Debug for VerifiedEmbedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedEmbedUrl")
            .field("scheme", &self.scheme)
            .field("kid", &self.kid())
            .field("sub", &self.sub())
            .field("exp", &self.exp())
            .field("host", &self.host())
            .field("path", &self.path())
            .field("forward_query", &self.forward_query())
            .field("attrs", &self.attrs().collect::<Vec<_>>())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The attributes of a [`VerifiedEmbedUrl`]: `(name, value)` pairs, decoded,
/// sorted by name. See [`VerifiedEmbedUrl::attrs`].
#[derive(Clone)]
pub struct Attrs<'a> {
    inner: core::slice::Iter<'a, (String, String)>,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Attrs<'_> {}

impl fmt::Debug for Attrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}
