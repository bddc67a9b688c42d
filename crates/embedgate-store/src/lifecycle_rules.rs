//! The lifecycle rules both backends share: the template of a new row,
//! sealing it, what a metadata update or a new value changes (the new row,
//! the fields as old → new, and the change-log action), and what the change
//! log says about a creation. Input is checked before it gets here (see
//! `checked.rs`); the backends (`sqlite/`, `postgres/`) keep only their
//! SQL, so a rule is written once.

use crate::change_log::{ChangeAction, FieldChange, SubjectKind};
use crate::checked::{MetaUpdate, NewSecret, NewValue};
use crate::error::StoreError;
use crate::fingerprint::fingerprint;
use crate::maintenance::{PurgedSecret, RotationReport};
use crate::master_key::MasterKey;
use crate::row::Row;
use crate::sealed::{self, RowBinding, Sealed};
use crate::timestamp::format_rfc3339;

pub(crate) fn time_text(t: Option<i64>) -> Option<String> {
    t.map(format_rfc3339)
}

pub(crate) fn scopes_text(s: &[String]) -> Option<String> {
    Some(s.join(" "))
}

pub(crate) fn scopes_json(scopes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(scopes)
        .map_err(|e| StoreError::Storage(format!("cannot encode scopes: {e}")))
}

/// A new row with every optional field empty; the key id and the sealed
/// value are set by [`sealed_new_row`].
pub(crate) fn blank_row(kind: SubjectKind, id: String, name: String, actor: &str, now: i64) -> Row {
    Row {
        id,
        kind,
        client_id: None,
        name,
        description: String::new(),
        environment: String::new(),
        token_type: None,
        issuer: String::new(),
        scopes: Vec::new(),
        owner: actor.to_owned(),
        created_at: now,
        updated_at: now,
        last_used_at: None,
        expires_at: None,
        active: true,
        version: 1,
        fingerprint: String::new(),
        key_id: String::new(),
        sealed: sealed::Sealed {
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        },
    }
}

/// The row to insert for `new`: its value sealed under `key`, version 1.
pub(crate) fn sealed_new_row(new: &NewSecret<'_>, key: &MasterKey) -> Result<Row, StoreError> {
    let mut r = new.row.clone();
    r.sealed = sealed::seal(
        key,
        RowBinding {
            kind: r.kind.as_str(),
            id: &r.id,
            version: 1,
        },
        new.value.as_bytes(),
    )?;
    r.key_id = key.id().to_owned();
    Ok(r)
}

/// What the change log records of a creation: every field that is set,
/// and the fingerprint; never the value.
pub(crate) fn creation_changes(r: &Row) -> Vec<FieldChange> {
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
    changes
}

/// What the change log records of a deletion.
pub(crate) fn deletion_changes(r: &Row) -> Vec<FieldChange> {
    let mut changes = vec![FieldChange::new("name", Some(r.name.clone()), None)];
    if let Some(c) = &r.client_id {
        changes.push(FieldChange::new("client_id", Some(c.clone()), None));
    }
    changes
}

/// What purging a row that expired before `cutoff` reports, and what the
/// change log records of it.
pub(crate) fn purge_entry(r: Row, cutoff: i64) -> (PurgedSecret, Vec<FieldChange>) {
    let expired_at = r.expires_at.unwrap_or(cutoff);
    let changes = vec![
        FieldChange::new("name", Some(r.name.clone()), None),
        FieldChange::new("expires_at", Some(format_rfc3339(expired_at)), None),
    ];
    let purged = PurgedSecret {
        kind: r.kind,
        id: r.id,
        name: r.name,
        expired_at,
    };
    (purged, changes)
}

/// A master key rotation re-run after it completed (`key` is already the
/// store's key): nothing to do, provided every row agrees.
pub(crate) fn rotation_already_done(
    rows: &[Row],
    key: &MasterKey,
) -> Result<RotationReport, StoreError> {
    if let Some(r) = rows.iter().find(|r| r.key_id != key.id()) {
        r.decrypt(key)?;
    }
    Ok(RotationReport {
        old_key_id: key.id().to_owned(),
        new_key_id: key.id().to_owned(),
        rows_reencrypted: 0,
        already_current: true,
    })
}

/// `r`'s value sealed under `new`. Decrypting first proves the row is
/// intact before it is rewritten; a damaged row aborts the whole rotation.
pub(crate) fn reseal(r: &Row, old: &MasterKey, new: &MasterKey) -> Result<Sealed, StoreError> {
    let value = r.decrypt(old)?;
    sealed::seal(new, r.binding(), value.as_bytes())
}

