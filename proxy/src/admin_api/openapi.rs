//! The OpenAPI 3 document of the API, built from [`super::ROUTES`] (paths,
//! methods, roles, parameters, statuses) plus the body schemas below, so
//! the document cannot list a route the dispatcher lacks or miss one it
//! has. `proxy/tests/admin_api.rs` checks it against the routes the tests
//! actually call.

use serde_json::{json, Map, Value};

use super::ROUTES;

fn string() -> Value {
    json!({ "type": "string" })
}
fn int() -> Value {
    json!({ "type": "integer", "format": "int64" })
}
fn opt_int() -> Value {
    json!({ "type": ["integer", "null"], "format": "int64" })
}
fn time_in() -> Value {
    json!({ "oneOf": [{ "type": "integer", "format": "int64" }, { "type": "string", "format": "date-time" }, { "type": "null" }],
            "description": "Unix seconds or RFC 3339; null clears it (PATCH)" })
}
fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}
fn object(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn schemas() -> Value {
    let status = json!({ "type": "string", "enum": ["active", "inactive", "expired"] });
    json!({
        "Error": object(json!({ "error": string(), "message": string(), "field": string() }), &["error", "message"]),
        "OpenApi": { "type": "object" },
        "Secret": object(json!({
            "id": string(), "client_id": string(), "name": string(), "description": string(),
            "environment": string(), "scopes": strings(), "owner": string(),
            "created_at": int(), "updated_at": int(), "last_used_at": opt_int(), "expires_at": opt_int(),
            "active": { "type": "boolean" }, "status": status.clone(), "fingerprint": string(),
            "master_key_id": string(), "kind": { "type": "string", "enum": ["embed_secret"] }
        }), &["id", "client_id", "name", "status"]),
        "SecretList": object(json!({ "items": { "type": "array", "items": { "oneOf": [r("Secret"), r("Credential")] } } }), &["items"]),
        "NewSecret": object(json!({
            "name": string(), "description": string(), "environment": string(),
            "scopes": strings(), "expires_at": time_in()
        }), &["name"]),
        "CreatedSecret": object(json!({ "secret": r("Secret"), "value": { "type": "string", "description": "shown this once" } }), &["secret", "value"]),
        "SecretUpdate": object(json!({
            "name": string(), "description": string(), "environment": string(),
            "scopes": strings(), "expires_at": time_in()
        }), &[]),
        "Credential": object(json!({
            "id": string(), "name": string(), "description": string(), "token_type": string(),
            "issuer": string(), "scopes": strings(), "owner": string(),
            "created_at": int(), "updated_at": int(), "last_used_at": opt_int(), "expires_at": opt_int(),
            "active": { "type": "boolean" }, "status": status, "version": int(), "fingerprint": string(),
            "master_key_id": string(), "kind": { "type": "string", "enum": ["credential"] }
        }), &["id", "name", "status", "version"]),
        "CredentialList": object(json!({ "items": { "type": "array", "items": r("Credential") } }), &["items"]),
        "NewCredential": object(json!({
            "name": string(), "value": { "type": "string", "writeOnly": true }, "description": string(),
            "token_type": { "type": "string", "enum": ["api_key", "access_token", "refresh_token", "client_token", "request_token", "other"] },
            "issuer": string(), "scopes": strings(), "expires_at": time_in()
        }), &["name", "value"]),
        "CredentialUpdate": object(json!({
            "name": string(), "description": string(), "token_type": string(),
            "issuer": string(), "scopes": strings(), "expires_at": time_in()
        }), &[]),
        "CredentialValue": object(json!({ "value": { "type": "string", "writeOnly": true }, "expires_at": time_in() }), &["value"]),
        "ChangeEntry": object(json!({
            "seq": int(), "at": int(), "actor": string(), "action": string(), "kind": string(),
            "subject_id": string(), "subject_name": string(),
            "changes": { "type": "array", "items": object(json!({ "field": string(), "old": { "type": ["string", "null"] }, "new": { "type": ["string", "null"] } }), &["field"]) }
        }), &["seq", "at", "actor", "action", "kind", "subject_id", "subject_name", "changes"]),
        "History": object(json!({ "entries": { "type": "array", "items": r("ChangeEntry") } }), &["entries"]),
        "AuditPage": object(json!({ "entries": { "type": "array", "items": r("ChangeEntry") }, "next_after": opt_int() }), &["entries", "next_after"]),
        "Usage": object(json!({
            "id": string(), "client_id": string(), "bucket_secs": int(), "total": int(),
            "buckets": { "type": "array", "items": object(json!({ "start": int(), "count": int() }), &["start", "count"]) }
        }), &["client_id", "bucket_secs", "total", "buckets"]),
        "Token": object(json!({
            "id": string(), "name": string(),
            "role": { "type": "string", "enum": ["owner", "admin", "viewer"] },
            "created_by": string(), "created_at": int(), "last_used_at": opt_int()
        }), &["id", "name", "role", "created_at"]),
        "TokenList": object(json!({ "items": { "type": "array", "items": r("Token") } }), &["items"]),
        "NewToken": object(json!({ "name": string(), "role": { "type": "string", "enum": ["owner", "admin", "viewer"] } }), &["name", "role"]),
        "CreatedToken": object(json!({ "token": r("Token"), "value": { "type": "string", "description": "shown this once" } }), &["token", "value"]),
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": r("Error") } } })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert("tags".into(), json!([route.tag]));
        op.insert("operationId".into(), json!(format!("{:?}", route.op)));
        let mut params: Vec<Value> = Vec::new();
        if route.path.contains("{id}") {
            params.push(
                json!({ "name": "id", "in": "path", "required": true, "schema": string(),
                                "description": "id, or (for secrets) client id, or name" }),
            );
        }
        for (name, description) in route.query {
            params.push(json!({ "name": name, "in": "query", "required": false, "schema": string(), "description": description }));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(req) = route.request {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": r(req) } } }),
            );
        }
        let mut responses = Map::new();
        let (status, schema) = route.response;
        responses.insert(
            status.to_string(),
            json!({ "description": "success", "content": { "application/json": { "schema": r(schema) } } }),
        );
        match route.role {
            None => {
                op.insert("security".into(), json!([]));
            }
            Some(role) => {
                op.insert("x-required-role".into(), json!(role.as_str()));
                responses.insert(
                    "401".into(),
                    error_response("no token, or an unknown or revoked one"),
                );
                responses.insert(
                    "403".into(),
                    error_response(&format!("needs the {role} role")),
                );
                responses.insert("503".into(), error_response("the store is unavailable"));
            }
        }
        if route.request.is_some() || !route.query.is_empty() {
            responses.insert(
                "400".into(),
                error_response("invalid input; `field` names it"),
            );
        }
        if route.path.contains("{id}") {
            responses.insert("404".into(), error_response("no such id or name"));
        }
        if matches!(
            route.request,
            Some("NewSecret" | "SecretUpdate" | "NewCredential" | "CredentialUpdate" | "NewToken")
        ) {
            responses.insert("409".into(), error_response("the name is taken"));
        }
        if route.path.ends_with("/activate") {
            responses.insert(
                "422".into(),
                error_response("expired: cannot be reactivated"),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(
                route.method.as_str().to_ascii_lowercase(),
                Value::Object(op),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "embedgate admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Embed secrets, credentials, the change log and admin tokens. Bearer tokens with the roles owner > admin > viewer. Values are returned once (embed secrets, tokens) or never (credentials)."
        },
        "servers": [{ "url": super::PREFIX }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_exists() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
        assert_eq!(
            doc["paths"]
                .as_object()
                .expect("paths")
                .values()
                .map(|p| p.as_object().expect("ops").len())
                .sum::<usize>(),
            ROUTES.len()
        );
    }
}
