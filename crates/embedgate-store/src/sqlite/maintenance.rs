//! Store-wide maintenance: purging long-expired secrets and rotating the
//! master key.

use rusqlite::TransactionBehavior;

use super::canary::{self, ensure_current_key};
use super::change_log::{record, Change};
use super::row::{self, Row};
use super::SqliteBackend;
use crate::change_log::{ChangeAction, SubjectKind};
use crate::checked::Actor;
use crate::error::StoreError;
use crate::lifecycle_rules::{purge_entry, reseal, rotation, rotation_already_done};
use crate::maintenance::{PurgedSecret, RotationReport};
use crate::master_key::MasterKey;

impl SqliteBackend {
    pub(crate) fn purge_expired(
        &self,
        actor: &Actor,
        now: i64,
    ) -> Result<Vec<PurgedSecret>, StoreError> {
        let cutoff = now.saturating_sub(self.options.purge_after_secs);
        self.write(|tx, _| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {} FROM secrets WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at, id",
                row::COLUMNS
            ))?;
            let rows = stmt
                .query_map([cutoff], Row::from_sql)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut purged = Vec::with_capacity(rows.len());
            for r in rows {
                tx.execute("DELETE FROM secrets WHERE id = ?1", [&r.id])?;
                let (p, changes) = purge_entry(r, cutoff);
                record(
                    tx,
                    Change {
                        at: now,
                        actor,
                        action: ChangeAction::Purge,
                        kind: p.kind,
                        subject_id: &p.id,
                        subject_name: &p.name,
                        changes,
                    },
                )?;
                purged.push(p);
            }
            Ok(purged)
        })
    }

    /// Re-encrypts every row under `new_key` in ONE transaction.
    ///
    /// A crash (even `kill -9`) before the commit leaves the file exactly as
    /// it was, under the old key; after the commit, everything is under the
    /// new key. There is no in-between to recover from, so a re-run is always
    /// safe: with the old key it starts over, with the new key it finds the
    /// work done. SQLite handles a transaction of a few thousand rows easily.
    pub(crate) fn rotate_master_key(
        &self,
        new_key: MasterKey,
        actor: &Actor,
        now: i64,
    ) -> Result<RotationReport, StoreError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let old_key = inner.key.clone();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_current_key(&tx, &old_key)?;
        let rows = {
            let mut stmt =
                tx.prepare(&format!("SELECT {} FROM secrets ORDER BY id", row::COLUMNS))?;
            let rows = stmt
                .query_map([], Row::from_sql)?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        if new_key.id() == old_key.id() {
            return rotation_already_done(&rows, &old_key);
        }
        let mut count = 0u64;
        for r in &rows {
            let s = reseal(r, &old_key, &new_key)?;
            tx.execute(
                "UPDATE secrets SET key_id = ?2, nonce = ?3, ciphertext = ?4 WHERE id = ?1",
                (&r.id, new_key.id(), &s.nonce, &s.ciphertext),
            )?;
            count += 1;
        }
        tx.execute(
            "UPDATE master_keys SET state = 'retired', retired_at = ?2 WHERE key_id = ?1",
            (old_key.id(), now),
        )?;
        let c = canary::seal(&new_key)?;
        tx.execute(
            "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
             VALUES (?1, 'current', ?2, ?3, ?4) \
             ON CONFLICT (key_id) DO UPDATE SET state = 'current', retired_at = NULL, \
             canary_nonce = excluded.canary_nonce, canary_ciphertext = excluded.canary_ciphertext",
            (new_key.id(), &c.nonce, &c.ciphertext, now),
        )?;
        let (report, changes) = rotation(&old_key, &new_key, count);
        record(
            &tx,
            Change {
                at: now,
                actor,
                action: ChangeAction::RotateMasterKey,
                kind: SubjectKind::MasterKey,
                subject_id: new_key.id(),
                subject_name: "master key",
                changes,
            },
        )?;
        tx.commit()?;
        inner.key = new_key;
        Ok(report)
    }
}
