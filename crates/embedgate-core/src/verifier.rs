//! Spec §3: parse → [`UnverifiedEmbedUrl`] → authenticate →
//! [`AuthenticEmbedUrl`] → replay verdict → [`VerifiedEmbedUrl`].
//!
//! Only the last type exposes the user, attributes, session and the path to
//! forward; the earlier ones expose what a caller needs to take the next
//! step (the key id to look up, the nonce to remember), nothing to act on.

use core::fmt;
use core::ops::Range;
use std::borrow::Cow;

use hmac::Mac;
use subtle::ConstantTimeEq;

use crate::canonical::{Canonical, Param};
use crate::key::{EmbedKey, KeyStore};
use crate::params::{attr_name, EmbedParams};
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
    canonical: Canonical,
    params: EmbedParams,
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
        Self::from_canonical(Canonical::from_url(url)?)
    }

    /// Parses what a server receives: the `Host` header (or the configured
    /// public host) and the request target in origin-form (`/path?query`).
    pub fn from_request(host: &str, path_and_query: &str) -> Result<Self, EmbedError> {
        Self::from_canonical(Canonical::from_request(host, path_and_query)?)
    }

    fn from_canonical(mut canonical: Canonical) -> Result<Self, EmbedError> {
        let params = EmbedParams::extract(&mut canonical)?;
        Ok(UnverifiedEmbedUrl { canonical, params })
    }

    /// `eg_kid`: the public client id of the secret that claims to have signed.
    pub fn kid(&self) -> &str {
        self.canonical.text(self.params.kid)
    }

    /// The string to sign this URL implies.
    pub fn string_to_sign(&self) -> &str {
        self.canonical.sts()
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
        let Some(key) = keys.key(self.kid()) else {
            return Err(EmbedError::new(
                Reason::UnknownKey,
                "no secret has this eg_kid",
            ));
        };
        self.authenticate_with(&key, now, policy)
    }

    /// As [`UnverifiedEmbedUrl::authenticate`], with the key already looked up.
    pub fn authenticate_with(
        self,
        key: &EmbedKey,
        now: u64,
        policy: &VerifyPolicy,
    ) -> Result<AuthenticEmbedUrl, EmbedError> {
        if !key.usable_at(now) {
            return Err(EmbedError::new(
                Reason::KeyInactive,
                "the secret is deactivated or past its expiry",
            ));
        }
        let mut mac = key.mac.clone();
        mac.update(self.canonical.sts().as_bytes());
        if !tags_match(&mac.finalize().into_bytes().into(), &self.params.sig) {
            return Err(EmbedError::new(
                Reason::BadSignature,
                "eg_sig does not match the string to sign under this secret",
            ));
        }
        let exp = self.params.exp;
        if now > exp.saturating_add(policy.skew) {
            return Err(EmbedError::new(Reason::Expired, "eg_exp has passed"));
        }
        if exp
            > now
                .saturating_add(policy.max_url_ttl)
                .saturating_add(policy.skew)
        {
            return Err(EmbedError::new(
                Reason::ExpTooFar,
                "eg_exp is further ahead than this verifier allows",
            ));
        }
        let in_scope = key.covers(self.canonical.path());
        let session = self
            .params
            .session
            .map_or(policy.max_session, |s| s.min(policy.max_session));
        Ok(AuthenticEmbedUrl {
            url: self,
            remember_until: exp.saturating_add(policy.skew),
            in_scope,
            session,
        })
    }
}