/// What a completed rotation reports, and what the change log records of
/// it.
pub(crate) fn rotation(
    old: &MasterKey,
    new: &MasterKey,
    rows_reencrypted: u64,
) -> (RotationReport, Vec<FieldChange>) {
    let changes = vec![
        FieldChange::new(
            "key_id",
            Some(old.id().to_owned()),
            Some(new.id().to_owned()),
        ),
        FieldChange::new("rows_reencrypted", None, Some(rows_reencrypted.to_string())),
    ];
    let report = RotationReport {
        old_key_id: old.id().to_owned(),
        new_key_id: new.id().to_owned(),
        rows_reencrypted,
        already_current: false,
    };
    (report, changes)
}

/// A credential row after its value is replaced: the next version, sealed
/// under `key`, with the new value's expiry; and the changed fields.
pub(crate) fn replace_value(
    old: &Row,
    v: &NewValue<'_>,
    key: &MasterKey,
    now: i64,
) -> Result<(Row, Vec<FieldChange>), StoreError> {
    let mut new = old.clone();
    new.version = old.version + 1;
    new.sealed = sealed::seal(
        key,
        RowBinding {
            kind: SubjectKind::Credential.as_str(),
            id: &old.id,
            version: new.version,
        },
        v.value.as_bytes(),
    )?;
    new.key_id = key.id().to_owned();
    new.fingerprint = fingerprint(v.value);
    new.expires_at = v.expires_at;
    new.updated_at = now;
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
    Ok((new, changes))
}

/// What a metadata update does to a row.
pub(crate) struct MetaDiff {
    /// The row after the update (`updated_at` set to `now`).
    pub new: Row,
    /// The changed fields, old → new; never a value.
    pub changes: Vec<FieldChange>,
    /// The change-log action: the one kind of change, or `Update` for several.
    pub action: ChangeAction,
}

/// What (de)activating does to a row: `None` when it already is so;
/// `expired_cannot_activate` for an expired one.
pub(crate) fn activation(
    old: &Row,
    active: bool,
    now: i64,
) -> Result<Option<MetaDiff>, StoreError> {
    if active && old.is_expired(now) {
        return Err(StoreError::ExpiredCannotActivate { id: old.id.clone() });
    }
    if old.active == active {
        return Ok(None);
    }
    let mut new = old.clone();
    new.active = active;
    new.updated_at = now;
    Ok(Some(MetaDiff {
        new,
        changes: vec![FieldChange::new(
            "active",
            Some(old.active.to_string()),
            Some(active.to_string()),
        )],
        action: if active {
            ChangeAction::Activate
        } else {
            ChangeAction::Deactivate
        },
    }))
}

/// Applies a checked update to `old`; `None` when it changes nothing.
pub(crate) fn diff_metadata(
    old: &Row,
    kind: SubjectKind,
    u: &MetaUpdate,
    now: i64,
) -> Option<MetaDiff> {
    let u = u.clone();
    let mut new = old.clone();
    let mut changes = Vec::new();
    let mut actions = Vec::new();
    if let Some(n) = u.name {
        if n != old.name {
            changes.push(FieldChange::new(
                "name",
                Some(old.name.clone()),
                Some(n.clone()),
            ));
            actions.push(ChangeAction::Rename);
            new.name = n;
        }
    }
    let mut text = |field: &str, action, value: Option<String>, slot: &mut String| {
        if let Some(v) = value {
            if v != *slot {
                changes.push(FieldChange::new(field, Some(slot.clone()), Some(v.clone())));
                actions.push(action);
                *slot = v;
            }
        }
    };
    text(
        "description",
        ChangeAction::Describe,
        u.description,
        &mut new.description,
    );
    text("owner", ChangeAction::SetOwner, u.owner, &mut new.owner);
    if kind == SubjectKind::EmbedSecret {
        text(
            "environment",
            ChangeAction::SetEnvironment,
            u.environment,
            &mut new.environment,
        );
    }
    if kind == SubjectKind::Credential {
        text("issuer", ChangeAction::SetIssuer, u.issuer, &mut new.issuer);
        if let Some(t) = u.token_type {
            let t = Some(t.as_str().to_owned());
            if t != old.token_type {
                changes.push(FieldChange::new(
                    "token_type",
                    old.token_type.clone(),
                    t.clone(),
                ));
                actions.push(ChangeAction::SetTokenType);
                new.token_type = t;
            }
        }
    }
    if let Some(s) = u.scopes {
        if s != old.scopes {
            changes.push(FieldChange::new(
                "scopes",
                scopes_text(&old.scopes),
                scopes_text(&s),
            ));
            actions.push(ChangeAction::SetScopes);
            new.scopes = s;
        }
    }
    if let Some(e) = u.expires_at {
        if e != old.expires_at {
            changes.push(FieldChange::new(
                "expires_at",
                time_text(old.expires_at),
                time_text(e),
            ));
            actions.push(ChangeAction::SetExpiry);
            new.expires_at = e;
        }
    }
    if changes.is_empty() {
        return None;
    }
    new.updated_at = now;
    let action = match actions.as_slice() {
        [one] => *one,
        _ => ChangeAction::Update,
    };
    Some(MetaDiff {
        new,
        changes,
        action,
    })
}
