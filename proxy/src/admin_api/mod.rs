//! The admin REST API, `/api/v1` on the admin listener.
//!
//! JSON in and out; `Authorization: Bearer <admin token>`; roles `viewer`
//! (read metadata and the change log), `admin` (also change secrets and
//! credentials), `owner` (also admin tokens). Every route is one row of
//! [`ROUTES`]: the dispatcher and the OpenAPI document (`openapi.rs`) are
//! both built from it. One file per resource (`secrets.rs`,
//! `credentials.rs`, `tokens.rs`, `audit.rs`); `auth.rs` checks the token
//! and role; `error.rs` maps errors to statuses. The store is synchronous,
//! so every call runs on `spawn_blocking`. A change records the token's
//! name as the actor and applies the rows it changed to the proxy's secret
//! cache before the response is sent, so it applies at once.
//!
//! The console (`www/admin`) and the playground are served next to it by
//! `console.rs`, embedded in the binary.

mod audit;
mod auth;
pub mod console;
mod credentials;
mod error;
pub mod openapi;
mod secrets;
mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use embedgate_store::{AdminToken, Lookup, Role, Store, StoreError};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use serde::de::DeserializeOwned;

use crate::serve::secret_cache::SecretCache;
use crate::serve::ReloadHandle;
pub use error::ApiError;

/// Largest request body accepted (credential values are at most 16 KiB).
const MAX_BODY: usize = 64 * 1024;

/// What the API needs: the store, the cache to reload and count from.
#[derive(Clone)]
pub struct AdminApi {
    store: Store,
    reload: ReloadHandle,
    cache: Arc<SecretCache>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi").finish_non_exhaustive()
    }
}

/// Which handler a route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The OpenAPI document.
    OpenApi,
    /// List embed secrets (or credentials, with `?kind=`).
    ListSecrets,
    /// Create an embed secret.
    CreateSecret,
    /// One embed secret.
    GetSecret,
    /// Change an embed secret's metadata.
    UpdateSecret,
    /// Delete an embed secret.
    DeleteSecret,
    /// Deactivate an embed secret.
    DeactivateSecret,
    /// Activate an embed secret.
    ActivateSecret,
    /// An embed secret's change log.
    SecretHistory,
    /// An embed secret's verified uses over 24 hours.
    SecretUsage,
    /// List credentials.
    ListCredentials,
    /// Create a credential.
    CreateCredential,
    /// One credential.
    GetCredential,
    /// Change a credential's metadata.
    UpdateCredential,
    /// Delete a credential.
    DeleteCredential,
    /// Deactivate a credential.
    DeactivateCredential,
    /// Activate a credential.
    ActivateCredential,
    /// A credential's change log.
    CredentialHistory,
    /// Replace a credential's value.
    ReplaceCredentialValue,
    /// The whole change log.
    Audit,
    /// List admin tokens.
    ListTokens,
    /// Create an admin token.
    CreateToken,
    /// Revoke an admin token.
    RevokeToken,
}

/// One API route.
#[derive(Debug)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path under `/api/v1`, with `{id}` for the one parameter.
    pub path: &'static str,
    /// The handler.
    pub op: Op,
    /// The least role allowed; `None`: no token needed.
    pub role: Option<Role>,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// Request body schema (a name in `components.schemas`).
    pub request: Option<&'static str>,
    /// Success status and response schema.
    pub response: (u16, &'static str),
    /// Query parameters: name, description.
    pub query: &'static [(&'static str, &'static str)],
}

#[allow(clippy::too_many_arguments)]
const fn route(
    method: Method,
    path: &'static str,
    op: Op,
    role: Option<Role>,
    summary: &'static str,
    tag: &'static str,
    request: Option<&'static str>,
    response: (u16, &'static str),
    query: &'static [(&'static str, &'static str)],
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        op,
        role,
        summary,
        tag,
        request,
        response,
        query,
    }
}

const V: Option<Role> = Some(Role::Viewer);
const A: Option<Role> = Some(Role::Admin);
const O: Option<Role> = Some(Role::Owner);
const LIST_Q: &[(&str, &str)] = &[
    (
        "search",
        "case-insensitive substring of the name or description",
    ),
    (
        "kind",
        "embed_secret (default for /secrets), credential, or all",
    ),
];
const AUDIT_Q: &[(&str, &str)] = &[
    (
        "kind",
        "embed_secret, credential, master_key or admin_token",
    ),
    ("subject_id", "only entries about this id"),
    ("actor", "only entries by this actor"),
    ("action", "only this action (create, rename, delete, ...)"),
    ("since", "Unix seconds, inclusive"),
    ("until", "Unix seconds, exclusive"),
    ("after", "sequence number to continue after (next_after)"),
    ("limit", "page size, 1-1000 (default 100)"),
];

