//! Store-wide maintenance: purging long-expired secrets and rotating the
//! master key.

use super::change_log::{record, Change};
use super::row;
use super::PostgresBackend;
use crate::change_log::{ChangeAction, FieldChange, SubjectKind};
use crate::error::StoreError;
use crate::fields;
use crate::maintenance::{PurgedSecret, RotationReport};
use crate::master_key::MasterKey;
use crate::sealed;

use super::canary;
use crate::timestamp::format_rfc3339;

impl PostgresBackend {
    pub(crate) fn purge_expired(
        &self,
        actor: &str,
        now: i64,
    ) -> Result<Vec<PurgedSecret>, StoreError> {
        let actor = fields::actor(actor)?;
        let cutoff = now.saturating_sub(self.options.purge_after_secs);
        self.write(|w, _| {
            let rows = w
                .tx
                .query(
                    &format!(
                        "SELECT {} FROM secrets WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, id",
                        row::COLUMNS
                    ),
                    &[&cutoff],
                )?
                .iter()
                .map(row::from_pg)
                .collect::<Result<Vec<_>, _>>()?;
            let mut purged = Vec::with_capacity(rows.len());
            for r in rows {
                let expired_at = r.expires_at.unwrap_or(cutoff);
                w.tx.execute("DELETE FROM secrets WHERE id = $1", &[&r.id])?;
                record(
                    w,
                    Change {
                        at: now,
                        actor: &actor,
                        action: ChangeAction::Purge,
                        kind: r.kind,
                        subject_id: &r.id,
                        subject_name: &r.name,
                        changes: vec![
                            FieldChange::new("name", Some(r.name.clone()), None),
                            FieldChange::new("expires_at", Some(format_rfc3339(expired_at)), None),
                        ],
                    },
                )?;
                purged.push(PurgedSecret {
                    kind: r.kind,
                    id: r.id,
                    name: r.name,
                    expired_at,
                });
            }
            Ok(purged)
        })
    }

    /// Re-encrypts every row under `new_key` in ONE transaction (see the
    /// SQLite backend: a crash before the commit leaves everything under
    /// the old key, so a re-run is always safe).
    pub(crate) fn rotate_master_key(
        &self,
        new_key: MasterKey,
        actor: &str,
        now: i64,
    ) -> Result<RotationReport, StoreError> {
        let actor = fields::actor(actor)?;
        let report = self.write(|w, old_key| {
            let rows = w
                .tx
                .query(&format!("SELECT {} FROM secrets ORDER BY id", row::COLUMNS), &[])?
                .iter()
                .map(row::from_pg)
                .collect::<Result<Vec<_>, _>>()?;
            if new_key.id() == old_key.id() {
                if let Some(r) = rows.iter().find(|r| r.key_id != old_key.id()) {
                    r.decrypt(old_key)?;
                }
                return Ok(RotationReport {
                    old_key_id: old_key.id().to_owned(),
                    new_key_id: new_key.id().to_owned(),
                    rows_reencrypted: 0,
                    already_current: true,
                });
            }
            let mut count = 0u64;
            for r in &rows {
                let value = r.decrypt(old_key)?;
                let s = sealed::seal(&new_key, r.binding(), value.as_bytes())?;
                w.tx.execute(
                    "UPDATE secrets SET key_id = $2, nonce = $3, ciphertext = $4 WHERE id = $1",
                    &[&r.id, &new_key.id(), &s.nonce, &s.ciphertext],
                )?;
                count += 1;
            }
            w.tx.execute(
                "UPDATE master_keys SET state = 'retired', retired_at = $2 WHERE key_id = $1",
                &[&old_key.id(), &now],
            )?;
            let c = canary::seal(&new_key)?;
            w.tx.execute(
                "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
                 VALUES ($1, 'current', $2, $3, $4) \
                 ON CONFLICT (key_id) DO UPDATE SET state = 'current', retired_at = NULL, \
                 canary_nonce = excluded.canary_nonce, canary_ciphertext = excluded.canary_ciphertext",
                &[&new_key.id(), &c.nonce, &c.ciphertext, &now],
            )?;
            record(
                w,
                Change {
                    at: now,
                    actor: &actor,
                    action: ChangeAction::RotateMasterKey,
                    kind: SubjectKind::MasterKey,
                    subject_id: new_key.id(),
                    subject_name: "master key",
                    changes: vec![
                        FieldChange::new(
                            "key_id",
                            Some(old_key.id().to_owned()),
                            Some(new_key.id().to_owned()),
                        ),
                        FieldChange::new("rows_reencrypted", None, Some(count.to_string())),
                    ],
                },
            )?;
            Ok(RotationReport {
                old_key_id: old_key.id().to_owned(),
                new_key_id: new_key.id().to_owned(),
                rows_reencrypted: count,
                already_current: false,
            })
        })?;
        if !report.already_current {
            self.lock().key = new_key;
        }
        Ok(report)
    }
}
