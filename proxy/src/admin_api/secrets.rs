//! `/secrets`: embed secrets. The value appears once, in the answer to
//! create; afterwards only the fingerprint.

use axum::extract::State;
use embedgate_store::{EmbedSecret, EmbedSecretUpdate, ListPage, Lookup, NewEmbedSecret};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, Caller, Viewer};
use super::credentials::Credential;
use super::error::{AuthErrors, Expired, InvalidInput, NameTaken, NotFound};
use super::input::{double_option, Id, JsonBody, QueryParams, TimeInput};
use super::paging::{PageQuery, TwoListCursor};
use super::{created, now, ok, Answer, ApiError, ApiState, Status};
use crate::serve::verification_counts::{BUCKETS, BUCKET_SECS};

/// Always `embed_secret`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmbedSecretKind {
    /// An embed secret.
    EmbedSecret,
}

/// An embed secret's metadata (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct Secret {
    /// Row id (`sec_…`).
    id: String,
    /// Public client id (`ek_…`), sent as `eg_kid`.
    client_id: String,
    /// Unique among embed secrets, ignoring case.
    name: String,
    description: String,
    /// A label such as `production`.
    environment: String,
    /// Path prefixes it may sign for; empty: any path.
    scopes: Vec<String>,
    /// Who answers for it (at first, the admin who created it).
    owner: String,
    /// Unix seconds.
    created_at: i64,
    /// Unix seconds of the last metadata change.
    updated_at: i64,
    /// Unix seconds of the last verified use a proxy reported.
    last_used_at: Option<i64>,
    /// Unix seconds after which it no longer verifies.
    expires_at: Option<i64>,
    active: bool,
    /// First 4 characters and length of the value, e.g. `AbCd…(32)`.
    fingerprint: String,
    /// The master key the value is encrypted under.
    master_key_id: String,
    kind: EmbedSecretKind,
    status: Status,
}

impl Secret {
    /// How the API shows `s` at `now`.
    pub fn of(s: EmbedSecret, now: i64) -> Secret {
        Secret {
            status: Status::of(s.active, s.expires_at, now),
            kind: EmbedSecretKind::EmbedSecret,
            id: s.id,
            client_id: s.client_id,
            name: s.name,
            description: s.description,
            environment: s.environment,
            scopes: s.scopes,
            owner: s.owner,
            created_at: s.created_at,
            updated_at: s.updated_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            active: s.active,
            fingerprint: s.fingerprint,
            master_key_id: s.master_key_id,
        }
    }
}

/// One item of `GET /secrets`: an embed secret, or (with `kind`) a
/// credential.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ListItem {
    /// `kind: embed_secret`.
    Secret(Secret),
    /// `kind: credential`.
    Credential(Credential),
}

/// A page of `GET /secrets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// By name (with `kind=all`: embed secrets, then credentials).
    items: Vec<ListItem>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// What `GET /secrets` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KindQuery {
    /// `embed_secret` (the default), `credential`, or `all`.
    #[param(value_type = Option<ListKind>)]
    kind: Option<String>,
}

/// What `GET /secrets` lists.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Embed secrets.
    EmbedSecret,
    /// Credentials.
    Credential,
    /// Both: embed secrets, then credentials.
    All,
}

/// The body of `POST /secrets`. The value is generated, never chosen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    /// Unique name, 1–100 characters.
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    environment: String,
    /// Path prefixes it may sign for; empty: any path.
    #[serde(default)]
    scopes: Vec<String>,
    /// Unix seconds or RFC 3339.
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

/// The answer to `POST /secrets`: the only time the value is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSecret {
    secret: Secret,
    /// The value (32 characters), shown this once.
    value: String,
}

/// The body of `PATCH /secrets/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    /// An empty list removes every scope (any path).
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Who answers for it: a person or a team.
    #[serde(default)]
    owner: Option<String>,
    /// Unix seconds or RFC 3339; `null` removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<TimeInput>)]
    expires_at: Option<Option<TimeInput>>,
}

/// One 10-minute bucket of verified uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBucket {
    /// Unix seconds.
    start: u64,
    count: u64,
}

/// Verified uses over the last 24 hours, from this proxy's counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    id: String,
    client_id: String,
    /// 600.
    bucket_secs: u64,
    total: u64,
    /// 144, oldest first.
    buckets: Vec<UsageBucket>,
}

/// The id path parameter of every `/secrets/{id}` route.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SecretId {
    /// Row id, client id or name.
    #[allow(dead_code)]
    id: String,
}