/// Every route of the API. The dispatcher and the OpenAPI document are
/// built from this table.
pub static ROUTES: &[RouteSpec] = &[
    route(
        Method::GET,
        "/openapi.json",
        Op::OpenApi,
        None,
        "This OpenAPI 3 document",
        "meta",
        None,
        (200, "OpenApi"),
        &[],
    ),
    route(
        Method::GET,
        "/secrets",
        Op::ListSecrets,
        V,
        "List embed secrets (never values)",
        "secrets",
        None,
        (200, "SecretList"),
        LIST_Q,
    ),
    route(
        Method::POST,
        "/secrets",
        Op::CreateSecret,
        A,
        "Create an embed secret; the value is in this response only",
        "secrets",
        Some("NewSecret"),
        (201, "CreatedSecret"),
        &[],
    ),
    route(
        Method::GET,
        "/secrets/{id}",
        Op::GetSecret,
        V,
        "One embed secret (by id, client id or name)",
        "secrets",
        None,
        (200, "Secret"),
        &[],
    ),
    route(
        Method::PATCH,
        "/secrets/{id}",
        Op::UpdateSecret,
        A,
        "Rename, describe, set environment, scopes or expiry",
        "secrets",
        Some("SecretUpdate"),
        (200, "Secret"),
        &[],
    ),
    route(
        Method::DELETE,
        "/secrets/{id}",
        Op::DeleteSecret,
        A,
        "Delete permanently: URLs and sessions signed with it get 403",
        "secrets",
        None,
        (200, "Secret"),
        &[],
    ),
    route(
        Method::POST,
        "/secrets/{id}/deactivate",
        Op::DeactivateSecret,
        A,
        "Deactivate (URLs and sessions signed with it get 403)",
        "secrets",
        None,
        (200, "Secret"),
        &[],
    ),
    route(
        Method::POST,
        "/secrets/{id}/activate",
        Op::ActivateSecret,
        A,
        "Reactivate (422 once expired)",
        "secrets",
        None,
        (200, "Secret"),
        &[],
    ),
    route(
        Method::GET,
        "/secrets/{id}/history",
        Op::SecretHistory,
        V,
        "The secret's change log (also after deletion)",
        "secrets",
        None,
        (200, "History"),
        &[],
    ),
    route(
        Method::GET,
        "/secrets/{id}/usage",
        Op::SecretUsage,
        V,
        "Verified uses over the last 24 hours, per 10 minutes, from this proxy's counters",
        "secrets",
        None,
        (200, "Usage"),
        &[],
    ),
    route(
        Method::GET,
        "/credentials",
        Op::ListCredentials,
        V,
        "List credentials (never values)",
        "credentials",
        None,
        (200, "CredentialList"),
        LIST_Q,
    ),
    route(
        Method::POST,
        "/credentials",
        Op::CreateCredential,
        A,
        "Store a credential; its value is never returned",
        "credentials",
        Some("NewCredential"),
        (201, "Credential"),
        &[],
    ),
    route(
        Method::GET,
        "/credentials/{id}",
        Op::GetCredential,
        V,
        "One credential (by id or name)",
        "credentials",
        None,
        (200, "Credential"),
        &[],
    ),
    route(
        Method::PATCH,
        "/credentials/{id}",
        Op::UpdateCredential,
        A,
        "Change a credential's metadata",
        "credentials",
        Some("CredentialUpdate"),
        (200, "Credential"),
        &[],
    ),
    route(
        Method::DELETE,
        "/credentials/{id}",
        Op::DeleteCredential,
        A,
        "Delete a credential permanently",
        "credentials",
        None,
        (200, "Credential"),
        &[],
    ),
    route(
        Method::POST,
        "/credentials/{id}/deactivate",
        Op::DeactivateCredential,
        A,
        "Deactivate a credential",
        "credentials",
        None,
        (200, "Credential"),
        &[],
    ),
    route(
        Method::POST,
        "/credentials/{id}/activate",
        Op::ActivateCredential,
        A,
        "Reactivate a credential (422 once expired)",
        "credentials",
        None,
        (200, "Credential"),
        &[],
    ),
    route(
        Method::GET,
        "/credentials/{id}/history",
        Op::CredentialHistory,
        V,
        "The credential's change log",
        "credentials",
        None,
        (200, "History"),
        &[],
    ),
    route(
        Method::PUT,
        "/credentials/{id}/value",
        Op::ReplaceCredentialValue,
        A,
        "Replace the value (a new version); never returned",
        "credentials",
        Some("CredentialValue"),
        (200, "Credential"),
        &[],
    ),
    route(
        Method::GET,
        "/audit",
        Op::Audit,
        V,
        "The whole change log, filtered, oldest first, paginated",
        "audit",
        None,
        (200, "AuditPage"),
        AUDIT_Q,
    ),
    route(
        Method::GET,
        "/tokens",
        Op::ListTokens,
        O,
        "List admin tokens (never the tokens)",
        "tokens",
        None,
        (200, "TokenList"),
        &[],
    ),
    route(
        Method::POST,
        "/tokens",
        Op::CreateToken,
        O,
        "Create an admin token; shown in this response only",
        "tokens",
        Some("NewToken"),
        (201, "CreatedToken"),
        &[],
    ),
    route(
        Method::DELETE,
        "/tokens/{id}",
        Op::RevokeToken,
        O,
        "Revoke an admin token (not the last owner token)",
        "tokens",
        None,
        (200, "Token"),
        &[],
    ),
];

