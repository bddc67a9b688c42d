//! The in-memory secret cache: every embed secret as a pre-keyed HMAC state
//! ([`EmbedKey`]) plus a session-cookie key derived from it (HKDF-SHA256),
//! and the upstream credentials the routes inject. Filled from the store at
//! start ([`SecretCache::reload_blocking`]), then kept current by applying
//! only the rows changed since its revision ([`SecretCache::catch_up_blocking`]:
//! after the store's revision moved, a change notification, or an admin
//! API write), so a change costs the rows it touched, not the whole store.
//! The request path only reads it; it never touches the store.
//!
//! A row whose value cannot be decrypted fails closed on its own: an embed
//! secret stays known by its client id but refuses every URL
//! (`key_inactive`) and session; a credential is not injected (its routes
//! answer 502). Both are listed in `RowErrors` (`store_health.rs`) for `/readyz`, `/metrics`
//! and the log, and every other change keeps applying.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use embedgate_core::{EmbedKey, KeyStore};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::secret_source::{CredentialRead, SecretRecord, SecretSource, UnreadableSecret};
use super::store_health::{RowError, RowErrors, RowKind, SyncHealth};
use super::verification_counts::VerificationCounts;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HKDF salt and info of the session-cookie key (domain separation: the
/// cookie MAC can never be confused with a URL signature).
const SESSION_SALT: &[u8] = b"embedgate session cookie v1";
const SESSION_INFO: &[u8] = b"EG1 session MAC key";

/// One embed secret, ready for the request path.
pub struct CachedSecret {
    key: EmbedKey,
    session_mac: HmacSha256,
    /// Sessions opened before this (Unix seconds) are refused: the secret
    /// was deactivated and reactivated since.
    sessions_valid_from: u64,
    last_used: Arc<AtomicI64>,
    verifications: Arc<VerificationCounts>,
}

impl CachedSecret {
    fn from_record(
        r: &SecretRecord,
        last_used: Arc<AtomicI64>,
        verifications: Arc<VerificationCounts>,
    ) -> Self {
        let scopes = r
            .scopes
            .iter()
            .filter_map(|s| embedgate_core::normalise_path(s).ok())
            .collect();
        let key = EmbedKey::new(r.value.as_bytes())
            .with_active(r.active)
            .with_expires_at(r.expires_at.map(|e| u64::try_from(e).unwrap_or(0)))
            .with_scopes(scopes);
        CachedSecret {
            key,
            session_mac: derive_session_mac(r.value.as_bytes()),
            sessions_valid_from: r
                .reactivated_at
                .map_or(0, |t| u64::try_from(t).unwrap_or(0)),
            last_used,
            verifications,
        }
    }

    /// An entry for a secret whose value cannot be read: known by its
    /// client id (so not `unknown_key`), inactive under a random key, so
    /// every URL is refused as `key_inactive` and every session as revoked.
    fn refusing(last_used: Arc<AtomicI64>, verifications: Arc<VerificationCounts>) -> Self {
        use rand::RngCore as _;
        let mut random = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(random.as_mut());
        CachedSecret {
            key: EmbedKey::new(random.as_ref()).with_active(false),
            session_mac: derive_session_mac(random.as_ref()),
            sessions_valid_from: u64::MAX,
            last_used,
            verifications,
        }
    }

    /// Sessions opened before this time (Unix seconds) are refused.
    pub fn sessions_valid_from(&self) -> u64 {
        self.sessions_valid_from
    }

    /// The verification key (status, expiry, scopes included).
    pub fn key(&self) -> &EmbedKey {
        &self.key
    }

    /// A fresh copy of the pre-keyed session-cookie MAC.
    pub(crate) fn session_mac(&self) -> HmacSha256 {
        self.session_mac.clone()
    }

    /// Notes a use at `now` (Unix seconds) for `last_used_at`.
    pub fn touch(&self, now: u64) {
        self.verifications.record(now);
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        // Load first: most requests fall in the same second, and a plain
        // load keeps the cache line shared between cores.
        if self.last_used.load(Ordering::Relaxed) < now {
            self.last_used.fetch_max(now, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for CachedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSecret")
            .field("key", &self.key)
            .field("session_mac", &"[redacted]")
            .finish()
    }
}

fn derive_session_mac(secret: &[u8]) -> HmacSha256 {
    let hk = Hkdf::<Sha256>::new(Some(SESSION_SALT), secret);
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
    hk.expand(SESSION_INFO, okm.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 length"));
    <HmacSha256 as Mac>::new_from_slice(okm.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// A route's injected credential: which route, which stored name, what prefix.
#[derive(Clone, Debug)]
pub struct CredentialSpec {
    /// Index of the route.
    pub route: usize,
    /// Name of the credential in the store.
    pub name: String,
    /// Put before the value (`Bearer `).
    pub prefix: String,
}

/// The cache. Cheap to share (`Arc`).
pub struct SecretCache {
    entries: DashMap<String, Arc<CachedSecret>>,
    usage: DashMap<String, Arc<AtomicI64>>,
    verifications: DashMap<String, Arc<VerificationCounts>>,
    credentials: DashMap<usize, HeaderValue>,
    credential_specs: Vec<CredentialSpec>,
    /// Client id of each embed secret's row id: a deleted row is named
    /// only by its id.
    kids: DashMap<String, String>,
    loaded_revision: AtomicU64,
    store_revision: AtomicU64,
    loaded: AtomicBool,
    sync: SyncHealth,
    row_errors: RowErrors,
    /// One update at a time, so an older read never overwrites a newer one.
    updating: Mutex<()>,
    /// Counts the changes applied (reloads, caught-up rows, notifications):
    /// open WebSockets and streams wait on it to re-check their session
    /// (`revocation.rs`).
    changes: tokio::sync::watch::Sender<u64>,
}

/// What [`SecretCache::catch_up_blocking`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Already at the store's revision.
    Current,
    /// Applied only the rows changed since the cache's revision.
    Changes,
    /// Reloaded everything (the change log could not tell, or the cache
    /// was ahead of the store).
    Reloaded,
}

impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCache")
            .field("entries", &self.entries.len())
            .field("loaded_revision", &self.loaded_revision())
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    /// An empty cache that will load the given route credentials.
    pub fn new(credential_specs: Vec<CredentialSpec>) -> Self {
        SecretCache {
            entries: DashMap::new(),
            usage: DashMap::new(),
            verifications: DashMap::new(),
            credentials: DashMap::new(),
            credential_specs,
            kids: DashMap::new(),
            loaded_revision: AtomicU64::new(0),
            store_revision: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
            sync: SyncHealth::default(),
            row_errors: RowErrors::default(),
            updating: Mutex::new(()),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The secret with this client id, if known (active or not).
    pub fn get(&self, kid: &str) -> Option<Arc<CachedSecret>> {
        self.entries.get(kid).map(|e| Arc::clone(e.value()))
    }

    /// Notified after each change applied to the cache.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The header value to inject for route `route`, if it has one.
    pub fn credential(&self, route: usize) -> Option<HeaderValue> {
        self.credentials.get(&route).map(|v| v.value().clone())
    }

    /// Number of secrets held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no secret is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the first load succeeded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The store revision the cache reflects.
    pub fn loaded_revision(&self) -> u64 {
        self.loaded_revision.load(Ordering::Acquire)
    }

    /// The newest store revision seen by polling.
    pub fn store_revision(&self) -> u64 {
        self.store_revision.load(Ordering::Acquire)
    }

    /// Loads everything from the store (blocking).
    pub fn reload_blocking(&self, source: &dyn SecretSource) -> anyhow::Result<()> {
        let _one = self.updating.lock().unwrap_or_else(PoisonError::into_inner);
        self.reload_locked(source)
    }

    fn reload_locked(&self, source: &dyn SecretSource) -> anyhow::Result<()> {
        let snapshot = source.load_snapshot()?;
        // Credentials first: a route never runs with a key set newer than
        // its credential by more than one reload.
        self.load_credentials(source)?;
        let mut seen = std::collections::HashSet::with_capacity(snapshot.secrets.len());
        for (id, r) in &snapshot.secrets {
            self.insert_record(id, r);
            seen.insert(r.client_id.clone());
        }
        for u in &snapshot.unreadable {
            if let Some(kid) = self.insert_unreadable(u) {
                seen.insert(kid);
            }
        }
        self.entries.retain(|kid, _| seen.contains(kid.as_str()));
        self.verifications
            .retain(|kid, _| seen.contains(kid.as_str()));
        self.kids.retain(|_, kid| seen.contains(kid.as_str()));
        let bad: std::collections::HashSet<&str> =
            snapshot.unreadable.iter().map(|u| u.id.as_str()).collect();
        self.row_errors
            .retain_kind(RowKind::EmbedSecret, &|id| bad.contains(id));
        self.loaded_revision
            .store(snapshot.revision, Ordering::Release);
        self.store_revision
            .fetch_max(snapshot.revision, Ordering::AcqRel);
        self.loaded.store(true, Ordering::Release);
        self.changes.send_modify(|n| *n += 1);
        tracing::info!(
            revision = snapshot.revision,
            secrets = snapshot.secrets.len(),
            unreadable = snapshot.unreadable.len(),
            "secret cache loaded"
        );
        Ok(())
    }

    /// Brings the cache to the store's revision by applying only the rows
    /// changed since the cache's (blocking); reloads everything when the
    /// source cannot tell. The cost is the rows changed, so an admin write
    /// costs one row, not the store.
    pub fn catch_up_blocking(&self, source: &dyn SecretSource) -> anyhow::Result<CatchUp> {
        let _one = self.updating.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.is_loaded() {
            self.reload_locked(source)?;
            return Ok(CatchUp::Reloaded);
        }
        let have = self.loaded_revision();
        let Some(changes) = source.changes_since(have)? else {
            self.reload_locked(source)?;
            return Ok(CatchUp::Reloaded);
        };
        if changes.revision == have {
            return Ok(CatchUp::Current);
        }
        if changes.credentials_changed {
            self.load_credentials(source)?;
        }
        for (id, r) in &changes.secrets {
            self.insert_record(id, r);
        }
        for u in &changes.unreadable {
            self.insert_unreadable(u);
        }
        for id in &changes.embed_ids {
            let present = changes.secrets.iter().any(|(i, _)| i == id)
                || changes.unreadable.iter().any(|u| &u.id == id);
            if !present {
                // Deleted (or purged).
                if let Some((_, kid)) = self.kids.remove(id) {
                    self.entries.remove(&kid);
                    self.verifications.remove(&kid);
                }
                self.row_errors.clear(id);
            }
        }
        self.loaded_revision
            .store(changes.revision, Ordering::Release);
        self.store_revision
            .fetch_max(changes.revision, Ordering::AcqRel);
        self.changes.send_modify(|n| *n += 1);
        tracing::debug!(
            revision = changes.revision,
            secrets = changes.embed_ids.len(),
            "secret cache caught up"
        );
        Ok(CatchUp::Changes)
    }

    /// Reads every route's credential; a store that cannot be reached
    /// fails the call (the credentials held stay), a row that cannot be
    /// decrypted fails only its routes.
    fn load_credentials(&self, source: &dyn SecretSource) -> anyhow::Result<()> {
        let mut bad = Vec::new();
        for spec in &self.credential_specs {
            match source.read_credential(&spec.name)? {
                CredentialRead::Value(value) => {
                    let text = Zeroizing::new(format!("{}{}", spec.prefix, value.as_str()));
                    match HeaderValue::from_str(&text) {
                        Ok(mut v) => {
                            v.set_sensitive(true);
                            self.credentials.insert(spec.route, v);
                        }
                        Err(_) => {
                            tracing::error!(credential = %spec.name, "stored credential is not a valid header value; not injected");
                            self.credentials.remove(&spec.route);
                        }
                    }
                }
                CredentialRead::Missing => {
                    tracing::error!(credential = %spec.name, "credential named by a route is not in the store");
                    self.credentials.remove(&spec.route);
                }
                CredentialRead::Unreadable { id, reason } => {
                    self.credentials.remove(&spec.route);
                    self.row_errors.set(
                        &id,
                        RowError {
                            kind: RowKind::Credential,
                            name: spec.name.clone(),
                            reason,
                        },
                    );
                    bad.push(id);
                }
            }
        }
        self.row_errors
            .retain_kind(RowKind::Credential, &|id| bad.iter().any(|b| b == id));
        Ok(())
    }

    fn insert_record(&self, id: &str, r: &SecretRecord) {
        let (usage, verifications) = self.counters(&r.client_id);
        self.kids.insert(id.to_owned(), r.client_id.clone());
        self.entries.insert(
            r.client_id.clone(),
            Arc::new(CachedSecret::from_record(r, usage, verifications)),
        );
        self.row_errors.clear(id);
    }

    /// Puts a refusing entry for an unreadable secret; returns its client
    /// id, if it has one.
    fn insert_unreadable(&self, u: &UnreadableSecret) -> Option<String> {
        self.row_errors.set(
            &u.id,
            RowError {
                kind: RowKind::EmbedSecret,
                name: u.name.clone(),
                reason: u.reason.clone(),
            },
        );
        let kid = u.client_id.clone()?;
        let (usage, verifications) = self.counters(&kid);
        self.kids.insert(u.id.clone(), kid.clone());
        self.entries.insert(
            kid.clone(),
            Arc::new(CachedSecret::refusing(usage, verifications)),
        );
        Some(kid)
    }

    fn counters(&self, kid: &str) -> (Arc<AtomicI64>, Arc<VerificationCounts>) {
        let usage = Arc::clone(
            self.usage
                .entry(kid.to_owned())
                .or_insert_with(|| Arc::new(AtomicI64::new(0)))
                .value(),
        );
        let verifications = Arc::clone(
            self.verifications
                .entry(kid.to_owned())
                .or_default()
                .value(),
        );
        (usage, verifications)
    }

    /// How the cache follows a PostgreSQL store (fleet mode).
    pub fn sync_health(&self) -> &SyncHealth {
        &self.sync
    }

    /// The stored rows the cache cannot read.
    pub fn row_errors(&self) -> &RowErrors {
        &self.row_errors
    }

    /// Whether route `route`'s credential is withheld because its stored
    /// value cannot be decrypted (rather than missing).
    pub fn credential_unreadable(&self, route: usize) -> bool {
        let names: Vec<String> = self
            .row_errors
            .list()
            .into_iter()
            .filter(|(_, e)| e.kind == RowKind::Credential)
            .map(|(_, e)| e.name)
            .collect();
        self.credential_specs
            .iter()
            .any(|s| s.route == route && names.contains(&s.name))
    }

    /// Checks the store revision and catches up when it moved (blocking).
    pub fn poll_blocking(&self, source: &dyn SecretSource) -> anyhow::Result<bool> {
        let rev = source.revision()?;
        self.store_revision.fetch_max(rev, Ordering::AcqRel);
        if rev != self.loaded_revision() || !self.is_loaded() {
            self.catch_up_blocking(source)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Verified uses of the secret with this client id over the last 24
    /// hours (see `verification_counts.rs`), if it is in the cache.
    pub fn verification_counts(&self, kid: &str) -> Option<Arc<VerificationCounts>> {
        self.verifications.get(kid).map(|e| Arc::clone(e.value()))
    }

    /// Takes the uses noted since the last call: `(client id, unix secs)`.
    pub fn take_usage(
        &self,
        flushed: &mut std::collections::HashMap<String, i64>,
    ) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for e in &self.usage {
            let t = e.value().load(Ordering::Relaxed);
            if t > 0 && flushed.get(e.key()).is_none_or(|f| *f < t) {
                out.push((e.key().clone(), t));
            }
        }
        for (k, t) in &out {
            flushed.insert(k.clone(), *t);
        }
        // Forget usage cells of secrets that are gone.
        self.usage.retain(|k, _| self.entries.contains_key(k));
        out
    }
}

/// A handle to a looked-up entry, for the core's [`KeyStore`].
#[derive(Debug)]
pub struct KeyRef(Arc<CachedSecret>);

impl std::ops::Deref for KeyRef {
    type Target = EmbedKey;
    fn deref(&self) -> &EmbedKey {
        &self.0.key
    }
}

impl KeyStore for SecretCache {
    type Key<'a>
        = KeyRef
    where
        Self: 'a;
    fn key(&self, kid: &str) -> Option<KeyRef> {
        self.get(kid).map(KeyRef)
    }
}

/// An entry already looked up, as a [`KeyStore`] of one: lets the request
/// path look a kid up once and keep the entry for the session cookie.
pub(crate) struct Pinned<'a>(pub(crate) Option<&'a CachedSecret>);

impl KeyStore for Pinned<'_> {
    type Key<'b>
        = &'b EmbedKey
    where
        Self: 'b;
    fn key(&self, _kid: &str) -> Option<&EmbedKey> {
        self.0.map(|e| &e.key)
    }
}
