//! Store-wide maintenance: purging expired secrets and rotating the
//! master key, their options and results.

use serde::Serialize;

use crate::canary;
use crate::change_log::{Change, ChangeAction, SubjectKind};
use crate::checked::Actor;
use crate::error::StoreError;
use crate::lifecycle_rules::{purge_entry, reseal, rotation, rotation_already_done};
use crate::master_key::MasterKey;
use crate::row::{Row, COLUMNS};
use crate::sql::params;
use crate::writer::Writer;

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

// ----- the operations, for every backend

/// Deletes every secret that expired at or before `cutoff`, logging each.
pub(crate) fn purge_expired(
    w: &mut Writer<'_>,
    cutoff: i64,
    actor: &Actor,
    now: i64,
) -> Result<Vec<PurgedSecret>, StoreError> {
    let rows = w.sql.rows(
        &format!(
            "SELECT {COLUMNS} FROM secrets WHERE expires_at IS NOT NULL AND expires_at <= ?1 \
             ORDER BY expires_at, id"
        ),
        params![cutoff],
        Row::read,
    )?;
    let mut purged = Vec::with_capacity(rows.len());
    for r in rows {
        w.sql
            .execute("DELETE FROM secrets WHERE id = ?1", params![&r.id])?;
        let client_id = r.client_id.clone();
        let (p, changes) = purge_entry(r, cutoff);
        w.record(Change {
            at: now,
            actor,
            action: ChangeAction::Purge,
            kind: p.kind,
            subject_id: &p.id,
            subject_name: &p.name,
            client_id: client_id.as_deref(),
            changes,
        })?;
        purged.push(p);
    }
    Ok(purged)
}

/// Re-encrypts every row under `new_key` in the writer's ONE transaction.
///
/// A crash (even `kill -9`) before the commit leaves the store exactly as
/// it was, under the old key; after the commit, everything is under the
/// new key. There is no in-between to recover from, so a re-run is always
/// safe: with the old key it starts over, with the new key it finds the
/// work done.
pub(crate) fn rotate_master_key(
    w: &mut Writer<'_>,
    new_key: &MasterKey,
    actor: &Actor,
    now: i64,
) -> Result<RotationReport, StoreError> {
    let old_key = w.key;
    let rows = w.sql.rows(
        &format!("SELECT {COLUMNS} FROM secrets ORDER BY id"),
        &[],
        Row::read,
    )?;
    if new_key.id() == old_key.id() {
        return rotation_already_done(&rows, old_key);
    }
    let mut count = 0u64;
    for r in &rows {
        let s = reseal(r, old_key, new_key)?;
        w.sql.execute(
            "UPDATE secrets SET key_id = ?2, nonce = ?3, ciphertext = ?4 WHERE id = ?1",
            params![&r.id, new_key.id(), &s.nonce, &s.ciphertext],
        )?;
        count += 1;
    }
    canary::replace_current(w.sql, old_key, new_key, now)?;
    let (report, changes) = rotation(old_key, new_key, count);
    w.record(Change {
        at: now,
        actor,
        action: ChangeAction::RotateMasterKey,
        kind: SubjectKind::MasterKey,
        subject_id: new_key.id(),
        subject_name: "master key",
        client_id: None,
        changes,
    })?;
    Ok(report)
}
