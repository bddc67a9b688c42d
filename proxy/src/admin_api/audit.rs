//! `/audit`: the whole change log, filtered and paginated (oldest first;
//! pass `next_after` as `after` for the next page). Also the change-log
//! entry as every history shows it.

use axum::extract::State;
use embedgate_store::{AuditFilter, ChangeAction, ChangeEntry, FieldChange, Page, SubjectKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Viewer};
use super::codes;
use super::error::{AuthErrors, InvalidInput};
use super::input::{int_param, parse_time, QueryParams};
use super::paging::DEFAULT_PAGE;
use super::{ok, Answer, ApiError, ApiState};

/// One changed field, old → new, as display text (never a value: a
/// replaced credential shows `value_version` 1 → 2).
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// `name`, `description`, `owner`, `expires_at`, `active`, ...
    field: String,
    /// Absent (`null`) on create.
    old: Option<String>,
    /// Absent (`null`) on delete.
    new: Option<String>,
}

/// One change-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    /// Position in the log; one more per entry.
    seq: u64,
    /// Unix seconds.
    at: i64,
    /// The admin token's name, `$USER` for the CLI, `system` for purges.
    actor: String,
    #[schema(schema_with = codes::action)]
    action: ChangeAction,
    #[schema(schema_with = codes::kind)]
    kind: SubjectKind,
    subject_id: String,
    /// The name at the time of the change.
    subject_name: String,
    changes: Vec<Change>,
}

impl From<ChangeEntry> for Entry {
    fn from(e: ChangeEntry) -> Entry {
        Entry {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            kind: e.kind,
            subject_id: e.subject_id,
            subject_name: e.subject_name,
            changes: e.changes.into_iter().map(Change::from).collect(),
        }
    }
}

impl From<FieldChange> for Change {
    fn from(c: FieldChange) -> Change {
        Change {
            field: c.field,
            old: c.old,
            new: c.new,
        }
    }
}

/// One secret's or credential's change log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    /// The API's form of `entries`.
    pub fn of(entries: Vec<ChangeEntry>) -> History {
        History {
            entries: entries.into_iter().map(Entry::from).collect(),
        }
    }
}

/// A page of the change log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    entries: Vec<Entry>,
    /// Pass as `after` for the next page; `null` on the last.
    next_after: Option<u64>,
}

/// The filters of `GET /audit`; every one given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this kind.
    #[param(schema_with = codes::kind)]
    kind: Option<String>,
    /// Only entries about this id.
    subject_id: Option<String>,
    /// Only entries by this actor.
    actor: Option<String>,
    /// Only this action.
    #[param(schema_with = codes::action)]
    action: Option<String>,
    /// From this time, inclusive: Unix seconds or RFC 3339.
    #[param(value_type = Option<super::input::TimeInput>)]
    since: Option<String>,
    /// Before this time: Unix seconds or RFC 3339.
    #[param(value_type = Option<super::input::TimeInput>)]
    until: Option<String>,
    /// The `next_after` of the previous page.
    #[param(value_type = Option<u64>)]
    after: Option<String>,
    /// Entries per page, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

fn code<T>(
    name: &str,
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    text.map(|v| parse(v).ok_or_else(|| ApiError::invalid(name, format!("unknown {name} {v:?}"))))
        .transpose()
}

/// The whole change log, filtered, oldest first, paginated
#[utoipa::path(get, path = "/audit", tag = "audit", operation_id = "audit",
    params(AuditQuery),
    responses((status = 200, description = "A page of the change log", body = AuditPage), InvalidInput, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn list(
    State(api): State<ApiState>,
    _: Caller<Viewer>,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Answer<AuditPage> {
    let time = |name: &str, t: Option<&str>| t.map(|t| parse_time(name, t)).transpose();
    let filter = AuditFilter {
        kind: code("kind", q.kind.as_deref(), codes::parse_kind)?,
        subject_id: q.subject_id,
        actor: q.actor,
        action: code("action", q.action.as_deref(), codes::parse_action)?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
    };
    let after = int_param("after", q.after.as_deref())?
        .map(|a| u64::try_from(a).map_err(|_| ApiError::invalid("after", "must not be negative")))
        .transpose()?;
    let limit = match int_param("limit", q.limit.as_deref())? {
        None => DEFAULT_PAGE,
        Some(l) if (1..=1000).contains(&l) => u32::try_from(l).unwrap_or(DEFAULT_PAGE),
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 1000")),
    };
    let page = api
        .blocking(move |s| s.audit(&filter, Page { after, limit }))
        .await?;
    ok(AuditPage {
        entries: page.entries.into_iter().map(Entry::from).collect(),
        next_after: page.next_after,
    })
}
