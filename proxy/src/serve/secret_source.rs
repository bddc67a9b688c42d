//! Where the proxy's secrets come from: the store, seen through the calls
//! the proxy needs. Implemented for `embedgate_store::Store`
//! (`store_source.rs`, SQLite or PostgreSQL); a test can implement the
//! four required calls and get sensible defaults for the rest.
//!
//! The calls are blocking; the proxy makes them from `spawn_blocking`,
//! never on the request path.

use zeroize::Zeroizing;

/// One embed secret as loaded from the store, value decrypted.
pub struct SecretRecord {
    /// The public client id (`eg_kid`).
    pub client_id: String,
    /// The secret value, exactly as issued.
    pub value: Zeroizing<String>,
    /// Whether the secret is active.
    pub active: bool,
    /// The secret's own expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Path prefixes the secret is limited to (empty: anywhere).
    pub scopes: Vec<String>,
    /// When the secret was last reactivated, Unix seconds: sessions opened
    /// before it stay dead.
    pub reactivated_at: Option<i64>,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("client_id", &self.client_id)
            .field("value", &"[redacted]")
            .field("active", &self.active)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("reactivated_at", &self.reactivated_at)
            .finish()
    }
}

/// An embed secret whose stored value cannot be decrypted: the proxy
/// refuses its client id (`key_inactive`) and keeps every other secret.
#[derive(Debug, Clone)]
pub struct UnreadableSecret {
    /// The row id.
    pub id: String,
    /// The client id, if the row has one.
    pub client_id: Option<String>,
    /// The name, for logs and `/readyz`.
    pub name: String,
    /// Why (no value).
    pub reason: String,
}

/// Every embed secret, as of one revision.
#[derive(Debug)]
pub struct Snapshot {
    /// The store revision it reflects.
    pub revision: u64,
    /// `(row id, secret)` of every readable embed secret.
    pub secrets: Vec<(String, SecretRecord)>,
    /// The embed secrets that cannot be read.
    pub unreadable: Vec<UnreadableSecret>,
}

/// What changed after a revision.
#[derive(Debug)]
pub struct Changes {
    /// The store revision the changes bring the cache to.
    pub revision: u64,
    /// Row ids of every embed secret changed; those in neither `secrets`
    /// nor `unreadable` were deleted.
    pub embed_ids: Vec<String>,
    /// `(row id, secret)` of the changed embed secrets that exist.
    pub secrets: Vec<(String, SecretRecord)>,
    /// The changed embed secrets that cannot be read.
    pub unreadable: Vec<UnreadableSecret>,
    /// Whether a credential changed (the routes' credentials are re-read).
    pub credentials_changed: bool,
}

/// A credential, as a route asks for it.
#[derive(Debug)]
pub enum CredentialRead {
    /// Active, unexpired, readable: its value.
    Value(Zeroizing<String>),
    /// No usable credential of that name (absent, inactive, expired).
    Missing,
    /// The stored row's value cannot be decrypted.
    Unreadable {
        /// The row id.
        id: String,
        /// Why (no value).
        reason: String,
    },
}

/// The store as the proxy uses it.
pub trait SecretSource: Send + Sync + 'static {
    /// A number that grows with every change; cheap.
    fn revision(&self) -> anyhow::Result<u64>;
    /// Every embed secret (active or not) with its value, and the revision
    /// it reflects.
    fn load_embed_keys(&self) -> anyhow::Result<(u64, Vec<SecretRecord>)>;
    /// The current value of a credential, by name.
    fn credential_value(&self, name: &str) -> anyhow::Result<Option<Zeroizing<String>>>;
    /// Records when secrets (by client id) were last used, Unix seconds.
    fn record_embed_usage(&self, usage: &[(String, i64)]) -> anyhow::Result<()>;

    /// Every embed secret, a row that cannot be read reported on its own.
    /// By default [`SecretSource::load_embed_keys`], with client ids as
    /// row ids.
    fn load_snapshot(&self) -> anyhow::Result<Snapshot> {
        let (revision, records) = self.load_embed_keys()?;
        Ok(Snapshot {
            revision,
            secrets: records
                .into_iter()
                .map(|r| (r.client_id.clone(), r))
                .collect(),
            unreadable: Vec::new(),
        })
    }

    /// What changed after `revision`, if the source can tell (`None`: load
    /// everything). By default it cannot.
    fn changes_since(&self, _revision: u64) -> anyhow::Result<Option<Changes>> {
        Ok(None)
    }

    /// A credential by name, an unreadable row told apart from a missing
    /// one. By default [`SecretSource::credential_value`].
    fn read_credential(&self, name: &str) -> anyhow::Result<CredentialRead> {
        Ok(match self.credential_value(name)? {
            Some(v) => CredentialRead::Value(v),
            None => CredentialRead::Missing,
        })
    }
}
