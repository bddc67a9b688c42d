//! `Authorization: Bearer <token>` and roles. The token is looked up by
//! its hash (compared in constant time, in the store); a missing or unknown
//! token is 401, a role that may not is 403.

use embedgate_store::{AdminToken, Role};
use http::{header, HeaderMap, StatusCode};

use super::error::ApiError;
use super::AdminApi;

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
pub async fn authenticate(api: &AdminApi, headers: &HeaderMap) -> Result<AdminToken, ApiError> {
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
pub fn require(token: &AdminToken, needed: Role) -> Result<(), ApiError> {
    if token.role.allows(needed) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
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
