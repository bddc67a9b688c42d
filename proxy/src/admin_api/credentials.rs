//! `/credentials`: values the proxy injects upstream. A value goes in
//! (create, `PUT …/value`) and never comes out.

use axum::extract::State;
use embedgate_store::{
    Credential as StoredCredential, CredentialUpdate as StoreUpdate, ListPage, Lookup,
    NewCredential as StoreNew, TokenType, Zeroizing,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, Caller, Viewer};
use super::codes;
use super::error::{AuthErrors, Expired, InvalidInput, NameTaken, NotFound};
use super::input::{double_option, Id, JsonBody, QueryParams, TimeInput};
use super::paging::PageQuery;
use super::secrets::ListItem;
use super::{created, now, ok, Answer, ApiError, ApiState, Status};

/// Always `credential`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A credential.
    Credential,
}

/// A credential's metadata (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct Credential {
    /// Row id (`cred_…`).
    id: String,
    /// Unique among credentials, ignoring case; routes name it.
    name: String,
    description: String,
    #[schema(schema_with = codes::token_type)]
    token_type: TokenType,
    /// Who issued it.
    issuer: String,
    scopes: Vec<String>,
    /// Who answers for it (at first, the admin who stored it).
    owner: String,
    /// Unix seconds.
    created_at: i64,
    /// Unix seconds of the last change.
    updated_at: i64,
    /// Unix seconds of the last use a proxy reported.
    last_used_at: Option<i64>,
    /// Unix seconds after which the proxy no longer injects it.
    expires_at: Option<i64>,
    active: bool,
    /// Value version: 1, then one more per replacement.
    version: i64,
    /// First characters and length of the value.
    fingerprint: String,
    /// The master key the value is encrypted under.
    master_key_id: String,
    kind: CredentialKind,
    status: Status,
}

impl Credential {
    /// How the API shows `c` at `now`.
    pub fn of(c: StoredCredential, now: i64) -> Credential {
        Credential {
            status: Status::of(c.active, c.expires_at, now),
            kind: CredentialKind::Credential,
            id: c.id,
            name: c.name,
            description: c.description,
            token_type: c.token_type,
            issuer: c.issuer,
            scopes: c.scopes,
            owner: c.owner,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_used_at: c.last_used_at,
            expires_at: c.expires_at,
            active: c.active,
            version: c.version,
            fingerprint: c.fingerprint,
            master_key_id: c.master_key_id,
        }
    }
}

/// A page of `GET /credentials`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialList {
    /// By name.
    items: Vec<Credential>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The body of `POST /credentials`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// Unique name, 1–100 characters.
    name: String,
    /// The value (at most 16 KiB); never returned.
    #[schema(value_type = String, write_only)]
    value: Zeroizing<String>,
    #[serde(default)]
    description: String,
    /// `other` when absent.
    #[serde(default)]
    #[schema(schema_with = codes::token_type)]
    token_type: Option<String>,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// Unix seconds or RFC 3339.
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

/// The body of `PATCH /credentials/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = codes::token_type)]
    token_type: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
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

/// The body of `PUT /credentials/{id}/value`: a new version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialValue {
    /// The new value (at most 16 KiB); never returned.
    #[schema(value_type = String, write_only)]
    value: Zeroizing<String>,
    /// The new value's expiry (Unix seconds or RFC 3339); absent: none.
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

/// The id path parameter of every `/credentials/{id}` route.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CredentialId {
    /// Row id or name.
    #[allow(dead_code)]
    id: String,
}

fn token_type(t: Option<&str>) -> Result<Option<TokenType>, ApiError> {
    t.map(|t| t.parse::<TokenType>().map_err(ApiError::from))
        .transpose()
}

/// A store page as list items.
pub fn page_of(page: ListPage<StoredCredential>, now: i64) -> (Vec<ListItem>, Option<String>) {
    let items = page
        .items
        .into_iter()
        .map(|c| ListItem::Credential(Credential::of(c, now)))
        .collect();
    (items, page.next_cursor)
}

