//! The lifecycle of both kinds of secret on PostgreSQL (see
//! `sqlite/lifecycle.rs`, whose rules this follows line by line).

use postgres::GenericClient;
use zeroize::Zeroizing;

use super::change_log::{record, Change};
use super::row::{self, Row};
use super::{read_revision, PostgresBackend, WriteTx};
use crate::change_log::{ChangeAction, FieldChange, SubjectKind};
use crate::credential::{NewCredential, PutCredential};
use crate::embed_secret::{EmbedKeyMaterial, NewEmbedSecret};
use crate::error::StoreError;
use crate::fields;
use crate::fingerprint::fingerprint;
use crate::ids;
use crate::lifecycle_rules::{
    blank_row, check_future, diff_metadata, scopes_json, scopes_text, time_text, validate_update,
    MetaDiff, MetaUpdate,
};
use crate::lookup::Lookup;
use crate::master_key::MasterKey;
use crate::sealed::{self, RowBinding};

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

/// Builds, seals and inserts a new row, and logs its creation.
#[allow(clippy::too_many_arguments)]
fn create_row(
    w: &mut WriteTx<'_>,
    key: &MasterKey,
    kind: SubjectKind,
    mut r: Row,
    value: &str,
    actor: &str,
    now: i64,
) -> Result<Row, StoreError> {
    ensure_name_free(&mut w.tx, kind, &r.name, None)?;
    r.sealed = sealed::seal(
        key,
        RowBinding {
            kind: kind.as_str(),
            id: &r.id,
            version: 1,
        },
        value.as_bytes(),
    )?;
    insert(w, &r)?;
    let mut changes = vec![FieldChange::new("name", None, Some(r.name.clone()))];
    if let Some(c) = &r.client_id {
        changes.push(FieldChange::new("client_id", None, Some(c.clone())));
    }
    for (field, v) in [
        ("description", &r.description),
        ("environment", &r.environment),
        ("issuer", &r.issuer),
    ] {
        if !v.is_empty() {
            changes.push(FieldChange::new(field, None, Some(v.clone())));
        }
    }
    if let Some(t) = &r.token_type {
        changes.push(FieldChange::new("token_type", None, Some(t.clone())));
    }
    if !r.scopes.is_empty() {
        changes.push(FieldChange::new("scopes", None, scopes_text(&r.scopes)));
    }
    if r.expires_at.is_some() {
        changes.push(FieldChange::new(
            "expires_at",
            None,
            time_text(r.expires_at),
        ));
    }
    changes.push(FieldChange::new(
        "fingerprint",
        None,
        Some(r.fingerprint.clone()),
    ));
    record(
        w,
        Change {
            at: now,
            actor,
            action: ChangeAction::Create,
            kind,
            subject_id: &r.id,
            subject_name: &r.name,
            changes,
        },
    )?;
    Ok(r)
}

fn create_credential_tx(
    w: &mut WriteTx<'_>,
    key: &MasterKey,
    new: &NewCredential,
    value: &str,
    actor: &str,
    now: i64,
) -> Result<Row, StoreError> {
    let name = fields::name(&new.name)?;
    let mut r = blank_row(
        SubjectKind::Credential,
        ids::new_row_id(ids::CREDENTIAL_ID_PREFIX),
        name,
        key,
        actor,
        now,
    );
    r.description = fields::description(&new.description)?;
    r.token_type = Some(new.token_type.as_str().to_owned());
    r.issuer = fields::issuer(&new.issuer)?;
    r.scopes = fields::scopes(&new.scopes)?;
    check_future(new.expires_at, now)?;
    r.expires_at = new.expires_at;
    fields::credential_value(value)?;
    r.fingerprint = fingerprint(value);
    create_row(w, key, SubjectKind::Credential, r, value, actor, now)
}

