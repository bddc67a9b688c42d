//! Spec §3: parse → [`UnverifiedEmbedUrl`] → authenticate →
//! [`AuthenticEmbedUrl`] → replay verdict → [`VerifiedEmbedUrl`].
//!
//! Each row of the spec's table is one function below, called in the
//! table's order. Only the last type exposes the user, attributes, session
//! and the path to forward; the earlier ones expose what a caller needs to
//! take the next step (the key id to look up, the nonce to remember).

use core::fmt;
use std::borrow::Cow;

use hmac::Mac;

use crate::canonical::CanonicalUrl;
use crate::key::{EmbedKey, KeyStore};
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

/// A URL that parsed by the spec's rules but whose signature is unchecked.
///
/// It exposes the key id (to look a key up, and for logs: it is public) and
/// the string to sign (for diagnostics); nothing else.
#[derive(Clone)]
pub struct UnverifiedEmbedUrl {
    url: CanonicalUrl,
    params: EmbedParams,
    /// ASCII: what the MAC is computed over.
    string_to_sign: Vec<u8>,
}

impl UnverifiedEmbedUrl {
    /// Parses an absolute URL (spec §3 step 1).
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

    /// Step 1 after canonicalisation: the `eg_` parameters by their rules.
    fn from_canonical(url: CanonicalUrl) -> Result<Self, EmbedError> {
        let params = EmbedParams::from_query(&url.query)?;
        let string_to_sign = url.string_to_sign();
        Ok(UnverifiedEmbedUrl {
            url,
            params,
            string_to_sign,
        })
    }

    /// `eg_kid`: the public client id of the secret that claims to have signed.
    pub fn kid(&self) -> &str {
        &self.params.kid
    }

    /// The string to sign this URL implies.
    pub fn string_to_sign(&self) -> &str {
        core::str::from_utf8(&self.string_to_sign).unwrap_or_default()
    }

    /// Steps 2-6 of spec §3: key known, key usable, MAC (constant time),
    /// not expired, expiry not too far. Time rules come after the MAC so an
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
        check_signature(key, &self.string_to_sign, &self.params.sig)?;
        check_not_expired(self.params.exp, now, policy)?;
        check_exp_not_too_far(self.params.exp, now, policy)?;
        // Step 8 needs the key, which the caller no longer holds by then.
        let in_scope = key.covers(&self.url.path);
        let session = self
            .params
            .session
            .map_or(policy.max_session, |s| s.min(policy.max_session));
        Ok(AuthenticEmbedUrl {
            remember_until: self.params.exp.saturating_add(policy.skew),
            url: self,
            in_scope,
            session,
        })
    }
}

/// Step 2: `eg_kid` names a known secret.
fn check_key_known<'k, K: KeyStore + ?Sized>(
    keys: &'k K,
    kid: &str,
) -> Result<K::Key<'k>, EmbedError> {
    keys.key(kid).ok_or(EmbedError::new(
        Reason::UnknownKey,
        "no secret has this eg_kid",
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

/// Step 4: the MAC matches, compared in constant time (`verify_slice`).
fn check_signature(
    key: &EmbedKey,
    string_to_sign: &[u8],
    sig: &[u8; 32],
) -> Result<(), EmbedError> {
    let mut mac = key.mac.clone();
    mac.update(string_to_sign);
    mac.verify_slice(sig).map_err(|_| {
        EmbedError::new(
            Reason::BadSignature,
            "eg_sig does not match the string to sign under this secret",
        )
    })
}

/// Step 5: `now <= eg_exp + skew`.
fn check_not_expired(exp: u64, now: u64, policy: &VerifyPolicy) -> Result<(), EmbedError> {
    if now <= exp.saturating_add(policy.skew) {
        Ok(())
    } else {
        Err(EmbedError::new(Reason::Expired, "eg_exp has passed"))
    }
}

/// Step 6: `eg_exp <= now + max_url_ttl + skew`.
fn check_exp_not_too_far(exp: u64, now: u64, policy: &VerifyPolicy) -> Result<(), EmbedError> {
    let latest = now
        .saturating_add(policy.max_url_ttl)
        .saturating_add(policy.skew);
    if exp <= latest {
        Ok(())
    } else {
        Err(EmbedError::new(
            Reason::ExpTooFar,
            "eg_exp is further ahead than this verifier allows",
        ))
    }
}

impl fmt::Debug for UnverifiedEmbedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedEmbedUrl")
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
    url: UnverifiedEmbedUrl,
    remember_until: u64,
    in_scope: bool,
    session: u64,
}

impl AuthenticEmbedUrl {
    /// The key id (replay entries are per key and nonce).
    pub fn kid(&self) -> &str {
        self.url.kid()
    }

    /// The nonce to claim.
    pub fn nonce(&self) -> &str {
        &self.url.params.nonce
    }

    /// Until when (Unix seconds) the nonce must be remembered: `eg_exp + skew`.
    /// After that the URL fails as `expired` anyway.
    pub fn remember_until(&self) -> u64 {
        self.remember_until
    }

    /// Steps 7 and 8 of spec §3.
    pub fn accept(self, nonce: NonceCheck) -> Result<VerifiedEmbedUrl, EmbedError> {
        check_not_replayed(nonce)?;
        check_in_scope(self.in_scope)?;
        let UnverifiedEmbedUrl { url, params, .. } = self.url;
        Ok(VerifiedEmbedUrl {
            url,
            params,
            session: self.session,
        })
    }
}

/// Step 7: the nonce was not accepted before.
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

/// Step 8: the path lies inside the secret's scopes, if it has any.
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
            .field("kid", &self.kid())
            .field("remember_until", &self.remember_until)
            .finish_non_exhaustive()
    }
}

/// A signed embed URL that passed every check: what goes downstream.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedEmbedUrl {
    url: CanonicalUrl,
    params: EmbedParams,
    session: u64,
}

impl VerifiedEmbedUrl {
    /// The public client id of the secret that signed.
    pub fn kid(&self) -> &str {
        &self.params.kid
    }
    /// The external user id (`eg_sub`, decoded).
    pub fn sub(&self) -> &str {
        &self.params.sub
    }
    /// `eg_exp`.
    pub fn exp(&self) -> u64 {
        self.params.exp
    }
    /// `eg_nonce`.
    pub fn nonce(&self) -> &str {
        &self.params.nonce
    }
    /// User attributes (`eg_attr.NAME`, decoded) as `(name, value)`, sorted
    /// by name.
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs {
            inner: self.params.attrs.iter(),
        }
    }
    /// Session length in seconds: `eg_session` clamped to the policy's
    /// `max_session`, or `max_session` when the URL asked for none.
    pub fn session_secs(&self) -> u64 {
        self.session
    }
    /// `eg_session` as the URL gave it, before clamping.
    pub fn requested_session(&self) -> Option<u64> {
        self.params.session
    }
    /// The canonical host that was signed.
    pub fn host(&self) -> &str {
        &self.url.host
    }
    /// The normalised path that was signed (and is to be forwarded).
    pub fn path(&self) -> &str {
        &self.url.path
    }
    /// The canonical query without `eg_` parameters (may be empty).
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