/// The API's path prefix.
pub const PREFIX: &str = "/api/v1";

/// The route for `method` and `path` (under [`PREFIX`]) and its `{id}`.
/// `Err(true)` when the path exists with other methods.
fn find_route(method: &Method, path: &str) -> Result<(&'static RouteSpec, Option<String>), bool> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut path_known = false;
    for r in ROUTES {
        let tsegs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut id = None;
        let ok = tsegs.iter().zip(&segs).all(|(t, s)| {
            if *t == "{id}" {
                id = Some(*s);
                !s.is_empty()
            } else {
                t == s
            }
        });
        if !ok {
            continue;
        }
        if r.method == method {
            let id = id.map(percent_decode).transpose().map_err(|_| false)?;
            return Ok((r, id));
        }
        path_known = true;
    }
    Err(path_known)
}

/// One call, as handlers see it.
#[derive(Debug)]
pub struct Call {
    /// Who.
    pub token: Option<AdminToken>,
    /// The `{id}` segment, decoded.
    pub id: String,
    /// Query parameters, decoded.
    pub query: BTreeMap<String, String>,
    /// The request body.
    pub body: Bytes,
    /// Unix seconds.
    pub now: i64,
}

impl Call {
    /// The acting token's name, for the change log.
    pub fn actor(&self) -> String {
        self.token
            .as_ref()
            .map_or_else(|| "admin-api".to_owned(), |t| t.name.clone())
    }

    /// The body as `T` (400 naming the field when it is not).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::invalid("body", "a JSON object is required"));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::from_json(&e))
    }

    /// A query parameter.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// A handler's success: status and JSON body.
pub type Answer = Result<(StatusCode, serde_json::Value), ApiError>;

/// Now, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// JSON of a serialisable value (500 if that fails, which it does not).
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot encode the response: {e}"),
        )
    })
}

impl AdminApi {
    /// The API over `store`, reloading and counting with the proxy's cache.
    pub fn new(store: Store, reload: ReloadHandle, cache: Arc<SecretCache>) -> AdminApi {
        AdminApi {
            store,
            reload,
            cache,
        }
    }

