//! How far the secret cache can be trusted, for `/readyz` and `/metrics`:
//! whether it follows a PostgreSQL store ([`SyncHealth`], fleet mode), and
//! which stored rows it cannot read ([`RowErrors`]: a value that fails to
//! decrypt is refused on its own while every other secret keeps working).
//!
//! The cache (`secret_cache.rs`) holds both; the change feed
//! (`change_feed.rs`) reports its connection here. Nothing here reads the
//! cache or the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// How the cache keeps up with a PostgreSQL store. In SQLite mode it is
/// never `tracked`, and `/readyz` ignores it.
#[derive(Debug, Default)]
pub struct SyncHealth {
    tracked: AtomicBool,
    connected: AtomicBool,
    /// Unix milliseconds of the last moment the cache was known current.
    last_current_ms: AtomicU64,
    reason: Mutex<Option<String>>,
    resyncs: AtomicU64,
    notifications: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SyncHealth {
    /// `None` when healthy (or not in fleet mode); else why the cache may
    /// be stale.
    pub fn degraded(&self) -> Option<String> {
        if !self.tracked.load(Ordering::Acquire) || self.connected.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_else(|| "store_unreachable".into()),
        )
    }

    /// Seconds since the cache was last known to match the store (0 while
    /// connected and following, or outside fleet mode).
    pub fn staleness_secs(&self) -> f64 {
        if !self.tracked.load(Ordering::Acquire) || self.connected.load(Ordering::Acquire) {
            return 0.0;
        }
        let last = self.last_current_ms.load(Ordering::Acquire);
        now_ms().saturating_sub(last) as f64 / 1000.0
    }

    /// Whether the proxy follows a PostgreSQL store.
    pub fn tracked(&self) -> bool {
        self.tracked.load(Ordering::Acquire)
    }

    /// Full reloads of the cache done so far (fleet mode).
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    /// Change notifications received so far.
    pub fn notifications(&self) -> u64 {
        self.notifications.load(Ordering::Relaxed)
    }

    /// From now on the cache follows a PostgreSQL store.
    pub(crate) fn start_tracking(&self) {
        self.tracked.store(true, Ordering::Release);
        self.up();
    }

    /// The cache is known to match the store now.
    pub(crate) fn up(&self) {
        self.last_current_ms.store(now_ms(), Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    /// The feed lost the store, for `reason`.
    pub(crate) fn down(&self, reason: &str) {
        if self.connected.swap(false, Ordering::AcqRel) {
            // Known current until just now.
            self.last_current_ms.store(now_ms(), Ordering::Release);
        }
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }

    /// Whether the feed is connected (or not in fleet mode).
    pub(crate) fn is_up(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn count_resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_notification(&self) {
        self.notifications.fetch_add(1, Ordering::Relaxed);
    }
}

/// What kind of row cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowKind {
    /// An embed secret: its client id is refused as `key_inactive`.
    EmbedSecret,
    /// An upstream credential: the routes injecting it answer 502.
    Credential,
}

impl RowKind {
    /// Stable text form, as the store names kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::EmbedSecret => "embed_secret",
            RowKind::Credential => "credential",
        }
    }
}

/// One stored row the cache cannot read. Never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Embed secret or credential.
    pub kind: RowKind,
    /// Its name.
    pub name: String,
    /// Why, in words (from the store; no value).
    pub reason: String,
}

/// The rows the cache cannot read, by row id.
#[derive(Debug, Default)]
pub struct RowErrors {
    rows: Mutex<BTreeMap<String, RowError>>,
}

impl RowErrors {
    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, RowError>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes row `id` as unreadable; logs it the first time.
    pub(crate) fn set(&self, id: &str, error: RowError) {
        let mut rows = self.rows();
        if rows.get(id) != Some(&error) {
            tracing::error!(
                id,
                kind = error.kind.as_str(),
                name = %error.name,
                reason = %error.reason,
                "store error: a stored value cannot be decrypted; refusing it until the row is fixed or deleted (`embedgate store verify`)"
            );
            rows.insert(id.to_owned(), error);
        }
    }

    /// Row `id` is readable again, or gone.
    pub(crate) fn clear(&self, id: &str) {
        if let Some(e) = self.rows().remove(id) {
            tracing::info!(id, kind = e.kind.as_str(), name = %e.name, "stored row readable again or deleted");
        }
    }

    /// Clears every row of `kind` except those in `keep`.
    pub(crate) fn retain_kind(&self, kind: RowKind, keep: &dyn Fn(&str) -> bool) {
        let gone: Vec<String> = self
            .rows()
            .iter()
            .filter(|(id, e)| e.kind == kind && !keep(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.clear(&id);
        }
    }

    /// Every unreadable row, by id.
    pub fn list(&self) -> Vec<(String, RowError)> {
        self.rows()
            .iter()
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect()
    }

    /// How many rows of `kind` are unreadable.
    pub fn count(&self, kind: RowKind) -> usize {
        self.rows().values().filter(|e| e.kind == kind).count()
    }

    /// Whether every row is readable.
    pub fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_errors_are_kept_per_id_and_kind() {
        let e = RowErrors::default();
        let bad = |kind, name: &str| RowError {
            kind,
            name: name.into(),
            reason: "authentication failed".into(),
        };
        e.set("sec_a", bad(RowKind::EmbedSecret, "a"));
        e.set("sec_a", bad(RowKind::EmbedSecret, "a"));
        e.set("cred_b", bad(RowKind::Credential, "b"));
        assert_eq!(e.count(RowKind::EmbedSecret), 1);
        assert_eq!(e.count(RowKind::Credential), 1);
        e.retain_kind(RowKind::EmbedSecret, &|_| false);
        assert_eq!(e.list().len(), 1);
        assert_eq!(e.list()[0].0, "cred_b");
        e.clear("cred_b");
        assert!(e.is_empty());
    }
}
