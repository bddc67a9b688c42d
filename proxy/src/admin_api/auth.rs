//! `Authorization: Bearer <token>` and roles. A handler states the least
//! role it needs by taking a [`Caller`] of [`Viewer`], [`Admin`] or
//! [`Owner`]: the token is looked up by its hash (compared in constant
//! time, in the store); a missing or unknown token is 401, a role that
//! may not is 403. The token found is noted in the request's
//! [`CallerSlot`], so every answer after authentication (403 included)
//! carries `Embedgate-Role` and `Embedgate-Token-Name`, which the console
//! uses to hide what the role may not do.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::FromRequestParts;
use embedgate_store::{AdminToken, Role};
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue};

use super::error::{ApiError, ErrorCode};
use super::ApiState;

/// The least role an operation needs.
pub trait Needs: Send + Sync + 'static {
    /// The role.
    const ROLE: Role;
}

/// Read metadata and the change log.
#[derive(Debug)]
pub struct Viewer;
/// Also change secrets and credentials.
#[derive(Debug)]
pub struct Admin;
/// Also admin tokens.
#[derive(Debug)]
pub struct Owner;

impl Needs for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl Needs for Admin {
    const ROLE: Role = Role::Admin;
}
impl Needs for Owner {
    const ROLE: Role = Role::Owner;
}

/// The authenticated token of a request whose role allows `R`.
#[derive(Debug)]
pub struct Caller<R> {
    /// The token (never its value).
    pub token: AdminToken,
    role: PhantomData<R>,
}

impl<R> Caller<R> {
    /// The name the change log records as the actor.
    pub fn actor(&self) -> String {
        self.token.name.clone()
    }
}

/// Where the authenticated token's role and name are noted for the
/// response headers (see [`CallerSlot::add_headers`]).
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<Mutex<Option<(Role, String)>>>);

impl CallerSlot {
    fn set(&self, token: &AdminToken) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((token.role, token.name.clone()));
    }

    /// Adds the role and name of the token the request authenticated as,
    /// if it did.
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        let Some((role, name)) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        headers.insert("embedgate-role", HeaderValue::from_static(role.as_str()));
        if let Ok(v) = HeaderValue::from_str(&name) {
            headers.insert("embedgate-token-name", v);
        }
    }
}

impl<R: Needs> FromRequestParts<ApiState> for Caller<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &ApiState) -> Result<Self, ApiError> {
        let token = authenticate(api, &parts.headers).await?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            slot.set(&token);
        }
        require(&token, R::ROLE)?;
        Ok(Caller {
            token,
            role: PhantomData,
        })
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The token the request authenticates as.
async fn authenticate(api: &ApiState, headers: &HeaderMap) -> Result<AdminToken, ApiError> {
    let Some(presented) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send Authorization: Bearer <admin token>",
        ));
    };
    let presented = zeroize::Zeroizing::new(presented.to_owned());
    let now = super::now();
    let found = api
        .blocking(move |s| s.authenticate_admin_token(&presented, now))
        .await?;
    found.ok_or_else(|| ApiError::unauthorized("unknown or revoked admin token"))
}

/// 403 unless `token`'s role allows `needed`.
fn require(token: &AdminToken, needed: Role) -> Result<(), ApiError> {
    if token.role.allows(needed) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "this needs the {needed} role; the token {:?} is {}",
                token.name, token.role
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().expect("hv"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().expect("hv"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("hv"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().expect("hv"));
        assert_eq!(bearer(&h), None);
    }
}
