//! `/audit`: the whole change log, filtered and paginated (oldest first;
//! pass `next_after` as `after` for the next page).

use embedgate_store::{AuditFilter, ChangeAction, ChangeEntry, Page, SubjectKind};
use http::StatusCode;
use serde_json::json;

use super::{to_json, AdminApi, Answer, ApiError, Call};

fn int(c: &Call, name: &'static str) -> Result<Option<i64>, ApiError> {
    c.q(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::invalid(name, "expected an integer"))
        })
        .transpose()
}

const KINDS: [SubjectKind; 4] = [
    SubjectKind::EmbedSecret,
    SubjectKind::Credential,
    SubjectKind::MasterKey,
    SubjectKind::AdminToken,
];

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

/// Parses a `kind` or `action` filter by its stable text form.
fn code<T: Copy>(
    c: &Call,
    name: &'static str,
    all: &[T],
    text: fn(T) -> &'static str,
) -> Result<Option<T>, ApiError> {
    c.q(name)
        .map(|v| {
            all.iter()
                .copied()
                .find(|k| text(*k) == v)
                .ok_or_else(|| ApiError::invalid(name, format!("unknown {name} {v:?}")))
        })
        .transpose()
}

pub async fn list(api: &AdminApi, c: &Call) -> Answer {
    let filter = AuditFilter {
        kind: code(c, "kind", &KINDS, SubjectKind::as_str)?,
        subject_id: c.q("subject_id").map(str::to_owned),
        actor: c.q("actor").map(str::to_owned),
        action: code(c, "action", &ACTIONS, ChangeAction::as_str)?,
        since: int(c, "since")?,
        until: int(c, "until")?,
    };
    let after = int(c, "after")?
        .map(|a| u64::try_from(a).map_err(|_| ApiError::invalid("after", "must not be negative")))
        .transpose()?;
    let limit = match int(c, "limit")? {
        None => 100,
        Some(l) if (1..=1000).contains(&l) => l as u32,
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 1000")),
    };
    let page = api
        .blocking(move |s| s.audit(&filter, Page { after, limit }))
        .await?;
    let entries: &[ChangeEntry] = &page.entries;
    Ok((
        StatusCode::OK,
        json!({ "entries": to_json(&entries)?, "next_after": page.next_after }),
    ))
}
