//! Results and options of store-wide maintenance: purging expired secrets
//! and rotating the master key.

use serde::Serialize;

use crate::change_log::SubjectKind;

/// Default time between a secret's expiry and its automatic purge: 30 days.
pub const DEFAULT_PURGE_AFTER_SECS: i64 = 30 * 24 * 60 * 60;

/// Options of [`crate::Store::open_with_options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Expired secrets are purged this many seconds after they expired.
    pub purge_after_secs: i64,
    /// How long a writer waits for another process's transaction, in ms.
    pub busy_timeout_ms: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            purge_after_secs: DEFAULT_PURGE_AFTER_SECS,
            busy_timeout_ms: 30_000,
        }
    }
}

impl StoreOptions {
    /// These options with another purge delay.
    pub fn with_purge_after_secs(mut self, secs: i64) -> StoreOptions {
        self.purge_after_secs = secs;
        self
    }
}

/// A secret removed by [`crate::Store::purge_expired`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgedSecret {
    /// Embed secret or credential.
    pub kind: SubjectKind,
    /// Row id.
    pub id: String,
    /// Name.
    pub name: String,
    /// When it expired, Unix seconds.
    pub expired_at: i64,
}

/// What [`crate::Store::rotate_master_key`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    /// Key id before.
    pub old_key_id: String,
    /// Key id after.
    pub new_key_id: String,
    /// Rows re-encrypted.
    pub rows_reencrypted: u64,
    /// `true` when the store was already under the new key (a re-run after
    /// a completed rotation): nothing was changed.
    pub already_current: bool,
}
