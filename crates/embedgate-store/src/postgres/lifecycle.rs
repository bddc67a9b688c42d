//! The lifecycle of both kinds of secret on PostgreSQL (see
//! `sqlite/lifecycle.rs`, whose rules this follows line by line).

use postgres::GenericClient;
use zeroize::Zeroizing;

use super::change_log::{record, Change};
use super::row::{self, Row};
use super::{read_revision, PostgresBackend, WriteTx};
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
    c: &mut impl GenericClient,
    kind: SubjectKind,
    name: &str,
    except_id: Option<&str>,
) -> Result<(), StoreError> {
    let taken = c.query_opt(
        "SELECT id FROM secrets WHERE kind = $1 AND lower(name) = lower($2) AND id IS DISTINCT FROM $3",
        &[&kind.as_str(), &name, &except_id],
    )?;
    match taken {
        Some(_) => Err(StoreError::NameTaken {
            kind: kind.noun(),
            name: name.to_owned(),
        }),
        None => Ok(()),
    }
}

fn insert(w: &mut WriteTx<'_>, r: &Row) -> Result<(), StoreError> {
    let scopes = scopes_json(&r.scopes)?;
    w.tx.execute(
        &format!(
            "INSERT INTO secrets ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20)",
            row::COLUMNS
        ),
        &[
            &r.id,
            &r.kind.as_str(),
            &r.client_id,
            &r.name,
            &r.description,
            &r.environment,
            &r.token_type,
            &r.issuer,
            &scopes,
            &r.owner,
            &r.created_at,
            &r.updated_at,
            &r.last_used_at,
            &r.expires_at,
            &r.active,
            &r.version,
            &r.fingerprint,
            &r.key_id,
            &r.sealed.nonce,
            &r.sealed.ciphertext,
        ],
    )?;
    Ok(())
}

