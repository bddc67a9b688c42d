//! The change log: who changed what, when, on which secret. Never a value.
//! Its rows are written by `writer.rs` (one per change, with the revision
//! the change makes) and read here.

use serde::Serialize;

use crate::error::StoreError;
use crate::lookup::Lookup;
use crate::row;
use crate::sql::{params, Sql, SqlRow, Value};

/// What a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubjectKind {
    /// An embed secret.
    EmbedSecret,
    /// An upstream credential.
    Credential,
    /// The store's master key (rotations).
    MasterKey,
    /// An admin API token (created, revoked; never the token).
    AdminToken,
}

impl SubjectKind {
    /// Every kind, in the order of the enum.
    pub const ALL: &'static [SubjectKind] = &[
        SubjectKind::EmbedSecret,
        SubjectKind::Credential,
        SubjectKind::MasterKey,
        SubjectKind::AdminToken,
    ];

    /// Stable text form, as stored and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::EmbedSecret => "embed_secret",
            SubjectKind::Credential => "credential",
            SubjectKind::MasterKey => "master_key",
            SubjectKind::AdminToken => "admin_token",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<SubjectKind> {
        SubjectKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Human wording for messages (`"embed secret"`).
    pub(crate) fn noun(self) -> &'static str {
        match self {
            SubjectKind::EmbedSecret => "embed secret",
            SubjectKind::Credential => "credential",
            SubjectKind::MasterKey => "master key",
            SubjectKind::AdminToken => "admin token",
        }
    }
}

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeAction {
    /// Created (the value is never logged).
    Create,
    /// The name changed.
    Rename,
    /// The description changed.
    Describe,
    /// The environment label changed.
    SetEnvironment,
    /// The scopes changed.
    SetScopes,
    /// The expiry changed.
    SetExpiry,
    /// A credential's token type changed.
    SetTokenType,
    /// A credential's issuer changed.
    SetIssuer,
    /// The owner changed.
    SetOwner,
    /// Several metadata fields changed at once.
    Update,
    /// Deactivated.
    Deactivate,
    /// Reactivated.
    Activate,
    /// A credential's value was replaced by a new version.
    ReplaceValue,
    /// Deleted by an admin (permanent).
    Delete,
    /// Deleted automatically, some time after it expired.
    Purge,
    /// Every value was re-encrypted under a new master key.
    RotateMasterKey,
}

const ACTIONS: [ChangeAction; 16] = [
    ChangeAction::Create,
    ChangeAction::Rename,
    ChangeAction::Describe,
    ChangeAction::SetEnvironment,
    ChangeAction::SetScopes,
    ChangeAction::SetExpiry,
    ChangeAction::SetTokenType,
    ChangeAction::SetIssuer,
    ChangeAction::SetOwner,
    ChangeAction::Update,
    ChangeAction::Deactivate,
    ChangeAction::Activate,
    ChangeAction::ReplaceValue,
    ChangeAction::Delete,
    ChangeAction::Purge,
    ChangeAction::RotateMasterKey,
];

impl ChangeAction {
    /// Every action, in the order of the enum.
    pub const ALL: &'static [ChangeAction] = &ACTIONS;

    /// Stable text form, as stored and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Rename => "rename",
            ChangeAction::Describe => "describe",
            ChangeAction::SetEnvironment => "set_environment",
            ChangeAction::SetScopes => "set_scopes",
            ChangeAction::SetExpiry => "set_expiry",
            ChangeAction::SetTokenType => "set_token_type",
            ChangeAction::SetIssuer => "set_issuer",
            ChangeAction::SetOwner => "set_owner",
            ChangeAction::Update => "update",
            ChangeAction::Deactivate => "deactivate",
            ChangeAction::Activate => "activate",
            ChangeAction::ReplaceValue => "replace_value",
            ChangeAction::Delete => "delete",
            ChangeAction::Purge => "purge",
            ChangeAction::RotateMasterKey => "rotate_master_key",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ChangeAction> {
        ACTIONS.into_iter().find(|a| a.as_str() == s)
    }
}

/// One changed field: old → new, as display text. Values are never logged;
/// a value replacement shows up as `value_version` 1 → 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldChange {
    /// The field (`name`, `description`, `expires_at`, `active`, ...).
    pub field: String,
    /// Before (absent on create).
    pub old: Option<String>,
    /// After (absent on delete).
    pub new: Option<String>,
}

impl FieldChange {
    pub(crate) fn new(field: &str, old: Option<String>, new: Option<String>) -> FieldChange {
        FieldChange {
            field: field.to_owned(),
            old,
            new,
        }
    }
}