/// List credentials (never values)
///
/// A page at a time, by name.
#[utoipa::path(get, path = "/credentials", tag = "credentials", operation_id = "list_credentials",
    params(PageQuery, OnlyCredentials),
    responses((status = 200, description = "A page of credentials", body = CredentialList), InvalidInput, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn list(
    State(api): State<ApiState>,
    _: Caller<Viewer>,
    QueryParams(q): QueryParams<PageQuery>,
    QueryParams(k): QueryParams<OnlyCredentials>,
) -> Answer<CredentialList> {
    if k.kind.as_deref().is_some_and(|k| k != "credential") {
        return Err(ApiError::invalid("kind", "only credential is listed here"));
    }
    let request = q.request(q.limit()?, q.cursor.clone());
    let page = api
        .blocking(move |s| s.list_credentials_page(&request))
        .await?;
    let now = now();
    ok(CredentialList {
        items: page
            .items
            .into_iter()
            .map(|c| Credential::of(c, now))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// `kind` on `/credentials`: only `credential`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnlyCredentials {
    /// `credential`, if given.
    #[param(value_type = Option<CredentialKind>)]
    kind: Option<String>,
}

/// Store a credential; its value is never returned
#[utoipa::path(post, path = "/credentials", tag = "credentials", operation_id = "create_credential",
    request_body = NewCredential,
    responses((status = 201, description = "Stored (never its value)", body = Credential), InvalidInput, NameTaken, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn create(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    JsonBody(body): JsonBody<NewCredential>,
) -> Answer<Credential> {
    let new = StoreNew {
        name: body.name,
        description: body.description,
        token_type: token_type(body.token_type.as_deref())?.unwrap_or_default(),
        issuer: body.issuer,
        scopes: body.scopes,
        expires_at: TimeInput::resolve_opt(body.expires_at.as_ref(), "expires_at")?,
    };
    let value = body.value;
    let (actor, now) = (caller.actor(), now());
    let cred = api
        .blocking(move |s| s.create_credential(&new, &value, &actor, now))
        .await?;
    api.changed().await;
    created(Credential::of(cred, now))
}

/// One credential (by id or name)
#[utoipa::path(get, path = "/credentials/{id}", tag = "credentials", operation_id = "get_credential",
    params(CredentialId),
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn get(State(api): State<ApiState>, _: Caller<Viewer>, Id(id): Id) -> Answer<Credential> {
    let cred = api
        .blocking(move |s| s.get_credential(&Lookup::any(id)))
        .await?;
    ok(Credential::of(cred, now()))
}

/// Change a credential's metadata
#[utoipa::path(patch, path = "/credentials/{id}", tag = "credentials", operation_id = "update_credential",
    params(CredentialId),
    request_body = CredentialUpdate,
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), InvalidInput, NotFound, NameTaken, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn update(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
    JsonBody(body): JsonBody<CredentialUpdate>,
) -> Answer<Credential> {
    let update = StoreUpdate {
        name: body.name,
        description: body.description,
        token_type: token_type(body.token_type.as_deref())?,
        issuer: body.issuer,
        scopes: body.scopes,
        owner: body.owner,
        expires_at: TimeInput::resolve_patch(body.expires_at, "expires_at")?,
    };
    let now = now();
    let cred = api
        .write_row(id, caller.actor(), now, move |s, lookup, actor, now| {
            s.update_credential(lookup, &update, actor, now)
        })
        .await?;
    ok(Credential::of(cred, now))
}

/// Delete a credential permanently
#[utoipa::path(delete, path = "/credentials/{id}", tag = "credentials", operation_id = "delete_credential",
    params(CredentialId),
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn delete(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Credential> {
    let now = now();
    let cred = api
        .write_row(id, caller.actor(), now, |s, lookup, actor, now| {
            s.delete_credential(lookup, actor, now)
        })
        .await?;
    ok(Credential::of(cred, now))
}

async fn set_active(api: ApiState, actor: String, id: String, active: bool) -> Answer<Credential> {
    let now = now();
    let cred = api
        .write_row(id, actor, now, move |s, lookup, actor, now| {
            if active {
                s.activate_credential(lookup, actor, now)
            } else {
                s.deactivate_credential(lookup, actor, now)
            }
        })
        .await?;
    ok(Credential::of(cred, now))
}

/// Deactivate a credential
#[utoipa::path(post, path = "/credentials/{id}/deactivate", tag = "credentials", operation_id = "deactivate_credential",
    params(CredentialId),
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn deactivate(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Credential> {
    set_active(api, caller.actor(), id, false).await
}

/// Reactivate a credential (422 once expired)
#[utoipa::path(post, path = "/credentials/{id}/activate", tag = "credentials", operation_id = "activate_credential",
    params(CredentialId),
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), NotFound, Expired, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn activate(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
) -> Answer<Credential> {
    set_active(api, caller.actor(), id, true).await
}

/// The credential's change log
#[utoipa::path(get, path = "/credentials/{id}/history", tag = "credentials", operation_id = "credential_history",
    params(CredentialId),
    responses((status = 200, description = "Its change log, oldest first", body = super::audit::History), NotFound, AuthErrors),
    extensions(("x-required-role" = json!("viewer"))))]
pub async fn history(
    State(api): State<ApiState>,
    _: Caller<Viewer>,
    Id(id): Id,
) -> Answer<super::audit::History> {
    let entries = api
        .blocking(move |s| s.credential_history(&Lookup::any(id)))
        .await?;
    ok(super::audit::History::of(entries))
}

/// Replace the value (a new version); never returned
#[utoipa::path(put, path = "/credentials/{id}/value", tag = "credentials", operation_id = "replace_credential_value",
    params(CredentialId),
    request_body = CredentialValue,
    responses((status = 200, description = "The credential (after the change; never its value)", body = Credential), InvalidInput, NotFound, AuthErrors),
    extensions(("x-required-role" = json!("admin"))))]
pub async fn replace_value(
    State(api): State<ApiState>,
    caller: Caller<Admin>,
    Id(id): Id,
    JsonBody(body): JsonBody<CredentialValue>,
) -> Answer<Credential> {
    let expires_at = TimeInput::resolve_opt(body.expires_at.as_ref(), "expires_at")?;
    let value = body.value;
    let now = now();
    let cred = api
        .write_row(id, caller.actor(), now, move |s, lookup, actor, now| {
            s.replace_credential_value(lookup, &value, expires_at, actor, now)
        })
        .await?;
    ok(Credential::of(cred, now))
}