    /// Runs a store call on the blocking pool.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the store call failed",
                )
            })?
            .map_err(ApiError::from)
    }

    /// A store write on the row named by the call's `{id}`, as the caller,
    /// at the call's time, then a cache update: the shape of every update,
    /// delete and (de)activation.
    pub async fn write_row<T: Send + 'static>(
        &self,
        c: &Call,
        f: impl FnOnce(&Store, &Lookup, &str, i64) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (lookup, actor, now) = (Lookup::any(c.id.clone()), c.actor(), c.now);
        let row = self.blocking(move |s| f(s, &lookup, &actor, now)).await?;
        self.changed().await;
        Ok(row)
    }

    /// Makes a change visible to the proxy now (not at the next poll),
    /// applying only the rows changed.
    pub async fn changed(&self) {
        if let Err(e) = self.reload.catch_up().await {
            tracing::warn!(error = %e, "admin API: cache update after a change failed; the poll will retry");
        }
    }

    /// The proxy's secret cache.
    pub fn cache(&self) -> &SecretCache {
        &self.cache
    }

    /// Answers one request under [`PREFIX`].
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().strip_prefix(PREFIX).unwrap_or("");
        let (route, id) = match find_route(&parts.method, path) {
            Ok(found) => found,
            Err(true) => {
                return error_response(
                    &ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        format!("{} is not allowed on this route", parts.method),
                    ),
                    None,
                )
            }
            Err(false) => return error_response(&ApiError::no_route(), None),
        };
        let token = match route.role {
            None => None,
            Some(needed) => match auth::authenticate(self, &parts.headers).await {
                Ok(t) => match auth::require(&t, needed) {
                    Ok(()) => Some(t),
                    Err(e) => return error_response(&e, Some(&t)),
                },
                Err(e) => return error_response(&e, None),
            },
        };
        let query = match parse_query(parts.uri.query().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return error_response(&e, token.as_ref()),
        };
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return error_response(
                    &ApiError::invalid("body", format!("unreadable or over {MAX_BODY} bytes")),
                    token.as_ref(),
                )
            }
        };
        let call = Call {
            token,
            id: id.unwrap_or_default(),
            query,
            body,
            now: now(),
        };
        let result = self.run(route.op, &call).await;
        match result {
            Ok((status, json)) => {
                let mut r = respond(status, json.to_string(), "application/json");
                add_role_headers(&mut r, call.token.as_ref());
                r
            }
            Err(e) => error_response(&e, call.token.as_ref()),
        }
    }

    async fn run(&self, op: Op, c: &Call) -> Answer {
        match op {
            Op::OpenApi => Ok((StatusCode::OK, openapi::document())),
            Op::ListSecrets => secrets::list(self, c).await,
            Op::CreateSecret => secrets::create(self, c).await,
            Op::GetSecret => secrets::get(self, c).await,
            Op::UpdateSecret => secrets::update(self, c).await,
            Op::DeleteSecret => secrets::delete(self, c).await,
            Op::DeactivateSecret => secrets::set_active(self, c, false).await,
            Op::ActivateSecret => secrets::set_active(self, c, true).await,
            Op::SecretHistory => secrets::history(self, c).await,
            Op::SecretUsage => secrets::usage(self, c).await,
            Op::ListCredentials => credentials::list(self, c).await,
            Op::CreateCredential => credentials::create(self, c).await,
            Op::GetCredential => credentials::get(self, c).await,
            Op::UpdateCredential => credentials::update(self, c).await,
            Op::DeleteCredential => credentials::delete(self, c).await,
            Op::DeactivateCredential => credentials::set_active(self, c, false).await,
            Op::ActivateCredential => credentials::set_active(self, c, true).await,
            Op::CredentialHistory => credentials::history(self, c).await,
            Op::ReplaceCredentialValue => credentials::replace_value(self, c).await,
            Op::Audit => audit::list(self, c).await,
            Op::ListTokens => tokens::list(self, c).await,
            Op::CreateToken => tokens::create(self, c).await,
            Op::RevokeToken => tokens::revoke(self, c).await,
        }
    }
}

fn respond(status: StatusCode, body: String, ctype: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The role and name of the calling token, so the console can hide what
/// the role may not do.
fn add_role_headers(r: &mut Response<Full<Bytes>>, token: Option<&AdminToken>) {
    if let Some(t) = token {
        r.headers_mut()
            .insert("embedgate-role", HeaderValue::from_static(t.role.as_str()));
        if let Ok(v) = HeaderValue::from_str(&t.name) {
            r.headers_mut().insert("embedgate-token-name", v);
        }
    }
}

fn error_response(e: &ApiError, token: Option<&AdminToken>) -> Response<Full<Bytes>> {
    let mut r = respond(e.status, e.body(), "application/json");
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"embedgate admin\""),
        );
    }
    add_role_headers(&mut r, token);
    r
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid("query", "bad percent-encoding"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid("query", "not UTF-8"))
}

fn parse_query(q: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for piece in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        out.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Ok(out)
}

/// A time given as Unix seconds or RFC 3339 text.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum TimeInput {
    /// Unix seconds.
    Unix(i64),
    /// RFC 3339.
    Text(String),
}

impl TimeInput {
    /// Unix seconds; `field` names it in the error.
    pub fn resolve(&self, field: &str) -> Result<i64, ApiError> {
        match self {
            TimeInput::Unix(t) => Ok(*t),
            TimeInput::Text(s) => embedgate_store::parse_rfc3339(s)
                .map_err(|_| ApiError::invalid(field, "expected Unix seconds or RFC 3339")),
        }
    }

    /// A PATCH field: absent stays absent, `null` clears, a time resolves.
    pub fn resolve_patch(
        patch: Option<Option<TimeInput>>,
        field: &str,
    ) -> Result<Option<Option<i64>>, ApiError> {
        patch
            .map(|t| t.map(|t| t.resolve(field)).transpose())
            .transpose()
    }
}

/// For PATCH: absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// `active`, `inactive` or `expired`.
pub fn status_text(active: bool, expires_at: Option<i64>, now: i64) -> &'static str {
    if expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if active {
        "active"
    } else {
        "inactive"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve() {
        let (r, id) = find_route(&Method::GET, "/secrets/a%20b/history").expect("route");
        assert_eq!(r.op, Op::SecretHistory);
        assert_eq!(id.as_deref(), Some("a b"));
        assert!(find_route(&Method::PUT, "/secrets").expect_err("405"));
        assert!(!find_route(&Method::GET, "/nope").expect_err("404"));
        assert!(!find_route(&Method::GET, "/secrets/").expect_err("404"));
    }
}
