//! `/tokens`: admin tokens (owner only). A token is shown once, in the
//! answer to create.

use axum::extract::State;
use embedgate_store::{AdminToken, NewAdminToken, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Owner};
use super::codes;
use super::error::{AuthErrors, InvalidInput, NameTaken, NotFound};
use super::input::{Id, JsonBody, QueryParams};
use super::paging::PageQuery;
use super::{created, now, ok, Answer, ApiError, ApiState};

/// An admin token's metadata (never the token).
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Row id (`tok_…`).
    id: String,
    /// Unique, ignoring case; the actor in the change log.
    name: String,
    #[schema(schema_with = codes::role)]
    role: Role,
    /// Who created it.
    created_by: String,
    /// Unix seconds.
    created_at: i64,
    /// Unix seconds of the last use (to the minute).
    last_used_at: Option<i64>,
}

impl From<AdminToken> for Token {
    fn from(t: AdminToken) -> Token {
        Token {
            id: t.id,
            name: t.name,
            role: t.role,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A page of `GET /tokens`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// By name.
    items: Vec<Token>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The body of `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Unique name, 1–100 characters.
    name: String,
    #[schema(schema_with = codes::role)]
    role: String,
}

/// The answer to `POST /tokens`: the only time the token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    token: Token,
    /// The token (`egadm_…`), shown this once.
    value: String,
}

/// The id path parameter of `/tokens/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenId {
    /// Row id or name.
    #[allow(dead_code)]
    id: String,
}

/// List admin tokens (never the tokens)
///
/// A page at a time, by name; `search` matches the name.
#[utoipa::path(get, path = "/tokens", tag = "tokens", operation_id = "list_tokens",
    params(PageQuery),
    responses((status = 200, description = "A page of admin tokens", body = TokenList), InvalidInput, AuthErrors),
    extensions(("x-required-role" = json!("owner"))))]
pub async fn list(
    State(api): State<ApiState>,
    _: Caller<Owner>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Answer<TokenList> {
    let request = q.request(q.limit()?, q.cursor.clone());
    let page = api
        .blocking(move |s| s.list_admin_tokens_page(&request))
        .await?;
    ok(TokenList {
        items: page.items.into_iter().map(Token::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Create an admin token; shown in this response only
#[utoipa::path(post, path = "/tokens", tag = "tokens", operation_id = "create_token",
    request_body = NewToken,
    responses((status = 201, description = "Created; the token is shown this once", body = CreatedToken), InvalidInput, NameTaken, AuthErrors),
    extensions(("x-required-role" = json!("owner"))))]
pub async fn create(
    State(api): State<ApiState>,
    caller: Caller<Owner>,
    JsonBody(body): JsonBody<NewToken>,
) -> Answer<CreatedToken> {
    let role: Role = body.role.parse().map_err(ApiError::from)?;
    let new = NewAdminToken {
        name: body.name,
        role,
    };
    let (actor, now) = (caller.actor(), now());
    let made = api
        .blocking(move |s| s.create_admin_token(&new, &actor, now))
        .await?;
    let value = made.value.as_str().to_owned();
    created(CreatedToken {
        token: Token::from(made.token.clone()),
        value,
    })
}

/// Revoke an admin token (not the last owner token)
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", operation_id = "revoke_token",
    params(TokenId),
    responses((status = 200, description = "The revoked token", body = Token), InvalidInput, NotFound, AuthErrors),
    extensions(("x-required-role" = json!("owner"))))]
pub async fn revoke(
    State(api): State<ApiState>,
    caller: Caller<Owner>,
    Id(id): Id,
) -> Answer<Token> {
    let (actor, now) = (caller.actor(), now());
    let t = api
        .blocking(move |s| s.revoke_admin_token(&id, &actor, now))
        .await?;
    ok(Token::from(t))
}
