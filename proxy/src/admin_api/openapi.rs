//! The API's routes and its OpenAPI 3.1 document, made together: each
//! handler's `#[utoipa::path]` (method, path, parameters, body, answers,
//! role) both routes it (`utoipa_axum::routes!`) and describes it, and
//! the schemas come from the request and response types, so the document
//! cannot list a route the API lacks, miss one it has, or drift from the
//! JSON. Served at `GET /api/v1/openapi.json`; validated against the
//! OpenAPI 3.1 schema by `proxy/tests/admin_openapi.rs`.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method, StatusCode};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, ServerBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, ErrorCode};
use super::{audit, credentials, secrets, tokens, ApiState, PREFIX};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "embedgate admin API",
        description = "Embed secrets, credentials, the change log and admin tokens. Bearer tokens with the roles owner > admin > viewer (`x-required-role` of each operation). Values are returned once (embed secrets, tokens) or never (credentials). Lists come a page at a time (`limit`, `cursor` → `next_cursor`). Times are accepted as Unix seconds or RFC 3339 and answered as Unix seconds. Errors are `{\"error\": <code>, \"message\", \"field\"}` with `error` one of the `ErrorCode` values."
    ),
    // Schemas only parameters refer to (utoipa registers those of
    // bodies and answers by itself).
    components(schemas(ErrorBody, ErrorCode, secrets::ListKind, super::input::TimeInput)),
    modifiers(&Finish),
    tags(
        (name = "secrets", description = "Embed secrets: sign embed URLs; the value is shown once"),
        (name = "credentials", description = "Values the proxy injects upstream; never shown"),
        (name = "audit", description = "The change log"),
        (name = "tokens", description = "Admin tokens (owner only)"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The bearer scheme, the server prefix, the version.
struct Finish;

impl Modify for Finish {
    fn modify(&self, doc: &mut Document) {
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.servers = Some(vec![ServerBuilder::new().url(PREFIX).build()]);
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("an admin token (egadm_…)"))
                        .build(),
                ),
            );
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// Every route of the API, with its document.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(document))
        .routes(routes!(secrets::list, secrets::create))
        .routes(routes!(secrets::get, secrets::update, secrets::delete))
        .routes(routes!(secrets::deactivate))
        .routes(routes!(secrets::activate))
        .routes(routes!(secrets::history))
        .routes(routes!(secrets::usage))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(
            credentials::get,
            credentials::update,
            credentials::delete
        ))
        .routes(routes!(credentials::deactivate))
        .routes(routes!(credentials::activate))
        .routes(routes!(credentials::history))
        .routes(routes!(credentials::replace_value))
        .routes(routes!(audit::list))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
}

/// `operationId` by method and full path (`/api/v1/…`), as axum's
/// `MatchedPath` gives it.
pub fn operations(doc: &Document) -> HashMap<(Method, String), String> {
    let mut out = HashMap::new();
    let Ok(json) = serde_json::to_value(doc) else {
        return out;
    };
    let Some(paths) = json["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(ops) = item.as_object() else {
            continue;
        };
        for (method, op) in ops {
            let (Ok(m), Some(id)) = (
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()),
                op["operationId"].as_str(),
            ) else {
                continue;
            };
            out.insert((m, format!("{PREFIX}{path}")), id.to_owned());
        }
    }
    out
}

/// The document as served (JSON).
pub fn serve_form(doc: &Document) -> bytes::Bytes {
    serde_json::to_vec(doc).map_or_else(|_| bytes::Bytes::new(), bytes::Bytes::from)
}

/// This OpenAPI 3.1 document
#[utoipa::path(get, path = "/openapi.json", tag = "meta", operation_id = "openapi",
    security(()),
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
pub async fn document(State(api): State<ApiState>) -> Response {
    let mut r = (StatusCode::OK, api.document()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_a_role_and_its_error_answers() {
        let (_, doc) = routes().split_for_parts();
        let json = serde_json::to_value(&doc).expect("json");
        assert_eq!(json["openapi"], "3.1.0");
        let ops = operations(&doc);
        assert_eq!(ops.len(), 23, "{ops:?}");
        for (path, item) in json["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("ops") {
                let where_ = format!("{method} {path}");
                if path == "/openapi.json" {
                    continue;
                }
                let role = op["x-required-role"].as_str().expect(&where_);
                assert!(["viewer", "admin", "owner"].contains(&role), "{where_}");
                let responses = op["responses"].as_object().expect(&where_);
                for status in ["401", "403", "503"] {
                    assert!(responses.contains_key(status), "{where_}: {status}");
                }
                assert_eq!(
                    path.contains("{id}"),
                    responses.contains_key("404"),
                    "{where_}"
                );
            }
        }
        let codes = &json["components"]["schemas"]["ErrorCode"]["enum"];
        assert_eq!(
            codes.as_array().map(Vec::len),
            Some(ErrorCode::ALL.len()),
            "{codes}"
        );
    }
}
