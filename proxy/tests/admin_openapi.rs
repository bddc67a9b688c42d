//! The OpenAPI document of the admin API, as a running proxy serves it,
//! checked with a real validator: the document against the OpenAPI 3.1
//! schema (`tests/data/openapi-3.1-schema.json`, the OpenAPI Initiative's
//! `https://spec.openapis.org/oas/3.1/schema/2022-10-07`), every Schema
//! Object in it against the JSON Schema 2020-12 meta-schema, and every
//! `$ref` resolved. Then what users of the document rely on: every route
//! and every error code is listed, and the console finds `owner` among
//! the fields a PATCH takes.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use http::StatusCode;
use serde_json::Value;
use support::*;

const OAS_3_1_SCHEMA: &str = include_str!("data/openapi-3.1-schema.json");

/// Every error message of validating `doc` as OpenAPI 3.1 (empty: valid).
fn openapi_errors(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(OAS_3_1_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let mut errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    // The 3.1 schema takes Schema Objects as any object: check each
    // against JSON Schema 2020-12, the dialect of OpenAPI 3.1.
    for (at, schema) in schema_objects(doc) {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            errors.push(format!("schema at {at}: {e}"));
        }
    }
    for reference in refs(doc) {
        let pointer = reference.strip_prefix('#').unwrap_or("not a local ref");
        if doc.pointer(pointer).is_none() {
            errors.push(format!("$ref {reference} resolves to nothing"));
        }
    }
    errors
}

/// The Schema Objects of a document, with where they are.
fn schema_objects(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            out.push((format!("components.schemas.{name}"), s));
        }
    }
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let at = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                out.push((format!("{at} parameter {}", p["name"]), &p["schema"]));
            }
            for media in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                out.push((format!("{at} request {}", media.0), &media.1["schema"]));
            }
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                for media in r["content"].as_object().into_iter().flatten() {
                    out.push((format!("{at} {status} {}", media.0), &media.1["schema"]));
                }
            }
        }
    }
    out
}

fn refs(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => out.extend(refs(v)),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| out.extend(refs(v))),
        _ => {}
    }
    out
}

/// `$ref` followed, once.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap(),
        None => v,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_valid_openapi_3_1_and_lists_every_route_and_error() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let got = get(proxy.admin, "/api/v1/openapi.json", &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers["content-type"], "application/json");
    let doc = got.json();
    proxy.stop().await;

    assert_eq!(doc["openapi"], "3.1.0");
    let errors = openapi_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");

    // The validator is no formality: it refuses a broken document.
    let mut broken = doc.clone();
    broken["paths"]["/secrets"]["get"]["responses"] = Value::String("200".into());
    broken.as_object_mut().unwrap().remove("info");
    let errors = openapi_errors(&broken);
    assert!(errors.len() >= 2, "{errors:#?}");
    let mut broken = doc.clone();
    broken["components"]["schemas"]["Secret"]["type"] = Value::String("record".into());
    broken["paths"]["/tokens"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"] = Value::String("#/components/schemas/Nothing".into());
    let errors = openapi_errors(&broken);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("components.schemas.Secret"))
            && errors.iter().any(|e| e.contains("Nothing")),
        "{errors:#?}"
    );

    // Every route, under the `/api/v1` server.
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let mut routes = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            routes.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "operationId of {method} {path} is not unique"
            );
        }
    }
    let expected: BTreeSet<String> = [
        "GET /openapi.json",
        "GET /secrets",
        "POST /secrets",
        "GET /secrets/{id}",
        "PATCH /secrets/{id}",
        "DELETE /secrets/{id}",
        "POST /secrets/{id}/deactivate",
        "POST /secrets/{id}/activate",
        "GET /secrets/{id}/history",
        "GET /secrets/{id}/usage",
        "GET /credentials",
        "POST /credentials",
        "GET /credentials/{id}",
        "PATCH /credentials/{id}",
        "DELETE /credentials/{id}",
        "POST /credentials/{id}/deactivate",
        "POST /credentials/{id}/activate",
        "GET /credentials/{id}/history",
        "PUT /credentials/{id}/value",
        "GET /audit",
        "GET /tokens",
        "POST /tokens",
        "DELETE /tokens/{id}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(routes, expected);

    // Every error code, as an enum the error body refers to.
    let error = resolve(&doc, &doc["components"]["schemas"]["Error"]);
    let code = resolve(&doc, &error["properties"]["error"]);
    let codes: BTreeSet<&str> = code["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "unauthorized",
        "forbidden",
        "invalid_input",
        "not_found",
        "name_taken",
        "expired_cannot_activate",
        "no_route",
        "method_not_allowed",
        "store_unavailable",
        "internal",
    ]
    .into_iter()
    .collect();
    assert_eq!(codes, expected);
    // Each error answer of an operation is that body.
    let unauthorized = &doc["paths"]["/secrets/{id}"]["patch"]["responses"]["401"];
    assert_eq!(
        unauthorized["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );

    // The console offers the fields a PATCH documents (www/admin/api.js
    // `patchFields`): owner among them.
    for path in ["/secrets/{id}", "/credentials/{id}"] {
        let body =
            &doc["paths"][path]["patch"]["requestBody"]["content"]["application/json"]["schema"];
        let fields = resolve(&doc, body)["properties"].as_object().unwrap();
        for f in ["name", "description", "scopes", "expires_at", "owner"] {
            assert!(fields.contains_key(f), "{path}: {f}");
        }
    }
    // A role per operation, for tools and the docs.
    assert_eq!(doc["paths"]["/tokens"]["get"]["x-required-role"], "owner");
    assert_eq!(doc["paths"]["/secrets"]["post"]["x-required-role"], "admin");
}