fn page_of(page: ListPage<EmbedSecret>, now: i64) -> (Vec<ListItem>, Option<String>) {
    let items = page
        .items
        .into_iter()
        .map(|s| ListItem::Secret(Secret::of(s, now)))
        .collect();
    (items, page.next_cursor)
}

/// List embed secrets (never values)
///
/// A page at a time, by name. With `kind=credential` it lists
/// credentials, with `kind=all` both (embed secrets first).
#[utoipa::path(get, path = "/secrets", tag = "secrets", operation_id = "list_secrets",
    params(PageQuery, KindQuery),
    responses((status = 200, description = "A page of the list", body = SecretList), InvalidInput, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn list(
    State(api): State<ApiState>,
    _: Caller<Viewer>,
    QueryParams(q): QueryParams<PageQuery>,
    QueryParams(k): QueryParams<KindQuery>,
) -> Answer<SecretList> {
    let limit = q.limit()?;
    let now = now();
    let kind = match k.kind.as_deref() {
        None | Some("embed_secret") => ListKind::EmbedSecret,
        Some("credential") => ListKind::Credential,
        Some("all") => ListKind::All,
        Some(_) => {
            return Err(ApiError::invalid(
                "kind",
                "expected embed_secret, credential or all",
            ))
        }
    };
    let (items, next_cursor) = match kind {
        ListKind::EmbedSecret => {
            let request = q.request(limit, q.cursor.clone());
            let page = api
                .blocking(move |s| s.list_embed_secrets_page(&request))
                .await?;
            page_of(page, now)
        }
        ListKind::Credential => {
            let request = q.request(limit, q.cursor.clone());
            let page = api
                .blocking(move |s| s.list_credentials_page(&request))
                .await?;
            super::credentials::page_of(page, now)
        }
        ListKind::All => list_both(&api, &q, limit, now).await?,
    };
    ok(SecretList { items, next_cursor })
}

/// `kind=all`: embed secrets, and once they are through, credentials.
async fn list_both(
    api: &ApiState,
    q: &PageQuery,
    limit: u32,
    now: i64,
) -> Result<(Vec<ListItem>, Option<String>), ApiError> {
    let mut items = Vec::new();
    let cursor = match TwoListCursor::parse(q.cursor.as_deref())? {
        TwoListCursor::First(after) => {
            let request = q.request(limit, after);
            let page = api
                .blocking(move |s| s.list_embed_secrets_page(&request))
                .await?;
            let (first, next) = page_of(page, now);
            items = first;
            if let Some(next) = next {
                return Ok((items, Some(TwoListCursor::First(Some(next)).encode())));
            }
            None
        }
        TwoListCursor::Second(after) => after,
    };
    let room = limit.saturating_sub(u32::try_from(items.len()).unwrap_or(limit));
    if room == 0 {
        return Ok((items, Some(TwoListCursor::Second(None).encode())));
    }
    let request = q.request(room, cursor);
    let page = api
        .blocking(move |s| s.list_credentials_page(&request))
        .await?;
    let (more, next) = super::credentials::page_of(page, now);
    items.extend(more);
    Ok((items, next.map(|c| TwoListCursor::Second(Some(c)).encode())))
}

/// Create an embed secret; the value is in this response only
#[utoipa::path(post, path = "/secrets", tag = "secrets", operation_id = "create_secret",
    request_body = NewSecret,
    responses((status = 201, description = "Created; the value is shown this once", body = CreatedSecret), InvalidInput, NameTaken, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn create(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    JsonBody(body): JsonBody<NewSecret>,
) -> Answer<CreatedSecret> {
    let new = NewEmbedSecret {
        name: body.name,
        description: body.description,
        environment: body.environment,
        scopes: body.scopes,
        expires_at: TimeInput::resolve_opt(body.expires_at.as_ref(), "expires_at")?,
    };
    let (actor, now) = (caller.actor(), now());
    let made = api
        .blocking(move |s| s.create_embed_secret(&new, &actor, now))
        .await?;
    api.changed().await;
    let value = made.value.as_str().to_owned();
    created(CreatedSecret {
        secret: Secret::of(made.secret.clone(), now),
        value,
    })
}

/// One embed secret (by id, client id or name)
#[utoipa::path(get, path = "/secrets/{id}", tag = "secrets", operation_id = "get_secret",
    params(SecretId),
    responses((status = 200, description = "The embed secret (after the change)", body = Secret), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn get(State(api): State<ApiState>, _: Caller<Viewer>, Id(id): Id) -> Answer<Secret> {
    let s = api
        .blocking(move |s| s.get_embed_secret(&Lookup::any(id)))
        .await?;
    ok(Secret::of(s, now()))
}

/// Rename, describe, set environment, scopes, owner or expiry
#[utoipa::path(patch, path = "/secrets/{id}", tag = "secrets", operation_id = "update_secret",
    params(SecretId),
    request_body = SecretUpdate,
    responses((status = 200, description = "The embed secret (after the change)", body = Secret), InvalidInput, NotFound, NameTaken, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn update(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
    JsonBody(body): JsonBody<SecretUpdate>,
) -> Answer<Secret> {
    let update = EmbedSecretUpdate {
        name: body.name,
        description: body.description,
        environment: body.environment,
        scopes: body.scopes,
        owner: body.owner,
        expires_at: TimeInput::resolve_patch(body.expires_at, "expires_at")?,
    };
    let now = now();
    let s = api
        .write_row(id, caller.actor(), now, move |s, lookup, actor, now| {
            s.update_embed_secret(lookup, &update, actor, now)
        })
        .await?;
    ok(Secret::of(s, now))
}

/// Delete permanently: URLs and sessions signed with it get 403
#[utoipa::path(delete, path = "/secrets/{id}", tag = "secrets", operation_id = "delete_secret",
    params(SecretId),
    responses((status = 200, description = "The embed secret (after the change)", body = Secret), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn delete(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Secret> {
    let now = now();
    let s = api
        .write_row(id, caller.actor(), now, |s, lookup, actor, now| {
            s.delete_embed_secret(lookup, actor, now)
        })
        .await?;
    ok(Secret::of(s, now))
}

async fn set_active(api: ApiState, actor: String, id: String, active: bool) -> Answer<Secret> {
    let now = now();
    let s = api
        .write_row(id, actor, now, move |s, lookup, actor, now| {
            if active {
                s.activate_embed_secret(lookup, actor, now)
            } else {
                s.deactivate_embed_secret(lookup, actor, now)
            }
        })
        .await?;
    ok(Secret::of(s, now))
}

/// Deactivate (URLs and sessions signed with it get 403)
#[utoipa::path(post, path = "/secrets/{id}/deactivate", tag = "secrets", operation_id = "deactivate_secret",
    params(SecretId),
    responses((status = 200, description = "The embed secret (after the change)", body = Secret), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn deactivate(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Secret> {
    set_active(api, caller.actor(), id, false).await
}

/// Reactivate (422 once expired)
#[utoipa::path(post, path = "/secrets/{id}/activate", tag = "secrets", operation_id = "activate_secret",
    params(SecretId),
    responses((status = 200, description = "The embed secret (after the change)", body = Secret), NotFound, Expired, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn activate(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Secret> {
    set_active(api, caller.actor(), id, true).await
}

/// The secret's change log (also after deletion)
#[utoipa::path(get, path = "/secrets/{id}/history", tag = "secrets", operation_id = "secret_history",
    params(SecretId),
    responses((status = 200, description = "Its change log, oldest first", body = super::audit::History), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn history(
    State(api): State<ApiState>,
    _: Caller<Viewer>,
    Id(id): Id,
) -> Answer<super::audit::History> {
    let entries = api
        .blocking(move |s| s.embed_secret_history(&Lookup::any(id)))
        .await?;
    ok(super::audit::History::of(entries))
}

/// Verified uses over the last 24 hours, per 10 minutes, from this proxy's counters
#[utoipa::path(get, path = "/secrets/{id}/usage", tag = "secrets", operation_id = "secret_usage",
    params(SecretId),
    responses((status = 200, description = "Verified uses per 10 minutes", body = Usage), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn usage(State(api): State<ApiState>, _: Caller<Viewer>, Id(id): Id) -> Answer<Usage> {
    let s = api
        .blocking(move |s| s.get_embed_secret(&Lookup::any(id)))
        .await?;
    let now = u64::try_from(now()).unwrap_or(0);
    let series = match api.cache().verification_counts(&s.client_id) {
        Some(counts) => counts.series(now),
        None => {
            let current = now / BUCKET_SECS;
            (0..BUCKETS as u64)
                .rev()
                .filter_map(|b| current.checked_sub(b))
                .map(|b| (b * BUCKET_SECS, 0))
                .collect()
        }
    };
    ok(Usage {
        total: series.iter().map(|(_, n)| n).sum(),
        buckets: series
            .into_iter()
            .map(|(start, count)| UsageBucket { start, count })
            .collect(),
        id: s.id,
        client_id: s.client_id,
        bucket_secs: BUCKET_SECS,
    })
}