/// One change-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEntry {
    /// Position in the log; grows by one per entry.
    pub seq: u64,
    /// When, Unix seconds.
    pub at: i64,
    /// Who (an admin's name, `$USER` for the CLI, `system` for automatic purges).
    pub actor: String,
    /// What happened.
    pub action: ChangeAction,
    /// What kind of thing it happened to.
    pub kind: SubjectKind,
    /// The secret's id (the new key id for a master key rotation).
    pub subject_id: String,
    /// The secret's name at the time of the change.
    pub subject_name: String,
    /// The changed fields.
    pub changes: Vec<FieldChange>,
}

/// Which entries [`crate::Store::audit`] returns; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries about this kind.
    pub kind: Option<SubjectKind>,
    /// Only entries about this secret id.
    pub subject_id: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<ChangeAction>,
    /// Only entries at or after this time.
    pub since: Option<i64>,
    /// Only entries before this time.
    pub until: Option<i64>,
}

/// A window of the log: entries with `seq` greater than `after`, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Start after this sequence number (`None`: from the beginning).
    pub after: Option<u64>,
    /// At most this many entries (capped at 1000).
    pub limit: u32,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            after: None,
            limit: 100,
        }
    }
}

/// One page of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    /// The entries, oldest first.
    pub entries: Vec<ChangeEntry>,
    /// Pass as [`Page::after`] for the next page; `None` when this was the last.
    pub next_after: Option<u64>,
}

/// One change about to be recorded (by `Writer::record`).
pub(crate) struct Change<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: ChangeAction,
    pub kind: SubjectKind,
    pub subject_id: &'a str,
    pub subject_name: &'a str,
    /// An embed secret's client id, for the change notification.
    pub client_id: Option<&'a str>,
    pub changes: Vec<FieldChange>,
}

/// The columns [`read_entry`] reads, in order.
const ENTRY_COLUMNS: &str = "seq, at, actor, action, kind, subject_id, subject_name, changes";

const MAX_PAGE: u32 = 1000;

/// Appends `c` to the log as the change that made `revision`.
pub(crate) fn insert(sql: &mut dyn Sql, c: &Change<'_>, revision: i64) -> Result<(), StoreError> {
    let changes = serde_json::to_string(&c.changes)
        .map_err(|e| StoreError::Storage(format!("cannot encode a change: {e}")))?;
    sql.execute(
        "INSERT INTO change_log (at, actor, action, kind, subject_id, subject_name, changes, revision) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            c.at,
            c.actor,
            c.action.as_str(),
            c.kind.as_str(),
            c.subject_id,
            c.subject_name,
            changes.as_str(),
            revision,
        ],
    )?;
    Ok(())
}

fn read_entry(r: &dyn SqlRow) -> Result<ChangeEntry, StoreError> {
    let bad = |what: &str| StoreError::Storage(format!("bad {what} in the change log"));
    let action = r.text(3)?;
    let kind = r.text(4)?;
    let changes = r.text(7)?;
    Ok(ChangeEntry {
        seq: u64::try_from(r.int(0)?).unwrap_or(0),
        at: r.int(1)?,
        actor: r.text(2)?,
        action: ChangeAction::parse(&action).ok_or_else(|| bad("action"))?,
        kind: SubjectKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        subject_id: r.text(5)?,
        subject_name: r.text(6)?,
        changes: serde_json::from_str(&changes).map_err(|_| bad("changes"))?,
    })
}

/// One page of the whole log, oldest first. Asks one entry more than the
/// page holds, which tells whether another page follows.
pub(crate) fn audit(
    sql: &mut dyn Sql,
    filter: &AuditFilter,
    page: Page,
) -> Result<AuditPage, StoreError> {
    let after = page
        .after
        .map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
    let mut conds = vec!["seq > ?1".to_owned()];
    let mut values: Vec<Value<'_>> = vec![Value::Int(after)];
    let mut add = |cond: &str, v: Value<'static>| {
        values.push(v);
        conds.push(format!("{cond} ?{}", values.len()));
    };
    if let Some(k) = filter.kind {
        add("kind =", Value::Text(k.as_str()));
    }
    if let Some(a) = filter.action {
        add("action =", Value::Text(a.as_str()));
    }
    if let Some(t) = filter.since {
        add("at >=", Value::Int(t));
    }
    if let Some(t) = filter.until {
        add("at <", Value::Int(t));
    }
    if let Some(id) = &filter.subject_id {
        values.push(Value::Text(id));
        conds.push(format!("subject_id = ?{}", values.len()));
    }
    if let Some(a) = &filter.actor {
        values.push(Value::Text(a));
        conds.push(format!("actor = ?{}", values.len()));
    }
    let limit = page.limit.clamp(1, MAX_PAGE) as usize;
    let mut entries = sql.rows(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM change_log WHERE {} ORDER BY seq LIMIT {}",
            conds.join(" AND "),
            limit + 1
        ),
        &values,
        read_entry,
    )?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_after = if more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_after,
    })
}