/// Whether two MACs are equal, in constant time, a word at a time.
/// `Mac::verify_slice` compares with `subtle` byte by byte, one optimisation
/// barrier per byte: a twentieth of a verify outside the hash. Here the
/// words' differences are gathered without a branch, and `subtle` decides
/// once.
fn tags_match(computed: &[u8; 32], given: &[u8; 32]) -> bool {
    let word = |t: &[u8; 32], k: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&t[8 * k..8 * k + 8]);
        u64::from_ne_bytes(w)
    };
    let diff = (0..4).fold(0, |d, k| d | (word(computed, k) ^ word(given, k)));
    diff.ct_eq(&0).into()
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
        self.url.canonical.text(self.url.params.nonce)
    }

    /// Until when (Unix seconds) the nonce must be remembered: `eg_exp + skew`.
    /// After that the URL fails as `expired` anyway.
    pub fn remember_until(&self) -> u64 {
        self.remember_until
    }

    /// Steps 7 and 8 of spec §3.
    pub fn accept(self, nonce: NonceCheck) -> Result<VerifiedEmbedUrl, EmbedError> {
        if nonce == NonceCheck::Replayed {
            return Err(EmbedError::new(
                Reason::Replayed,
                "this URL was used before",
            ));
        }
        if !self.in_scope {
            return Err(EmbedError::new(
                Reason::OutOfScope,
                "the path lies outside the secret's scopes",
            ));
        }
        let UnverifiedEmbedUrl { canonical, params } = self.url;
        Ok(VerifiedEmbedUrl {
            canonical,
            kid: params.kid,
            sub: params.sub,
            nonce: params.nonce,
            exp: params.exp,
            embed: params.embed,
            attrs: params.attrs,
            session: self.session,
            requested_session: params.session,
        })
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
///
/// It owns one buffer (the string to sign, plus the decoded text of
/// escaped values); every accessor borrows from it.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedEmbedUrl {
    canonical: Canonical,
    kid: crate::canonical::Span,
    sub: crate::canonical::Span,
    nonce: crate::canonical::Span,
    exp: u64,
    /// The `eg_` run of `canonical.params`.
    embed: Range<usize>,
    /// The `eg_attr.*` run of `canonical.params`.
    attrs: Range<usize>,
    session: u64,
    requested_session: Option<u64>,
}

impl VerifiedEmbedUrl {
    /// The public client id of the secret that signed.
    pub fn kid(&self) -> &str {
        self.canonical.text(self.kid)
    }
    /// The external user id (`eg_sub`, decoded).
    pub fn sub(&self) -> &str {
        self.canonical.text(self.sub)
    }
    /// `eg_exp`.
    pub fn exp(&self) -> u64 {
        self.exp
    }
    /// `eg_nonce`.
    pub fn nonce(&self) -> &str {
        self.canonical.text(self.nonce)
    }
    /// User attributes (`eg_attr.NAME`, decoded) as `(name, value)`, sorted
    /// by name.
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs {
            canonical: &self.canonical,
            params: self.canonical.params[self.attrs.clone()].iter(),
        }
    }
    /// Session length in seconds: `eg_session` clamped to the policy's
    /// `max_session`, or `max_session` when the URL asked for none.
    pub fn session_secs(&self) -> u64 {
        self.session
    }
    /// `eg_session` as the URL gave it, before clamping.
    pub fn requested_session(&self) -> Option<u64> {
        self.requested_session
    }
    /// The canonical host that was signed.
    pub fn host(&self) -> &str {
        self.canonical.host()
    }
    /// The normalised path that was signed (and is to be forwarded).
    pub fn path(&self) -> &str {
        self.canonical.path()
    }
    /// The canonical query without `eg_` parameters (may be empty). It is
    /// borrowed unless content parameters sort on both sides of the `eg_`
    /// ones (names before `eg_`, such as `a` or upper-case, and after).
    pub fn forward_query(&self) -> Cow<'_, str> {
        match self.canonical.query_around(self.embed.clone()) {
            (only, "") | ("", only) => Cow::Borrowed(only),
            (before, after) => Cow::Owned([before, after].join("&")),
        }
    }
    /// Path and query to forward upstream: exactly what was verified.
    pub fn forward_path_and_query(&self) -> String {
        let (before, after) = self.canonical.query_around(self.embed.clone());
        let path = self.path();
        let mut out = String::with_capacity(path.len() + 2 + before.len() + after.len());
        out.push_str(path);
        for (i, part) in [before, after]
            .into_iter()
            .filter(|p| !p.is_empty())
            .enumerate()
        {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(part);
        }
        out
    }
}

impl fmt::Debug for VerifiedEmbedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedEmbedUrl")
            .field("kid", &self.kid())
            .field("sub", &self.sub())
            .field("exp", &self.exp)
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
    canonical: &'a Canonical,
    params: core::slice::Iter<'a, Param>,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let p = self.params.next()?;
        Some((
            attr_name(self.canonical.text(p.name)),
            self.canonical.text(p.value),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.params.size_hint()
    }
}

impl ExactSizeIterator for Attrs<'_> {}

impl fmt::Debug for Attrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::tags_match;

    #[test]
    fn tags_match_only_when_every_bit_does() {
        let tag: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        assert!(tags_match(&tag, &tag));
        for bit in 0..256 {
            let mut other = tag;
            other[bit / 8] ^= 1 << (bit % 8);
            assert!(!tags_match(&tag, &other), "bit {bit}");
            assert!(!tags_match(&other, &tag), "bit {bit}");
        }
    }
}
