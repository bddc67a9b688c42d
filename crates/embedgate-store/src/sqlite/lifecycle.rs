//! The lifecycle of both kinds of secret: create, read, change metadata,
//! deactivate / activate, replace a credential's value, delete.

use rusqlite::{Connection, OptionalExtension as _};
use zeroize::Zeroizing;

use super::change_log::{record, Change};
use super::row::{self, Row};
use super::{read_revision, SqliteBackend};
use crate::change_log::{ChangeAction, SubjectKind};
use crate::checked::{Actor, MetaUpdate, NewSecret, NewValue, PutSecret};
use crate::embed_secret::EmbedKeyMaterial;
use crate::error::StoreError;
use crate::lifecycle_rules::{
    activation, creation_changes, deletion_changes, diff_metadata, replace_value, scopes_json,
    sealed_new_row, MetaDiff,
};
use crate::lookup::Lookup;
use crate::master_key::MasterKey;

fn ensure_name_free(
    conn: &Connection,
    kind: SubjectKind,
    name: &str,
    except_id: Option<&str>,
) -> Result<(), StoreError> {
    let taken: Option<String> = conn
        .query_row(
            "SELECT id FROM secrets WHERE kind = ?1 AND lower(name) = lower(?2) AND id IS NOT ?3",
            (kind.as_str(), name, except_id),
            |r| r.get(0),
        )
        .optional()?;
    match taken {
        Some(_) => Err(StoreError::NameTaken {
            kind: kind.noun(),
            name: name.to_owned(),
        }),
        None => Ok(()),
    }
}

fn insert(conn: &Connection, r: &Row) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "INSERT INTO secrets ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
             ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            row::COLUMNS
        ),
        rusqlite::params![
            r.id,
            r.kind.as_str(),
            r.client_id,
            r.name,
            r.description,
            r.environment,
            r.token_type,
            r.issuer,
            scopes_json(&r.scopes)?,
            r.owner,
            r.created_at,
            r.updated_at,
            r.last_used_at,
            r.expires_at,
            r.active,
            r.version,
            r.fingerprint,
            r.key_id,
            r.sealed.nonce,
            r.sealed.ciphertext,
        ],
    )?;
    Ok(())
}

/// Seals and inserts a new row, and logs its creation.
fn create_tx(
    tx: &Connection,
    key: &MasterKey,
    new: &NewSecret<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    ensure_name_free(tx, new.row.kind, &new.row.name, None)?;
    let r = sealed_new_row(new, key)?;
    insert(tx, &r)?;
    record(
        tx,
        Change {
            at: now,
            actor,
            action: ChangeAction::Create,
            kind: r.kind,
            subject_id: &r.id,
            subject_name: &r.name,
            changes: creation_changes(&r),
        },
    )?;
    Ok(r)
}

fn update_tx(
    tx: &Connection,
    kind: SubjectKind,
    lookup: &Lookup,
    u: &MetaUpdate,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(tx, kind, lookup)?;
    let Some(MetaDiff {
        new,
        changes,
        action,
    }) = diff_metadata(&old, kind, u, now)
    else {
        return Ok(old);
    };
    if new.name != old.name {
        ensure_name_free(tx, kind, &new.name, Some(&old.id))?;
    }
    tx.execute(
        "UPDATE secrets SET name = ?2, description = ?3, environment = ?4, token_type = ?5, \
         issuer = ?6, scopes = ?7, expires_at = ?8, updated_at = ?9 WHERE id = ?1",
        rusqlite::params![
            new.id,
            new.name,
            new.description,
            new.environment,
            new.token_type,
            new.issuer,
            scopes_json(&new.scopes)?,
            new.expires_at,
            new.updated_at,
        ],
    )?;
    record(
        tx,
        Change {
            at: now,
            actor,
            action,
            kind,
            subject_id: &new.id,
            subject_name: &new.name,
            changes,
        },
    )?;
    Ok(new)
}

fn replace_value_tx(
    tx: &Connection,
    key: &MasterKey,
    lookup: &Lookup,
    value: &NewValue<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(tx, SubjectKind::Credential, lookup)?;
    let (new, changes) = replace_value(&old, value, key, now)?;
    tx.execute(
        "UPDATE secrets SET value_version = ?2, nonce = ?3, ciphertext = ?4, key_id = ?5, \
         fingerprint = ?6, expires_at = ?7, updated_at = ?8 WHERE id = ?1",
        rusqlite::params![
            new.id,
            new.version,
            new.sealed.nonce,
            new.sealed.ciphertext,
            new.key_id,
            new.fingerprint,
            new.expires_at,
            new.updated_at,
        ],
    )?;
    record(
        tx,
        Change {
            at: now,
            actor,
            action: ChangeAction::ReplaceValue,
            kind: SubjectKind::Credential,
            subject_id: &new.id,
            subject_name: &new.name,
            changes,
        },
    )?;
    Ok(new)
}

impl SqliteBackend {
    pub(crate) fn create(
        &self,
        new: &NewSecret<'_>,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|tx, key| create_tx(tx, key, new, actor, now))
    }