fn update_tx(
    w: &mut WriteTx<'_>,
    kind: SubjectKind,
    lookup: &Lookup,
    u: MetaUpdate,
    actor: &str,
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

#[allow(clippy::too_many_arguments)]
fn replace_value_tx(
    w: &mut WriteTx<'_>,
    key: &MasterKey,
    lookup: &Lookup,
    value: &str,
    expires_at: Option<i64>,
    actor: &str,
    now: i64,
) -> Result<Row, StoreError> {
    fields::credential_value(value)?;
    check_future(expires_at, now)?;
    let old = row::require(&mut w.tx, SubjectKind::Credential, lookup)?;
    let mut new = old.clone();
    new.version = old.version + 1;
    new.sealed = sealed::seal(
        key,
        RowBinding {
            kind: SubjectKind::Credential.as_str(),
            id: &old.id,
            version: new.version,
        },
        value.as_bytes(),
    )?;
    new.key_id = key.id().to_owned();
    new.fingerprint = fingerprint(value);
    new.expires_at = expires_at;
    new.updated_at = now;
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
    let mut changes = vec![
        FieldChange::new(
            "value_version",
            Some(old.version.to_string()),
            Some(new.version.to_string()),
        ),
        FieldChange::new(
            "fingerprint",
            Some(old.fingerprint.clone()),
            Some(new.fingerprint.clone()),
        ),
    ];
    if old.expires_at != new.expires_at {
        changes.push(FieldChange::new(
            "expires_at",
            time_text(old.expires_at),
            time_text(new.expires_at),
        ));
    }
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
    pub(crate) fn create_embed_secret(
        &self,
        new: &NewEmbedSecret,
        actor: &str,
        now: i64,
    ) -> Result<(Row, Zeroizing<String>), StoreError> {
        let actor = fields::actor(actor)?;
        let name = fields::name(&new.name)?;
        let description = fields::description(&new.description)?;
        let environment = fields::environment(&new.environment)?;
        let scopes = fields::scopes(&new.scopes)?;
        check_future(new.expires_at, now)?;
        let value = embedgate_core::generate_secret(&mut rand::rngs::OsRng);
        let r = self.write(|w, key| {
            let mut r = blank_row(
                SubjectKind::EmbedSecret,
                ids::new_row_id(ids::EMBED_ID_PREFIX),
                name.clone(),
                key,
                &actor,
                now,
            );
            r.client_id = Some(ids::new_client_id());
            r.description = description.clone();
            r.environment = environment.clone();
            r.scopes = scopes.clone();
            r.expires_at = new.expires_at;
            r.fingerprint = fingerprint(&value);
            create_row(w, key, SubjectKind::EmbedSecret, r, &value, &actor, now)
        })?;
        Ok((r, value))
    }

    pub(crate) fn create_credential(
        &self,
        new: &NewCredential,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = fields::actor(actor)?;
        self.write(|w, key| create_credential_tx(w, key, new, value, &actor, now))
    }

    pub(crate) fn put_credential(
        &self,
        put: &PutCredential,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<(Row, bool), StoreError> {
        let actor = fields::actor(actor)?;
        let name = fields::name(&put.name)?;
        let update = validate_update(&MetaUpdate {
            description: put.description.clone(),
            token_type: put.token_type,
            issuer: put.issuer.clone(),
            scopes: put.scopes.clone(),
            ..MetaUpdate::default()
        })?;
        self.write(|w, key| {
            let lookup = Lookup::Name(name.clone());
            if row::find(&mut w.tx, SubjectKind::Credential, &lookup)?.is_none() {
                let new = NewCredential {
                    name: name.clone(),
                    description: put.description.clone().unwrap_or_default(),
                    token_type: put.token_type.unwrap_or_default(),
                    issuer: put.issuer.clone().unwrap_or_default(),
                    scopes: put.scopes.clone().unwrap_or_default(),
                    expires_at: put.expires_at,
                };
                return Ok((
                    create_credential_tx(w, key, &new, value, &actor, now)?,
                    true,
                ));
            }
            let r = replace_value_tx(w, key, &lookup, value, put.expires_at, &actor, now)?;
            let r = update_tx(
                w,
                SubjectKind::Credential,
                &Lookup::Id(r.id),
                validate_update(&update)?,
                &actor,
                now,
            )?;
            Ok((r, false))
        })
    }

    pub(crate) fn replace_credential_value(
        &self,
        lookup: &Lookup,
        value: &str,
        expires_at: Option<i64>,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = fields::actor(actor)?;
        self.write(|w, key| replace_value_tx(w, key, lookup, value, expires_at, &actor, now))
    }

    pub(crate) fn get(&self, kind: SubjectKind, lookup: &Lookup) -> Result<Row, StoreError> {
        self.read(|tx, _| row::require(tx, kind, lookup))
    }

    pub(crate) fn list(
        &self,
        kind: SubjectKind,
        search: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        let rows = self.read(|tx, _| row::all(tx, kind))?;
        // Filtered here rather than in SQL: SQLite's lower() only folds
        // ASCII, and a store holds hundreds of secrets, not millions.
        Ok(match search.map(str::to_lowercase) {
            Some(q) if !q.is_empty() => rows
                .into_iter()
                .filter(|r| {
                    r.name.to_lowercase().contains(&q) || r.description.to_lowercase().contains(&q)
                })
                .collect(),
            _ => rows,
        })
    }

    pub(crate) fn update(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        update: &MetaUpdate,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = fields::actor(actor)?;
        let update = validate_update(update)?;
        self.write(|w, _| update_tx(w, kind, lookup, validate_update(&update)?, &actor, now))
    }

    pub(crate) fn set_active(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        active: bool,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = fields::actor(actor)?;
        self.write(|w, _| {
            let mut r = row::require(&mut w.tx, kind, lookup)?;
            if active && r.is_expired(now) {
                return Err(StoreError::ExpiredCannotActivate { id: r.id });
            }
            if r.active == active {
                return Ok(r);
            }
            w.tx.execute(
                "UPDATE secrets SET active = $2, updated_at = $3 WHERE id = $1",
                &[&r.id, &active, &now],
            )?;
            record(
                w,
                Change {
                    at: now,
                    actor: &actor,
                    action: if active {
                        ChangeAction::Activate
                    } else {
                        ChangeAction::Deactivate
                    },
                    kind,
                    subject_id: &r.id,
                    subject_name: &r.name,
                    changes: vec![FieldChange::new(
                        "active",
                        Some(r.active.to_string()),
                        Some(active.to_string()),
                    )],
                },
            )?;
            r.active = active;
            r.updated_at = now;
            Ok(r)
        })
    }

    pub(crate) fn delete(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = fields::actor(actor)?;
        self.write(|w, _| {
            let r = row::require(&mut w.tx, kind, lookup)?;
            w.tx.execute("DELETE FROM secrets WHERE id = $1", &[&r.id])?;
            let mut changes = vec![FieldChange::new("name", Some(r.name.clone()), None)];
            if let Some(c) = &r.client_id {
                changes.push(FieldChange::new("client_id", Some(c.clone()), None));
            }
            record(
                w,
                Change {
                    at: now,
                    actor: &actor,
                    action: ChangeAction::Delete,
                    kind,
                    subject_id: &r.id,
                    subject_name: &r.name,
                    changes,
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
                let r = row::from_pg(&pg_row)?;
                keys.push(EmbedKeyMaterial {
                    reactivated_at: reactivated.get(&r.id).copied(),
                    value: r.decrypt(key)?,
                    id: r.id,
                    client_id: r.client_id.unwrap_or_default(),
                    name: r.name,
                    active: r.active,
                    expires_at: r.expires_at,
                    scopes: r.scopes,
                });
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
            let mut keys = Vec::with_capacity(ids.len());
            for r in tx.query(&sql, &[&ids])? {
                let r = row::from_pg(&r)?;
                keys.push(EmbedKeyMaterial {
                    reactivated_at: reactivated.get(&r.id).copied(),
                    value: r.decrypt(key)?,
                    id: r.id,
                    client_id: r.client_id.unwrap_or_default(),
                    name: r.name,
                    active: r.active,
                    expires_at: r.expires_at,
                    scopes: r.scopes,
                });
            }
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
