//! Where the proxy's secrets come from: the store, seen through the four
//! calls the proxy needs. Implemented for `embedgate_store::Store`
//! (`store_source.rs`); a later backend (PostgreSQL) implements the same.
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
}