/// A secret's whole history, oldest first. Works after deletion too, by
/// id or by the name it had.
pub(crate) fn history(
    sql: &mut dyn Sql,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Vec<ChangeEntry>, StoreError> {
    if let Some(r) = row::find(sql, kind, lookup)? {
        return sql.rows(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = ?1 AND subject_id = ?2 ORDER BY seq"
            ),
            params![kind.as_str(), r.id.as_str()],
            read_entry,
        );
    }
    let by_name = !matches!(lookup, Lookup::Id(_) | Lookup::ClientId(_));
    let entries = sql.rows(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = ?1 AND subject_id IN \
             (SELECT subject_id FROM change_log WHERE kind = ?1 AND \
              (subject_id = ?2 OR (?3 AND lower(subject_name) = lower(?2)))) ORDER BY seq"
        ),
        params![kind.as_str(), lookup.as_str(), by_name],
        read_entry,
    )?;
    if entries.is_empty() {
        return Err(StoreError::NotFound {
            kind: kind.noun(),
            lookup: lookup.as_str().to_owned(),
        });
    }
    Ok(entries)
}

/// The last `activate` of each embed secret that was ever reactivated
/// (of `ids` only, when given), from the change log.
pub(crate) fn last_reactivations(
    sql: &mut dyn Sql,
    ids: Option<&[String]>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    const SQL: &str = "SELECT subject_id, MAX(at) FROM change_log \
         WHERE action = 'activate' AND kind = 'embed_secret'";
    let mut out = std::collections::HashMap::new();
    let mut each = |r: &dyn SqlRow| {
        out.insert(r.text(0)?, r.int(1)?);
        Ok(())
    };
    match ids {
        None => sql.query(&format!("{SQL} GROUP BY subject_id"), &[], &mut each)?,
        Some(ids) => {
            for chunk in ids.chunks(500) {
                let values: Vec<Value<'_>> = chunk.iter().map(Value::from).collect();
                sql.query(
                    &format!(
                        "{SQL} AND subject_id IN ({}) GROUP BY subject_id",
                        crate::sql::placeholders(1, chunk.len())
                    ),
                    &values,
                    &mut each,
                )?;
            }
        }
    }
    Ok(out)
}

/// What changed after one revision, as the change log tells it.
pub(crate) struct Since {
    /// The revision the store is at.
    pub revision: u64,
    /// `(kind, row id)` of every change after the asked revision, in order
    /// (an id may repeat).
    pub subjects: Vec<(SubjectKind, String)>,
}

/// The changes after `revision`, if the log can tell them all: `None` when
/// more than `max` changes happened, or when a revision is missing from
/// the log (changes made before it recorded revisions, migration 3).
pub(crate) fn since(
    sql: &mut dyn Sql,
    revision: u64,
    max: usize,
) -> Result<Option<Since>, StoreError> {
    let current = u64::try_from(sql.int(crate::sql::READ_REVISION, &[])?).unwrap_or(0);
    if current < revision {
        return Ok(None);
    }
    let wanted = current - revision;
    if wanted > max as u64 {
        return Ok(None);
    }
    let from = i64::try_from(revision).unwrap_or(i64::MAX);
    let mut expected = revision;
    let mut contiguous = true;
    let mut subjects = Vec::new();
    sql.query(
        "SELECT revision, kind, subject_id FROM change_log \
         WHERE revision > ?1 ORDER BY revision LIMIT ?2",
        params![from, i64::try_from(max + 1).unwrap_or(i64::MAX)],
        &mut |r| {
            expected += 1;
            if u64::try_from(r.int(0)?).ok() != Some(expected) {
                contiguous = false;
            }
            let kind = r.text(1)?;
            let kind = SubjectKind::parse(&kind)
                .ok_or_else(|| StoreError::Storage("bad kind in the change log".into()))?;
            subjects.push((kind, r.text(2)?));
            Ok(())
        },
    )?;
    if !contiguous || expected != current {
        return Ok(None);
    }
    Ok(Some(Since {
        revision: current,
        subjects,
    }))
}
