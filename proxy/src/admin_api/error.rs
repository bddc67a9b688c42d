//! API errors: `{"error": "<code>", "message": "...", "field": "..."}` with
//! the status the code implies. The codes ([`ErrorCode`]) are the stable
//! API and an enum in the OpenAPI document; messages may change and never
//! contain a secret value or a token. The response sets below
//! ([`AuthErrors`], [`NotFound`], ...) put the errors an operation can
//! answer into its OpenAPI entry.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use embedgate_store::StoreError;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::openapi::response::{Response as DocResponse, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};

/// The stable machine-readable code of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 401: no bearer token, or an unknown or revoked one.
    Unauthorized,
    /// 403: the token's role may not do this.
    Forbidden,
    /// 400: a field of the request is wrong; `field` names it.
    InvalidInput,
    /// 404: no secret, credential or token has this id or name.
    NotFound,
    /// 409: the name is taken (names are unique, ignoring case).
    NameTaken,
    /// 422: an expired secret or credential cannot be reactivated.
    ExpiredCannotActivate,
    /// 404: the API has no such route.
    NoRoute,
    /// 405: the route exists, not with this method; `Allow` lists those
    /// it has.
    MethodNotAllowed,
    /// 503: the store (database) cannot be reached or cannot serve now.
    StoreUnavailable,
    /// 500: a bug; see the proxy's log.
    Internal,
}

impl ErrorCode {
    /// Every code, as the API sends them.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::InvalidInput,
        ErrorCode::NotFound,
        ErrorCode::NameTaken,
        ErrorCode::ExpiredCannotActivate,
        ErrorCode::NoRoute,
        ErrorCode::MethodNotAllowed,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
    ];

    /// The status this code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound | ErrorCode::NoRoute => StatusCode::NOT_FOUND,
            ErrorCode::NameTaken => StatusCode::CONFLICT,
            ErrorCode::ExpiredCannotActivate => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable code.
    pub error: ErrorCode,
    /// Human text (may change).
    pub message: String,
    /// The request field at fault (`invalid_input` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One failed API call.
#[derive(Debug)]
pub struct ApiError {
    /// Stable code; it implies the status.
    pub code: ErrorCode,
    /// Human text (may change).
    pub message: String,
    /// The request field at fault, for `invalid_input`.
    pub field: Option<String>,
}

impl ApiError {
    /// An error with no field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 400 `invalid_input` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        let message = message.into();
        ApiError {
            code: ErrorCode::InvalidInput,
            message: format!("invalid {field}: {message}"),
            field: Some(field),
        }
    }

    /// 401: no token, or not a valid one.
    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    /// 500, for what cannot happen.
    pub fn internal(message: &str) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }

    /// A request body that is not the JSON expected, naming the field when
    /// serde names one (`missing field `name``, `unknown field `x``).
    pub fn from_json(e: &serde_json::Error) -> ApiError {
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.contains("field `"))
            .unwrap_or("body")
            .to_owned();
        // serde's wording, minus the position (no request data is echoed
        // except field names and types).
        let reason = text.split(" at line ").next().unwrap_or(&text).to_owned();
        ApiError::invalid(field, reason)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.code,
            message: self.message,
            field: self.field,
        };
        let mut r = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"embedgate admin\""),
            );
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = match e.code() {
            "not_found" => ErrorCode::NotFound,
            "name_taken" => ErrorCode::NameTaken,
            "expired_cannot_activate" => ErrorCode::ExpiredCannotActivate,
            "invalid_input" => ErrorCode::InvalidInput,
            "storage" | "unavailable" => ErrorCode::StoreUnavailable,
            _ => ErrorCode::Internal,
        };
        let field = match &e {
            StoreError::InvalidInput { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        let message = if e.code() == "unavailable" {
            tracing::warn!(code = e.code(), "admin API: the store is unreachable");
            "the store (database) is unreachable: no change can be made until it is back; \
             the proxies keep verifying from their caches"
                .to_owned()
        } else if code.status().is_server_error() {
            tracing::error!(error = %e, code = e.code(), "admin API: store error");
            "the store cannot serve this request now; see the proxy's log".to_owned()
        } else {
            e.to_string()
        };
        ApiError {
            code,
            message,
            field,
        }
    }
}

/// The OpenAPI entries of error answers: `(status, description)` each
/// with the [`ErrorBody`] schema.
fn error_responses(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<DocResponse>> {
    list.iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Error")))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $(($status:literal, $text:literal)),+ $(,)?) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
                error_responses(&[$(($status, $text)),+])
            }
        }
    };
}

error_set!(
    /// What any operation that needs a token can answer.
    AuthErrors:
    (401, "`unauthorized`: no token, or an unknown or revoked one"),
    (403, "`forbidden`: the token's role may not do this"),
    (503, "`store_unavailable`: the store is unreachable"),
);
error_set!(
    /// A field of the request (path, query or body) is wrong.
    InvalidInput: (400, "`invalid_input`: `field` names what is wrong"),
);
error_set!(
    /// The `{id}` names nothing.
    NotFound: (404, "`not_found`: no such id or name"),
);
error_set!(
    /// Names are unique.
    NameTaken: (409, "`name_taken`: the name is taken (ignoring case)"),
);
error_set!(
    /// Expired things stay inactive.
    Expired: (422, "`expired_cannot_activate`: expired; cannot be reactivated"),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_of_a_json_error() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            name: String,
        }
        let e = serde_json::from_str::<T>("{}").expect_err("missing");
        assert_eq!(ApiError::from_json(&e).field.as_deref(), Some("name"));
        let e = serde_json::from_str::<T>(r#"{"name":"a","nme":1}"#).expect_err("unknown");
        assert_eq!(ApiError::from_json(&e).field.as_deref(), Some("nme"));
        let e = serde_json::from_str::<T>("[").expect_err("syntax");
        assert_eq!(ApiError::from_json(&e).field.as_deref(), Some("body"));
    }

    #[test]
    fn an_unreachable_store_is_503() {
        let e = ApiError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, ErrorCode::StoreUnavailable);
        assert!(!e.message.contains("refused"), "{}", e.message);
    }

    #[test]
    fn every_code_serialises_as_its_snake_case_name() {
        for code in ErrorCode::ALL {
            let text = serde_json::to_value(code).expect("json");
            let text = text.as_str().expect("string");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
