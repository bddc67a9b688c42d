//! Verification keys: a pre-keyed HMAC state plus the secret's status.

use core::fmt;
use core::ops::Deref;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// One embed secret as a verifier needs it.
///
/// It keeps the HMAC state already keyed with the secret (the inner and outer
/// pads are hashed once, not per request) and never the secret text itself.
/// `Debug` prints no key material.
#[derive(Clone)]
pub struct EmbedKey {
    pub(crate) mac: HmacSha256,
    active: bool,
    expires_at: Option<u64>,
    scopes: Vec<String>,
}

impl EmbedKey {
    /// A key for `secret` (the UTF-8 bytes of the embed secret exactly as
    /// issued), active, with no expiry and no scopes.
    pub fn new(secret: &[u8]) -> Self {
        EmbedKey {
            mac: new_mac(secret),
            active: true,
            expires_at: None,
            scopes: Vec::new(),
        }
    }

    /// Sets whether the secret is active (an inactive one answers `key_inactive`).
    #[must_use]
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Sets the secret's own expiry (Unix seconds); after it the key is inactive.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: Option<u64>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Restricts the key to paths under these normalised prefixes (empty: anywhere).
    #[must_use]
    pub fn with_scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = scopes;
        self
    }

    /// Whether the key may verify at `now`: active and not past its expiry.
    pub fn usable_at(&self, now: u64) -> bool {
        self.active && self.expires_at.is_none_or(|e| now <= e)
    }

    /// Whether the key is active (ignoring expiry).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The secret's own expiry, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The path prefixes the key is limited to (empty: anywhere).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `path` (normalised) lies inside the key's scopes.
    pub fn covers(&self, path: &str) -> bool {
        self.scopes.is_empty() || self.scopes.iter().any(|s| crate::path_in_scope(path, s))
    }

    /// The signature this key gives `string_to_sign` (base64url, 43 chars).
    /// For diagnostics such as the playground; verifiers compare in constant
    /// time instead.
    pub fn signature_for(&self, string_to_sign: &str) -> String {
        crate::base64url::encode(&tag(&self.mac, string_to_sign.as_bytes()))
    }
}

/// HMAC-SHA256 of `message` under a pre-keyed state: the one place a tag is
/// computed (signers, the verifier, diagnostics). Out of line: each inlined
/// copy of the hash's finishing code weighs 1.5 KB in the WebAssembly
/// package.
#[inline(never)]
pub(crate) fn tag(keyed: &HmacSha256, message: &[u8]) -> [u8; 32] {
    let mut mac = keyed.clone();
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub(crate) fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

impl fmt::Debug for EmbedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedKey")
            .field("key", &"[redacted]")
            .field("active", &self.active)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Where a verifier looks keys up by `eg_kid`.
///
/// Implemented for maps of [`EmbedKey`] or `Arc<EmbedKey>`; a proxy
/// implements it over its concurrent cache. It must not do I/O: it is on
/// the request path.
pub trait KeyStore {
    /// What a lookup hands out (a reference, a guard, an `Arc`).
    type Key<'a>: Deref<Target = EmbedKey>
    where
        Self: 'a;
    /// The key for `kid`, if one is known (active or not).
    fn key(&self, kid: &str) -> Option<Self::Key<'_>>;
}

impl<S: ::std::hash::BuildHasher> KeyStore for HashMap<String, EmbedKey, S> {
    type Key<'a>
        = &'a EmbedKey
    where
        Self: 'a;
    fn key(&self, kid: &str) -> Option<&EmbedKey> {
        self.get(kid)
    }
}

impl<S: ::std::hash::BuildHasher> KeyStore for HashMap<String, Arc<EmbedKey>, S> {
    type Key<'a>
        = &'a EmbedKey
    where
        Self: 'a;
    fn key(&self, kid: &str) -> Option<&EmbedKey> {
        self.get(kid).map(|k| &**k)
    }
}

impl KeyStore for BTreeMap<String, EmbedKey> {
    type Key<'a>
        = &'a EmbedKey
    where
        Self: 'a;
    fn key(&self, kid: &str) -> Option<&EmbedKey> {
        self.get(kid)
    }
}

impl<K: KeyStore + ?Sized> KeyStore for &K {
    type Key<'a>
        = K::Key<'a>
    where
        Self: 'a;
    fn key(&self, kid: &str) -> Option<K::Key<'_>> {
        (**self).key(kid)
    }
}
