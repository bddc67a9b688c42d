//! API errors: `{"error": "<code>", "message": "...", "field": "..."}` with
//! the status the code implies. Messages never contain a secret value or a
//! token.

use embedgate_store::StoreError;
use http::StatusCode;
use serde::Serialize;

/// One failed API call.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human text (may change).
    pub message: String,
    /// The request field at fault, for `invalid_input`.
    pub field: Option<String>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable code.
    pub error: &'a str,
    /// Human text.
    pub message: &'a str,
    /// The field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl ApiError {
    /// An error with no field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
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
            status: StatusCode::BAD_REQUEST,
            code: "invalid_input",
            message: format!("invalid {field}: {message}"),
            field: Some(field),
        }
    }

    /// 401: no token, or not a valid one.
    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404 for a path the API does not have.
    pub fn no_route() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such API route")
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

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        })
        .unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", self.code))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let (status, code) = match e.code() {
            "not_found" => (StatusCode::NOT_FOUND, "not_found"),
            "name_taken" => (StatusCode::CONFLICT, "name_taken"),
            "expired_cannot_activate" => {
                (StatusCode::UNPROCESSABLE_ENTITY, "expired_cannot_activate")
            }
            "invalid_input" => (StatusCode::BAD_REQUEST, "invalid_input"),
            "storage" | "unavailable" => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
        } else if status.is_server_error() {
            tracing::error!(error = %e, code = e.code(), "admin API: store error");
            "the store cannot serve this request now; see the proxy's log".to_owned()
        } else {
            e.to_string()
        };
        ApiError {
            status,
            code,
            message,
            field,
        }
    }
}

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
}