/// Seals and inserts a new row, and logs its creation.
fn create_tx(
    w: &mut WriteTx<'_>,
    key: &MasterKey,
    new: &NewSecret<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    ensure_name_free(&mut w.tx, new.row.kind, &new.row.name, None)?;
    let r = sealed_new_row(new, key)?;
    insert(w, &r)?;
    record(
        w,
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
    w: &mut WriteTx<'_>,
    kind: SubjectKind,
    lookup: &Lookup,
    u: &MetaUpdate,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(&mut w.tx, kind, lookup)?;
    let Some(MetaDiff {
        new,
        changes,
        action,
    }) = diff_metadata(&old, kind, u, now)
    else {
        return Ok(old);
    };
    if new.name != old.name {
        ensure_name_free(&mut w.tx, kind, &new.name, Some(&old.id))?;
    }
    let scopes = scopes_json(&new.scopes)?;
    w.tx.execute(
        "UPDATE secrets SET name = $2, description = $3, environment = $4, token_type = $5, \
         issuer = $6, scopes = $7, expires_at = $8, updated_at = $9 WHERE id = $1",
        &[
            &new.id,
            &new.name,
            &new.description,
            &new.environment,
            &new.token_type,
            &new.issuer,
            &scopes,
            &new.expires_at,
            &new.updated_at,
        ],
    )?;
    record(
        w,
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
    w: &mut WriteTx<'_>,
    key: &MasterKey,
    lookup: &Lookup,
    value: &NewValue<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(&mut w.tx, SubjectKind::Credential, lookup)?;
    let (new, changes) = replace_value(&old, value, key, now)?;
    w.tx.execute(
        "UPDATE secrets SET value_version = $2, nonce = $3, ciphertext = $4, key_id = $5, \
         fingerprint = $6, expires_at = $7, updated_at = $8 WHERE id = $1",
        &[
            &new.id,
            &new.version,
            &new.sealed.nonce,
            &new.sealed.ciphertext,
            &new.key_id,
            &new.fingerprint,
            &new.expires_at,
            &new.updated_at,
        ],
    )?;
    record(
        w,
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

impl PostgresBackend {
    pub(crate) fn create(
        &self,
        new: &NewSecret<'_>,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|w, key| create_tx(w, key, new, actor, now))
    }

    pub(crate) fn put_credential(
        &self,
        put: &PutSecret<'_>,
        actor: &Actor,
        now: i64,
    ) -> Result<(Row, bool), StoreError> {
        self.write(|w, key| {
            let lookup = Lookup::Name(put.create.row.name.clone());
            if row::find(&mut w.tx, SubjectKind::Credential, &lookup)?.is_none() {
                return Ok((create_tx(w, key, &put.create, actor, now)?, true));
            }
            let r = replace_value_tx(w, key, &lookup, &put.replace, actor, now)?;
            let r = update_tx(
                w,
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
        self.write(|w, key| replace_value_tx(w, key, lookup, value, actor, now))
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
        self.write(|w, _| update_tx(w, kind, lookup, update, actor, now))
    }

    pub(crate) fn set_active(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        active: bool,
        actor: &Actor,
        now: i64,
    ) -> Result<Row, StoreError> {
        self.write(|w, _| {
            let old = row::require(&mut w.tx, kind, lookup)?;
            let Some(MetaDiff {
                new,
                changes,
                action,
            }) = activation(&old, active, now)?
            else {
                return Ok(old);
            };
            w.tx.execute(
                "UPDATE secrets SET active = $2, updated_at = $3 WHERE id = $1",
                &[&new.id, &new.active, &new.updated_at],
            )?;
            record(
                w,
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
        self.write(|w, _| {
            let r = row::require(&mut w.tx, kind, lookup)?;
            w.tx.execute("DELETE FROM secrets WHERE id = $1", &[&r.id])?;
            record(
                w,
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

    /// Streams the rows (a proxy loads 100,000 at start): each is decrypted
    /// as it arrives instead of holding the whole result set in memory.
    pub(crate) fn load_embed_keys(&self) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        use postgres::fallible_iterator::FallibleIterator as _;
        self.read(|tx, key| {
            let revision = read_revision(tx)?;
            let count: i64 = tx
                .query_one("SELECT count(*) FROM secrets WHERE kind = 'embed_secret'", &[])?
                .get(0);
            let sql = format!(
                "SELECT {} FROM secrets WHERE kind = 'embed_secret' ORDER BY lower(name) COLLATE \"C\", id",
                row::COLUMNS
            );
            let reactivated = last_reactivations(tx, None)?;
            let mut rows = tx.query_raw(&sql, std::iter::empty::<i64>())?;
            let mut keys = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
            while let Some(pg_row) = rows.next()? {
                keys.push(row::from_pg(&pg_row)?.into_key_material(key, &reactivated)?);
            }
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
            SubjectKind::EmbedSecret => "client_id = $1",
            _ => "lower(name) = lower($1)",
        };
        let sql = format!(
            "UPDATE secrets SET last_used_at = GREATEST(COALESCE(last_used_at, $2), $2) \
             WHERE kind = $3 AND {column}"
        );
        self.quiet_write(|tx| {
            let stmt = tx.prepare(&sql)?;
            for (who, at) in uses {
                tx.execute(&stmt, &[who, at, &kind.as_str()])?;
            }
            Ok(())
        })
    }

    /// The embed secrets among `ids` (row ids) that still exist, with their
    /// values, and the revision they are as of: what a proxy reloads when
    /// notified of a change to those ids.
    pub(crate) fn load_embed_keys_for(
        &self,
        ids: &[String],
    ) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        self.read(|tx, key| {
            let revision = read_revision(tx)?;
            let sql = format!(
                "SELECT {} FROM secrets WHERE kind = 'embed_secret' AND id = ANY($1)",
                row::COLUMNS
            );
            let reactivated = last_reactivations(tx, Some(ids))?;
            let keys = tx
                .query(&sql, &[&ids])?
                .iter()
                .map(|r| row::from_pg(r)?.into_key_material(key, &reactivated))
                .collect::<Result<_, _>>()?;
            Ok((revision, keys))
        })
    }
}

/// The last `activate` of each embed secret that was ever reactivated (of
/// `ids` only, when given), from the change log.
fn last_reactivations(
    tx: &mut impl GenericClient,
    ids: Option<&[String]>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    const SQL: &str = "SELECT subject_id, MAX(at) FROM change_log \
         WHERE action = 'activate' AND kind = 'embed_secret'";
    let rows = match ids {
        None => tx.query(&format!("{SQL} GROUP BY subject_id"), &[])?,
        Some(ids) => tx.query(
            &format!("{SQL} AND subject_id = ANY($1) GROUP BY subject_id"),
            &[&ids],
        )?,
    };
    let mut out = std::collections::HashMap::new();
    for r in rows {
        let id: String = r.try_get(0)?;
        let at: i64 = r.try_get(1)?;
        out.insert(id, at);
    }
    Ok(out)
}
