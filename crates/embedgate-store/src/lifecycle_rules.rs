//! The lifecycle rules both backends share: field checks, the template of a
//! new row, and what a metadata update changes (the new row, the fields as
//! old → new, and the change-log action). The backends (`sqlite/`,
//! `postgres/`) keep only their SQL, so a rule is written once.

use crate::change_log::{ChangeAction, FieldChange, SubjectKind};
use crate::credential::TokenType;
use crate::error::StoreError;
use crate::fields;
use crate::master_key::MasterKey;
use crate::sealed;
use crate::sqlite::Row;
use crate::timestamp::format_rfc3339;

/// Metadata changes common to both kinds; `None` keeps a field.
#[derive(Debug, Default)]
pub(crate) struct MetaUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub environment: Option<String>,
    pub token_type: Option<TokenType>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Option<i64>>,
}

pub(crate) fn time_text(t: Option<i64>) -> Option<String> {
    t.map(format_rfc3339)
}

pub(crate) fn scopes_text(s: &[String]) -> Option<String> {
    Some(s.join(" "))
}

pub(crate) fn check_future(expires_at: Option<i64>, now: i64) -> Result<(), StoreError> {
    match expires_at {
        Some(e) if e <= now => Err(StoreError::invalid("expires_at", "is not in the future")),
        _ => Ok(()),
    }
}

pub(crate) fn scopes_json(scopes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(scopes)
        .map_err(|e| StoreError::Storage(format!("cannot encode scopes: {e}")))
}

pub(crate) fn blank_row(
    kind: SubjectKind,
    id: String,
    name: String,
    key: &MasterKey,
    actor: &str,
    now: i64,
) -> Row {
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
        key_id: key.id().to_owned(),
        sealed: sealed::Sealed {
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        },
    }
}

pub(crate) fn validate_update(u: &MetaUpdate) -> Result<MetaUpdate, StoreError> {
    Ok(MetaUpdate {
        name: u.name.as_deref().map(fields::name).transpose()?,
        description: u
            .description
            .as_deref()
            .map(fields::description)
            .transpose()?,
        environment: u
            .environment
            .as_deref()
            .map(fields::environment)
            .transpose()?,
        token_type: u.token_type,
        issuer: u.issuer.as_deref().map(fields::issuer).transpose()?,
        scopes: u.scopes.as_deref().map(fields::scopes).transpose()?,
        expires_at: u.expires_at,
    })
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

/// Applies a validated update to `old`; `None` when it changes nothing.
pub(crate) fn diff_metadata(
    old: &Row,
    kind: SubjectKind,
    u: MetaUpdate,
    now: i64,
) -> Option<MetaDiff> {
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
