//! What a request brings, read with the API's own errors: a JSON body
//! ([`JsonBody`], at most [`MAX_BODY`] bytes), query parameters
//! ([`QueryParams`], decoded by axum's `Query`, that is
//! `form_urlencoded`), the `{id}` of a path ([`Id`], percent-decoded by
//! axum), and times, accepted as Unix seconds or RFC 3339 wherever a time
//! is ([`TimeInput`], [`parse_time`]). A malformed input is a 400
//! `invalid_input` naming the field.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;

/// Largest request body accepted (credential values are at most 16 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON request body as `T`; 400 naming the field when it is not.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::invalid("body", format!("unreadable or over {MAX_BODY} bytes"))
            })?;
        if bytes.is_empty() {
            return Err(ApiError::invalid("body", "a JSON object is required"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::from_json(&e))
    }
}

/// Query parameters as `T` (whose fields are all optional text, checked
/// by the handler so an error can name the parameter).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(q)| QueryParams(q))
            .map_err(|e| ApiError::invalid("query", e.body_text()))
    }
}

/// The `{id}` of the path, decoded: an id, a client id or a name.
#[derive(Debug)]
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("id", "not valid percent-encoded UTF-8"))?;
        Ok(Id(id))
    }
}

/// A time: Unix seconds, or RFC 3339 text (`2026-12-01T00:00:00Z`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimeInput {
    /// Unix seconds.
    Unix(i64),
    /// RFC 3339, or Unix seconds as text.
    #[schema(format = DateTime)]
    Text(String),
}

impl TimeInput {
    /// Unix seconds; `field` names it in the error.
    pub fn resolve(&self, field: &str) -> Result<i64, ApiError> {
        match self {
            TimeInput::Unix(t) => Ok(*t),
            TimeInput::Text(s) => parse_time(field, s),
        }
    }

    /// An optional time (create bodies).
    pub fn resolve_opt(t: Option<&TimeInput>, field: &str) -> Result<Option<i64>, ApiError> {
        t.map(|t| t.resolve(field)).transpose()
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

/// A time given as text: Unix seconds or RFC 3339. In a query string an
/// unencoded `+` of an offset arrives as a space; it is read as the `+`
/// it was.
pub fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    embedgate_store::parse_rfc3339(t)
        .or_else(|e| match t.rfind(' ') {
            Some(i) if i > 10 => {
                embedgate_store::parse_rfc3339(&format!("{}+{}", &t[..i], &t[i + 1..]))
            }
            _ => Err(e),
        })
        .map_err(|_| {
            ApiError::invalid(
                field,
                "expected Unix seconds or RFC 3339 (2026-12-01T00:00:00Z)",
            )
        })
}

/// An optional integer query parameter.
pub fn int_param(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|v| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(field, "expected an integer"))
    })
    .transpose()
}

/// For PATCH: absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_seconds_or_rfc_3339() {
        assert_eq!(parse_time("t", "1700000000").ok(), Some(1_700_000_000));
        assert_eq!(
            parse_time("t", "2026-12-01T00:00:00Z").ok(),
            Some(1_796_083_200)
        );
        assert_eq!(
            parse_time("t", "2026-12-01T02:00:00+02:00").ok(),
            Some(1_796_083_200)
        );
        // `+` decoded as a space from a query string
        assert_eq!(
            parse_time("t", "2026-12-01T02:00:00 02:00").ok(),
            Some(1_796_083_200)
        );
        let e = parse_time("since", "tomorrow").expect_err("not a time");
        assert_eq!(e.field.as_deref(), Some("since"));
        assert_eq!(
            TimeInput::Text("1700000000".into()).resolve("x").ok(),
            Some(1_700_000_000)
        );
    }
}
