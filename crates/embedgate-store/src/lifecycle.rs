//! The lifecycle of both kinds of secret, for every backend: create, read,
//! change metadata, deactivate / activate, replace a credential's value,
//! delete. The rules are in `lifecycle_rules.rs`; input was checked before
//! (`checked.rs`); this file runs them against the `secrets` table and
//! logs each change.

use zeroize::Zeroizing;

use crate::change_log::{Change, ChangeAction, SubjectKind};
use crate::checked::{Actor, MetaUpdate, NewSecret, NewValue, PutSecret};
use crate::error::StoreError;
use crate::lifecycle_rules::{
    activation, creation_changes, deletion_changes, diff_metadata, replace_value as replaced,
    scopes_json, sealed_new_row, MetaDiff,
};
use crate::lookup::Lookup;
use crate::master_key::MasterKey;
use crate::row::{self, Row, COLUMNS};
use crate::sql::{params, Sql};
use crate::writer::Writer;

fn ensure_name_free(
    sql: &mut dyn Sql,
    kind: SubjectKind,
    name: &str,
    except_id: Option<&str>,
) -> Result<(), StoreError> {
    let taken = sql.first(
        "SELECT id FROM secrets WHERE kind = ?1 AND lower(name) = lower(?2) \
         AND id IS DISTINCT FROM ?3",
        params![kind.as_str(), name, except_id],
        |r| r.text(0),
    )?;
    match taken {
        Some(_) => Err(StoreError::NameTaken {
            kind: kind.noun(),
            name: name.to_owned(),
        }),
        None => Ok(()),
    }
}

fn insert(sql: &mut dyn Sql, r: &Row) -> Result<(), StoreError> {
    let scopes = scopes_json(&r.scopes)?;
    sql.execute(
        &format!(
            "INSERT INTO secrets ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
             ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
        ),
        params![
            &r.id,
            r.kind.as_str(),
            &r.client_id,
            &r.name,
            &r.description,
            &r.environment,
            &r.token_type,
            &r.issuer,
            scopes.as_str(),
            &r.owner,
            r.created_at,
            r.updated_at,
            r.last_used_at,
            r.expires_at,
            r.active,
            r.version,
            &r.fingerprint,
            &r.key_id,
            &r.sealed.nonce,
            &r.sealed.ciphertext,
        ],
    )?;
    Ok(())
}

/// The change-log entry of `action` on row `r`.
fn change<'a>(
    r: &'a Row,
    actor: &'a Actor,
    action: ChangeAction,
    now: i64,
    changes: Vec<crate::change_log::FieldChange>,
) -> Change<'a> {
    Change {
        at: now,
        actor,
        action,
        kind: r.kind,
        subject_id: &r.id,
        subject_name: &r.name,
        client_id: r.client_id.as_deref(),
        changes,
    }
}

/// Seals and inserts a new row, and logs its creation.
pub(crate) fn create(
    w: &mut Writer<'_>,
    new: &NewSecret<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    ensure_name_free(w.sql, new.row.kind, &new.row.name, None)?;
    let r = sealed_new_row(new, w.key)?;
    insert(w.sql, &r)?;
    w.record(change(
        &r,
        actor,
        ChangeAction::Create,
        now,
        creation_changes(&r),
    ))?;
    Ok(r)
}

/// Applies a metadata update; logs one entry if anything changed.
pub(crate) fn update(
    w: &mut Writer<'_>,
    kind: SubjectKind,
    lookup: &Lookup,
    u: &MetaUpdate,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(w.sql, kind, lookup)?;
    let Some(MetaDiff {
        new,
        changes,
        action,
    }) = diff_metadata(&old, kind, u, now)
    else {
        return Ok(old);
    };
    if new.name != old.name {
        ensure_name_free(w.sql, kind, &new.name, Some(&old.id))?;
    }
    let scopes = scopes_json(&new.scopes)?;
    w.sql.execute(
        "UPDATE secrets SET name = ?2, description = ?3, environment = ?4, token_type = ?5, \
         issuer = ?6, scopes = ?7, expires_at = ?8, updated_at = ?9, owner = ?10 WHERE id = ?1",
        params![
            &new.id,
            &new.name,
            &new.description,
            &new.environment,
            &new.token_type,
            &new.issuer,
            scopes.as_str(),
            new.expires_at,
            new.updated_at,
            &new.owner,
        ],
    )?;
    w.record(change(&new, actor, action, now, changes))?;
    Ok(new)
}

