//! The change log: who changed what, when, on which secret. Never a value.

use serde::Serialize;

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
        [
            SubjectKind::EmbedSecret,
            SubjectKind::Credential,
            SubjectKind::MasterKey,
            SubjectKind::AdminToken,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
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

const ACTIONS: [ChangeAction; 15] = [
    ChangeAction::Create,
    ChangeAction::Rename,
    ChangeAction::Describe,
    ChangeAction::SetEnvironment,
    ChangeAction::SetScopes,
    ChangeAction::SetExpiry,
    ChangeAction::SetTokenType,
    ChangeAction::SetIssuer,
    ChangeAction::Update,
    ChangeAction::Deactivate,
    ChangeAction::Activate,
    ChangeAction::ReplaceValue,
    ChangeAction::Delete,
    ChangeAction::Purge,
    ChangeAction::RotateMasterKey,
];

impl ChangeAction {
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

/// One change about to be recorded (by either backend's `record`).
pub(crate) struct Change<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: ChangeAction,
    pub kind: SubjectKind,
    pub subject_id: &'a str,
    pub subject_name: &'a str,
    pub changes: Vec<FieldChange>,
}

/// The columns both backends read a [`ChangeEntry`] from, in order.
pub(crate) const ENTRY_COLUMNS: &str =
    "seq, at, actor, action, kind, subject_id, subject_name, changes";

const MAX_PAGE: u32 = 1000;

/// A value bound in an [`AuditQuery`].
pub(crate) enum AuditParam {
    Int(i64),
    Text(String),
}

/// The query for one page of [`crate::Store::audit`], the same for both
/// backends but for the placeholder mark (`?1` in SQLite, `$1` in
/// PostgreSQL). It asks one entry more than the page holds, which tells
/// [`AuditQuery::page`] whether another page follows.
pub(crate) struct AuditQuery {
    pub sql: String,
    pub params: Vec<AuditParam>,
    limit: usize,
}

impl AuditQuery {
    pub(crate) fn new(filter: &AuditFilter, page: Page, mark: char) -> AuditQuery {
        let after = page
            .after
            .map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let mut conds = vec![format!("seq > {mark}1")];
        let mut params = vec![AuditParam::Int(after)];
        let mut add = |cond: &str, v: AuditParam| {
            params.push(v);
            conds.push(format!("{cond} {mark}{}", params.len()));
        };
        if let Some(k) = filter.kind {
            add("kind =", AuditParam::Text(k.as_str().into()));
        }
        if let Some(id) = &filter.subject_id {
            add("subject_id =", AuditParam::Text(id.clone()));
        }
        if let Some(a) = &filter.actor {
            add("actor =", AuditParam::Text(a.clone()));
        }
        if let Some(a) = filter.action {
            add("action =", AuditParam::Text(a.as_str().into()));
        }
        if let Some(t) = filter.since {
            add("at >=", AuditParam::Int(t));
        }
        if let Some(t) = filter.until {
            add("at <", AuditParam::Int(t));
        }
        let limit = page.limit.clamp(1, MAX_PAGE);
        AuditQuery {
            sql: format!(
                "SELECT {ENTRY_COLUMNS} FROM change_log WHERE {} ORDER BY seq LIMIT {}",
                conds.join(" AND "),
                limit + 1
            ),
            params,
            limit: limit as usize,
        }
    }

    /// The page the query's result makes.
    pub(crate) fn page(&self, mut entries: Vec<ChangeEntry>) -> AuditPage {
        let more = entries.len() > self.limit;
        entries.truncate(self.limit);
        let next_after = if more {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        AuditPage {
            entries,
            next_after,
        }
    }
}
