//! Embed secrets: generated values that sign embed URLs, shown once.

use std::fmt;

use serde::Serialize;
use zeroize::Zeroizing;

/// An embed secret's metadata. Never holds the value; `fingerprint` tells
/// secrets apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmbedSecret {
    /// Row id (`sec_…`), stable for the secret's life.
    pub id: String,
    /// Public client id (`ek_` + 16 base32), sent as `eg_kid`.
    pub client_id: String,
    /// Unique among live embed secrets (case-insensitive), 1–100 characters.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Free-text label such as `production`.
    pub environment: String,
    /// Path prefixes this secret may sign for; empty means any path.
    pub scopes: Vec<String>,
    /// The admin who created it.
    pub owner: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last metadata change.
    pub updated_at: i64,
    /// Unix seconds of the last verified use reported by a proxy.
    pub last_used_at: Option<i64>,
    /// Unix seconds after which the secret no longer verifies.
    pub expires_at: Option<i64>,
    /// Whether the secret verifies (when also unexpired).
    pub active: bool,
    /// First 4 characters and length of the value, e.g. `AbCd…(32)`.
    pub fingerprint: String,
    /// Id of the master key the value is encrypted under.
    pub master_key_id: String,
}

impl EmbedSecret {
    /// Whether `now` is at or past the expiry.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// Active and not expired: URLs signed with it verify.
    pub fn is_usable(&self, now: i64) -> bool {
        self.active && !self.is_expired(now)
    }
}

/// What to create. The value is always generated, never chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEmbedSecret {
    /// Unique name, 1–100 characters.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Environment label.
    pub environment: String,
    /// Path prefixes (normalised on write).
    pub scopes: Vec<String>,
    /// Optional expiry, Unix seconds.
    pub expires_at: Option<i64>,
}

/// Metadata changes; `None` leaves a field as it is. The value cannot be
/// changed: to rotate, create a new secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedSecretUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New environment label.
    pub environment: Option<String>,
    /// New scopes (an empty list removes all).
    pub scopes: Option<Vec<String>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<i64>>,
    /// New owner: who answers for the secret (a person or a team; at
    /// first the admin who created it).
    pub owner: Option<String>,
}

/// The result of creating an embed secret: the only time the value is
/// returned.
#[derive(Clone, Serialize)]
pub struct CreatedEmbedSecret {
    /// The new secret's metadata.
    pub secret: EmbedSecret,
    /// The value, to be shown to the admin once and never again.
    #[serde(serialize_with = "serialize_zeroizing")]
    pub value: Zeroizing<String>,
}

fn serialize_zeroizing<S: serde::Serializer>(
    v: &Zeroizing<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

impl fmt::Debug for CreatedEmbedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedEmbedSecret")
            .field("secret", &self.secret)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// An embed secret with its decrypted value, for the proxy's key cache.
#[derive(Clone)]
pub struct EmbedKeyMaterial {
    /// Row id.
    pub id: String,
    /// Public client id (`eg_kid`).
    pub client_id: String,
    /// Name, for logs.
    pub name: String,
    /// The secret value.
    pub value: Zeroizing<String>,
    /// Active flag.
    pub active: bool,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Path prefixes; empty means any path.
    pub scopes: Vec<String>,
    /// When the secret was last reactivated (Unix seconds), from the change
    /// log; `None` if it never was. A verifier must not honour sessions
    /// opened before it: deactivating a secret ends its sessions for good.
    pub reactivated_at: Option<i64>,
}

impl fmt::Debug for EmbedKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedKeyMaterial")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .field("active", &self.active)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}