/// Replaces a credential's value with the next version.
pub(crate) fn replace_value(
    w: &mut Writer<'_>,
    lookup: &Lookup,
    value: &NewValue<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(w.sql, SubjectKind::Credential, lookup)?;
    let (new, changes) = replaced(&old, value, w.key, now)?;
    w.sql.execute(
        "UPDATE secrets SET value_version = ?2, nonce = ?3, ciphertext = ?4, key_id = ?5, \
         fingerprint = ?6, expires_at = ?7, updated_at = ?8 WHERE id = ?1",
        params![
            &new.id,
            new.version,
            &new.sealed.nonce,
            &new.sealed.ciphertext,
            &new.key_id,
            &new.fingerprint,
            new.expires_at,
            new.updated_at,
        ],
    )?;
    w.record(change(
        &new,
        actor,
        ChangeAction::ReplaceValue,
        now,
        changes,
    ))?;
    Ok(new)
}

/// Creates the credential, or replaces its value and applies the put's
/// metadata; `true` if it was created.
pub(crate) fn put_credential(
    w: &mut Writer<'_>,
    put: &PutSecret<'_>,
    actor: &Actor,
    now: i64,
) -> Result<(Row, bool), StoreError> {
    let lookup = Lookup::Name(put.create.row.name.clone());
    if row::find(w.sql, SubjectKind::Credential, &lookup)?.is_none() {
        return Ok((create(w, &put.create, actor, now)?, true));
    }
    let r = replace_value(w, &lookup, &put.replace, actor, now)?;
    let r = update(
        w,
        SubjectKind::Credential,
        &Lookup::Id(r.id),
        &put.update,
        actor,
        now,
    )?;
    Ok((r, false))
}

/// Deactivates or reactivates; a no-op when it already is so.
pub(crate) fn set_active(
    w: &mut Writer<'_>,
    kind: SubjectKind,
    lookup: &Lookup,
    active: bool,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let old = row::require(w.sql, kind, lookup)?;
    let Some(MetaDiff {
        new,
        changes,
        action,
    }) = activation(&old, active, now)?
    else {
        return Ok(old);
    };
    w.sql.execute(
        "UPDATE secrets SET active = ?2, updated_at = ?3 WHERE id = ?1",
        params![&new.id, new.active, new.updated_at],
    )?;
    w.record(change(&new, actor, action, now, changes))?;
    Ok(new)
}

/// Deletes permanently; returns what the row was.
pub(crate) fn delete(
    w: &mut Writer<'_>,
    kind: SubjectKind,
    lookup: &Lookup,
    actor: &Actor,
    now: i64,
) -> Result<Row, StoreError> {
    let r = row::require(w.sql, kind, lookup)?;
    w.sql
        .execute("DELETE FROM secrets WHERE id = ?1", params![&r.id])?;
    w.record(change(
        &r,
        actor,
        ChangeAction::Delete,
        now,
        deletion_changes(&r),
    ))?;
    Ok(r)
}

/// Every row of `kind`, by name.
pub(crate) fn all(sql: &mut dyn Sql, kind: SubjectKind) -> Result<Vec<Row>, StoreError> {
    let order = sql.dialect().name_key;
    sql.rows(
        &format!("SELECT {COLUMNS} FROM secrets WHERE kind = ?1 ORDER BY {order}, id"),
        params![kind.as_str()],
        Row::read,
    )
}

/// The value of an active, unexpired credential by name.
pub(crate) fn credential_value_at(
    sql: &mut dyn Sql,
    key: &MasterKey,
    name: &str,
    now: i64,
) -> Result<Option<Zeroizing<String>>, StoreError> {
    match row::find(sql, SubjectKind::Credential, &Lookup::Name(name.to_owned()))? {
        Some(r) if r.active && !r.is_expired(now) => Ok(Some(r.decrypt(key)?)),
        _ => Ok(None),
    }
}

/// Usage timestamps only move forward and are not changes: no revision
/// bump, no log entry (they would wake every proxy once a minute).
pub(crate) fn record_usage(
    sql: &mut dyn Sql,
    kind: SubjectKind,
    uses: &[(String, i64)],
) -> Result<(), StoreError> {
    let column = match kind {
        SubjectKind::EmbedSecret => "client_id = ?1",
        _ => "lower(name) = lower(?1)",
    };
    let statement = format!(
        "UPDATE secrets SET last_used_at = ?2 \
         WHERE kind = ?3 AND {column} AND (last_used_at IS NULL OR last_used_at < ?2)"
    );
    for (who, at) in uses {
        sql.execute(&statement, params![who, *at, kind.as_str()])?;
    }
    Ok(())
}