    pub(crate) fn put_credential(
        &self,
        put: &PutSecret<'_>,
        actor: &Actor,
        now: i64,
    ) -> Result<(Row, bool), StoreError> {
        self.write(|tx, key| {
            let lookup = Lookup::Name(put.create.row.name.clone());
            if row::find(tx, SubjectKind::Credential, &lookup)?.is_none() {
                return Ok((create_tx(tx, key, &put.create, actor, now)?, true));
            }
            let r = replace_value_tx(tx, key, &lookup, &put.replace, actor, now)?;
            let r = update_tx(
                tx,
                SubjectKind::Credential,
                &Lookup::Id(r.id),
                &put.update,
                actor,
                now,
            )?;
            Ok((r, false))
        })
    }

    pub(crate) fn replace_credential_value(
        &self,
        lookup: &Lookup,
        value: &NewValue<'_>,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|tx, key| replace_value_tx(tx, key, lookup, value, actor, now))
    }

    pub(crate) fn get(&self, kind: SubjectKind, lookup: &Lookup) -> Result<Row, StoreError> {
        self.read(|tx, _| row::require(tx, kind, lookup))
    }

    pub(crate) fn list(&self, kind: SubjectKind) -> Result<Vec<Row>, StoreError> {
        self.read(|tx, _| row::all(tx, kind))
    }

    pub(crate) fn update(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        update: &MetaUpdate,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|tx, _| update_tx(tx, kind, lookup, update, actor, now))
    }

    pub(crate) fn set_active(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        active: bool,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|tx, _| {
            let old = row::require(tx, kind, lookup)?;
            let Some(MetaDiff {
                new,
                changes,
                action,
            }) = activation(&old, active, now)?
            else {
                return Ok(old);
            };
            tx.execute(
                "UPDATE secrets SET active = ?2, updated_at = ?3 WHERE id = ?1",
                (&new.id, new.active, new.updated_at),
            )?;
            record(
                tx,
                Change {
                    at: now,
                    actor,
                    action,
                    kind,
                    subject_id: &new.id,
                    subject_name: &new.name,
                    changes,
                },
            )?;
            Ok(new)
        })
    }

    pub(crate) fn delete(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|tx, _| {
            let r = row::require(tx, kind, lookup)?;
            tx.execute("DELETE FROM secrets WHERE id = ?1", [&r.id])?;
            record(
                tx,
                Change {
                    at: now,
                    actor,
                    action: ChangeAction::Delete,
                    kind,
                    subject_id: &r.id,
                    subject_name: &r.name,
                    changes: deletion_changes(&r),
                },
            )?;
            Ok(r)
        })
    }

    pub(crate) fn load_embed_keys(&self) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        self.read(|tx, key| {
            let revision = read_revision(tx)?;
            let rows = row::all(tx, SubjectKind::EmbedSecret)?;
            let reactivated = last_reactivations(tx)?;
            let keys = rows
                .into_iter()
                .map(|r| r.into_key_material(key, &reactivated))
                .collect::<Result<_, _>>()?;
            Ok((revision, keys))
        })
    }

    pub(crate) fn credential_value_at(
        &self,
        name: &str,
        now: i64,
    ) -> Result<Option<Zeroizing<String>>, StoreError> {
        self.read(|tx, key| {
            match row::find(tx, SubjectKind::Credential, &Lookup::Name(name.to_owned()))? {
                Some(r) if r.active && !r.is_expired(now) => Ok(Some(r.decrypt(key)?)),
                _ => Ok(None),
            }
        })
    }

    /// The decrypted value of any secret, for tests and recovery tooling.
    pub(crate) fn reveal(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
    ) -> Result<Zeroizing<String>, StoreError> {
        self.read(|tx, key| row::require(tx, kind, lookup)?.decrypt(key))
    }

    /// Usage timestamps only move forward and are not changes: no revision
    /// bump, no log entry (they would wake every proxy once a minute).
    pub(crate) fn record_usage(
        &self,
        kind: SubjectKind,
        uses: &[(String, i64)],
    ) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let column = match kind {
            SubjectKind::EmbedSecret => "client_id = ?1",
            _ => "lower(name) = lower(?1)",
        };
        let sql = format!(
            "UPDATE secrets SET last_used_at = MAX(COALESCE(last_used_at, ?2), ?2) \
             WHERE kind = ?3 AND {column}"
        );
        let mut guard = self.lock();
        let tx = guard
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare(&sql)?;
            for (who, at) in uses {
                stmt.execute((who, at, kind.as_str()))?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The last `activate` of each embed secret that was ever reactivated, from
/// the change log (one grouped scan, at cache load only).
fn last_reactivations(
    tx: &rusqlite::Transaction<'_>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let mut stmt = tx.prepare(
        "SELECT subject_id, MAX(at) FROM change_log \
         WHERE action = 'activate' AND kind = 'embed_secret' GROUP BY subject_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (id, at) = row?;
        out.insert(id, at);
    }
    Ok(out)
}
