//! The admin API over real HTTP on loopback, against a real SQLite store
//! and a running proxy: every route, every role, every error status, and
//! the OpenAPI document matching the routes exercised here.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use embedgate_store::{NewAdminToken, Role};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::*;

struct Api {
    addr: SocketAddr,
    called: Mutex<BTreeSet<(String, String)>>,
}

impl Api {
    /// Calls `template` (with `{id}` replaced by `id`) and records the route.
    async fn call(
        &self,
        method: Method,
        template: &str,
        id: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Got {
        let (route, query) = template.split_once('?').unwrap_or((template, ""));
        self.called
            .lock()
            .unwrap()
            .insert((method.as_str().to_ascii_lowercase(), route.to_owned()));
        let mut path = format!("/api/v1{}", route.replace("{id}", id));
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "admin.test");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(full(v.to_string()))
                .unwrap(),
            None => b.body(full("")).unwrap(),
        };
        read(send(self.addr, req).await).await
    }
}

fn token(store: &TestStore, name: &str, role: Role) -> String {
    store
        .store
        .create_admin_token(
            &NewAdminToken {
                name: name.into(),
                role,
            },
            "test",
            now() as i64,
        )
        .unwrap()
        .value
        .as_str()
        .to_owned()
}

fn assert_error(g: &Got, status: StatusCode, code: &str) {
    assert_eq!(g.status, status, "{:?}", String::from_utf8_lossy(&g.body));
    let v = g.json();
    assert_eq!(v["error"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_role_and_error() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let owner = token(&store, "olivia", Role::Owner);
    let admin = token(&store, "adam", Role::Admin);
    let viewer = token(&store, "vera", Role::Viewer);
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let api = Api {
        addr: proxy.admin,
        called: Mutex::default(),
    };
    let (o, a, v) = (
        Some(owner.as_str()),
        Some(admin.as_str()),
        Some(viewer.as_str()),
    );

    // ---- authentication: 401 without, with a malformed and an unknown token
    let g = api.call(Method::GET, "/secrets", "", None, None).await;
    assert_error(&g, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(g.headers.contains_key("www-authenticate"));
    let g = api
        .call(Method::GET, "/secrets", "", Some("nope"), None)
        .await;
    assert_error(&g, StatusCode::UNAUTHORIZED, "unauthorized");
    let forged = format!("egadm_{}", "A".repeat(43));
    let g = api
        .call(Method::GET, "/secrets", "", Some(&forged), None)
        .await;
    assert_error(&g, StatusCode::UNAUTHORIZED, "unauthorized");

    // ---- embed secrets
    let g = api
        .call(Method::POST, "/secrets", "", v, Some(json!({"name": "x"})))
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"name": "analytics", "description": "Sales board", "environment": "production", "scopes": ["/d/"]})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let created = g.json();
    let value = created["value"].as_str().unwrap().to_owned();
    assert_eq!(value.len(), 32);
    let sec = created["secret"].clone();
    let id = sec["id"].as_str().unwrap().to_owned();
    let kid = sec["client_id"].as_str().unwrap().to_owned();
    assert_eq!(sec["status"], "active");
    assert_eq!(sec["owner"], "adam");
    assert_eq!(g.headers["embedgate-role"], "admin");

    // 400 naming the field: store validation, missing field, unknown field, bad time
    let g = api
        .call(Method::POST, "/secrets", "", a, Some(json!({"name": "  "})))
        .await;
    assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(g.json()["field"], "name");
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(g.json()["field"], "name");
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"name": "y", "value": "mine"})),
        )
        .await;
    assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(g.json()["field"], "value");
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"name": "y", "expires_at": "tomorrow"})),
        )
        .await;
    assert_eq!(g.json()["field"], "expires_at");
    // 409 name taken (case-insensitive)
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"name": "ANALYTICS"})),
        )
        .await;
    assert_error(&g, StatusCode::CONFLICT, "name_taken");

    // list, search, kind
    let g = api
        .call(Method::GET, "/secrets?search=sales", "", v, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(g.headers["embedgate-role"], "viewer");
    let g = api
        .call(Method::GET, "/secrets?search=nothing-like-it", "", v, None)
        .await;
    assert_eq!(g.json()["items"].as_array().unwrap().len(), 0);
    let g = api
        .call(Method::GET, "/secrets?kind=bogus", "", v, None)
        .await;
    assert_eq!(g.json()["field"], "kind");
    // the value never comes back
    let g = api.call(Method::GET, "/secrets/{id}", &kid, v, None).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.json()["id"], id.as_str());
    assert!(!String::from_utf8_lossy(&g.body).contains(&value));
    let g = api
        .call(Method::GET, "/secrets/{id}", "sec_missing", v, None)
        .await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");

    // a signed URL verifies, and the usage counter sees it
    let url = sign(&kid, &value, "/d/board", "u1", &[]);
    assert_eq!(
        get(proxy.public, &url, &[("host", HOST)]).await.status,
        StatusCode::OK
    );
    let g = api
        .call(Method::GET, "/secrets/{id}/usage", &id, v, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let u = g.json();
    assert_eq!(u["total"], 1, "{u}");
    assert_eq!(u["buckets"].as_array().unwrap().len(), 144);
    assert_eq!(u["bucket_secs"], 600);
    let g = api
        .call(Method::GET, "/secrets/{id}/usage", "gone", v, None)
        .await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");

    // PATCH: rename, describe; viewer may not
    let g = api
        .call(
            Method::PATCH,
            "/secrets/{id}",
            &id,
            v,
            Some(json!({"name": "z"})),
        )
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(
            Method::PATCH,
            "/secrets/{id}",
            &id,
            a,
            Some(json!({"name": "analytics-v2", "description": "new", "expires_at": null})),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.json()["name"], "analytics-v2");
    let g = api
        .call(
            Method::PATCH,
            "/secrets/{id}",
            &id,
            a,
            Some(json!({"nmae": "typo"})),
        )
        .await;
    assert_eq!(g.json()["field"], "nmae");

    // deactivate → a new signed URL gets 403 from the proxy at once
    let g = api
        .call(Method::POST, "/secrets/{id}/deactivate", &id, v, None)
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(Method::POST, "/secrets/{id}/deactivate", &id, a, None)
        .await;
    assert_eq!(g.json()["status"], "inactive");
    let url = sign(&kid, &value, "/d/board", "u1", &[]);
    let got = get(proxy.public, &url, &[("host", HOST)]).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(got.reason().as_deref(), Some("key_inactive"));
    let g = api
        .call(Method::POST, "/secrets/{id}/activate", &id, a, None)
        .await;
    assert_eq!(g.json()["status"], "active");
    let url = sign(&kid, &value, "/d/board", "u1", &[]);
    assert_eq!(
        get(proxy.public, &url, &[("host", HOST)]).await.status,
        StatusCode::OK
    );

    // 422: an expired secret cannot be reactivated
    let soon = now() as i64 + 2;
    let g = api
        .call(
            Method::POST,
            "/secrets",
            "",
            a,
            Some(json!({"name": "short-lived", "expires_at": soon})),
        )
        .await;
    let short = g.json()["secret"]["id"].as_str().unwrap().to_owned();
    api.call(Method::POST, "/secrets/{id}/deactivate", &short, a, None)
        .await;
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let g = api
        .call(Method::POST, "/secrets/{id}/activate", &short, a, None)
        .await;
    assert_error(
        &g,
        StatusCode::UNPROCESSABLE_ENTITY,
        "expired_cannot_activate",
    );

    // history: every change, with the token's name as the actor
    let g = api
        .call(Method::GET, "/secrets/{id}/history", &id, v, None)
        .await;
    let entries = g.json()["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "deactivate", "activate"]);
    assert!(entries.iter().all(|e| e["actor"] == "adam"));

    // delete → 404 afterwards; the proxy refuses its URLs at once; history stays
    let g = api
        .call(Method::DELETE, "/secrets/{id}", &id, v, None)
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(Method::DELETE, "/secrets/{id}", &id, a, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let g = api.call(Method::GET, "/secrets/{id}", &id, v, None).await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");
    let url = sign(&kid, &value, "/d/board", "u1", &[]);
    assert_eq!(
        get(proxy.public, &url, &[("host", HOST)]).await.status,
        StatusCode::FORBIDDEN
    );
    let g = api
        .call(Method::GET, "/secrets/{id}/history", &id, v, None)
        .await;
    assert_eq!(
        g.json()["entries"].as_array().unwrap().last().unwrap()["action"],
        "delete"
    );
    let g = api
        .call(Method::DELETE, "/secrets/{id}", &id, a, None)
        .await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");

    // ---- credentials: a value goes in, never comes out
    const CRED: &str = "upstream-api-key-0123456789-SECRET";
    const CRED2: &str = "replacement-value-9876543210-SECRET";
    let g = api
        .call(
            Method::POST,
            "/credentials",
            "",
            v,
            Some(json!({"name": "grafana", "value": CRED})),
        )
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(Method::POST, "/credentials", "", a, Some(json!({"name": "grafana", "value": CRED, "token_type": "api_key", "issuer": "grafana.local"})))
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let cid = g.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(g.json()["version"], 1);
    let g = api
        .call(
            Method::POST,
            "/credentials",
            "",
            a,
            Some(json!({"name": "bad", "value": "v", "token_type": "magic"})),
        )
        .await;
    assert_eq!(g.json()["field"], "token_type");
    let g = api
        .call(
            Method::POST,
            "/credentials",
            "",
            a,
            Some(json!({"name": "Grafana", "value": "x"})),
        )
        .await;
    assert_error(&g, StatusCode::CONFLICT, "name_taken");
    let g = api
        .call(Method::GET, "/credentials?search=graf", "", v, None)
        .await;
    assert_eq!(g.json()["items"].as_array().unwrap().len(), 1);
    let g = api
        .call(Method::GET, "/secrets?kind=all", "", v, None)
        .await;
    assert!(g.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "credential"));
    let g = api
        .call(Method::GET, "/credentials/{id}", &cid, v, None)
        .await;
    assert_eq!(g.json()["name"], "grafana");
    let g = api
        .call(
            Method::PATCH,
            "/credentials/{id}",
            &cid,
            a,
            Some(json!({"issuer": "grafana.prod"})),
        )
        .await;
    assert_eq!(g.json()["issuer"], "grafana.prod");
    let g = api
        .call(
            Method::PUT,
            "/credentials/{id}/value",
            &cid,
            v,
            Some(json!({"value": CRED2})),
        )
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(
            Method::PUT,
            "/credentials/{id}/value",
            &cid,
            a,
            Some(json!({"value": CRED2})),
        )
        .await;
    assert_eq!(g.json()["version"], 2);
    assert_eq!(
        store
            .store
            .credential_value("grafana")
            .unwrap()
            .unwrap()
            .as_str(),
        CRED2
    );
    let g = api
        .call(
            Method::PUT,
            "/credentials/{id}/value",
            &cid,
            a,
            Some(json!({})),
        )
        .await;
    assert_eq!(g.json()["field"], "value");
    let g = api
        .call(Method::POST, "/credentials/{id}/deactivate", &cid, a, None)
        .await;
    assert_eq!(g.json()["status"], "inactive");
    let g = api
        .call(Method::POST, "/credentials/{id}/activate", &cid, a, None)
        .await;
    assert_eq!(g.json()["status"], "active");
    let g = api
        .call(Method::GET, "/credentials/{id}/history", &cid, v, None)
        .await;
    let actions: Vec<String> = g.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "set_issuer",
            "replace_value",
            "deactivate",
            "activate"
        ]
    );
    let g = api
        .call(Method::DELETE, "/credentials/{id}", &cid, a, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let g = api
        .call(Method::GET, "/credentials/{id}", &cid, v, None)
        .await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");

    // ---- audit: the whole log, filtered, paginated
    let g = api.call(Method::GET, "/audit?limit=3", "", v, None).await;
    let page = g.json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let after = page["next_after"].as_u64().unwrap();
    let g = api
        .call(
            Method::GET,
            &format!("/audit?limit=1000&after={after}"),
            "",
            v,
            None,
        )
        .await;
    assert_eq!(g.json()["entries"][0]["seq"].as_u64().unwrap(), after + 1);
    let g = api
        .call(
            Method::GET,
            "/audit?kind=credential&actor=adam",
            "",
            v,
            None,
        )
        .await;
    let es = g.json()["entries"].as_array().unwrap().clone();
    assert_eq!(es.len(), 6);
    assert!(es
        .iter()
        .all(|e| e["kind"] == "credential" && e["actor"] == "adam"));
    let g = api
        .call(
            Method::GET,
            "/audit?action=delete&kind=embed_secret",
            "",
            v,
            None,
        )
        .await;
    assert_eq!(g.json()["entries"].as_array().unwrap().len(), 1);
    let g = api.call(Method::GET, "/audit?limit=0", "", v, None).await;
    assert_eq!(g.json()["field"], "limit");
    let g = api
        .call(Method::GET, "/audit?action=explode", "", v, None)
        .await;
    assert_eq!(g.json()["field"], "action");
    let g = api.call(Method::GET, "/audit", "", None, None).await;
    assert_error(&g, StatusCode::UNAUTHORIZED, "unauthorized");

    // ---- tokens: owner only; shown once; revoked tokens stop working
    let g = api.call(Method::GET, "/tokens", "", a, None).await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(
            Method::POST,
            "/tokens",
            "",
            a,
            Some(json!({"name": "ci", "role": "admin"})),
        )
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(
            Method::POST,
            "/tokens",
            "",
            o,
            Some(json!({"name": "ci", "role": "admin"})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let ci = g.json()["value"].as_str().unwrap().to_owned();
    let ci_id = g.json()["token"]["id"].as_str().unwrap().to_owned();
    assert!(ci.starts_with("egadm_"));
    let g = api
        .call(
            Method::POST,
            "/tokens",
            "",
            o,
            Some(json!({"name": "CI", "role": "viewer"})),
        )
        .await;
    assert_error(&g, StatusCode::CONFLICT, "name_taken");
    let g = api
        .call(
            Method::POST,
            "/tokens",
            "",
            o,
            Some(json!({"name": "r", "role": "root"})),
        )
        .await;
    assert_eq!(g.json()["field"], "role");
    let g = api.call(Method::GET, "/secrets", "", Some(&ci), None).await;
    assert_eq!(g.status, StatusCode::OK);
    let g = api.call(Method::GET, "/tokens", "", o, None).await;
    let listed = g.json()["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4);
    assert!(
        !g.body.windows(6).any(|w| w == b"egadm_"),
        "no token in a listing"
    );
    let ci_row = listed.iter().find(|t| t["name"] == "ci").unwrap();
    assert!(ci_row["last_used_at"].as_i64().is_some());
    assert_eq!(ci_row["role"], "admin");
    let g = api
        .call(Method::DELETE, "/tokens/{id}", &ci_id, a, None)
        .await;
    assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
    let g = api
        .call(Method::DELETE, "/tokens/{id}", &ci_id, o, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let g = api.call(Method::GET, "/secrets", "", Some(&ci), None).await;
    assert_error(&g, StatusCode::UNAUTHORIZED, "unauthorized");
    let g = api
        .call(Method::DELETE, "/tokens/{id}", &ci_id, o, None)
        .await;
    assert_error(&g, StatusCode::NOT_FOUND, "not_found");
    let g = api
        .call(Method::DELETE, "/tokens/{id}", "olivia", o, None)
        .await;
    assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(g.json()["field"], "token");
    let g = api
        .call(Method::GET, "/audit?kind=admin_token", "", v, None)
        .await;
    let es = g.json()["entries"].as_array().unwrap().clone();
    assert!(es
        .iter()
        .any(|e| e["action"] == "delete" && e["actor"] == "olivia" && e["subject_name"] == "ci"));

    // ---- unknown routes and methods
    let g = api.call(Method::GET, "/nothing", "", o, None).await;
    assert_error(&g, StatusCode::NOT_FOUND, "no_route");
    api.called
        .lock()
        .unwrap()
        .remove(&("get".into(), "/nothing".into()));
    let g = api.call(Method::PUT, "/secrets", "", o, None).await;
    assert_error(&g, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    api.called
        .lock()
        .unwrap()
        .remove(&("put".into(), "/secrets".into()));

    // ---- the OpenAPI document lists exactly the routes called above
    let g = api.call(Method::GET, "/openapi.json", "", None, None).await;
    assert_eq!(g.status, StatusCode::OK);
    let doc = g.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["responses"].is_object(), "{method} {path}");
            documented.insert((method.clone(), path.clone()));
        }
    }
    let called = api.called.lock().unwrap().clone();
    assert_eq!(documented, called, "documented routes vs. routes exercised");

    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_playground_are_served_with_a_strict_csp() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    for (path, ctype) in [
        ("/admin/", "text/html"),
        ("/admin/app.js", "text/javascript"),
        ("/admin/style.css", "text/css"),
        ("/playground/", "text/html"),
    ] {
        let g = get(proxy.admin, path, &[("host", "admin.test")]).await;
        assert_eq!(g.status, StatusCode::OK, "{path}");
        assert!(
            g.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
        let csp = g.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
    }
    assert_eq!(
        get(proxy.admin, "/admin/nope.js", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // the operational endpoints still answer
    assert_eq!(
        get(proxy.admin, "/healthz", &[]).await.status,
        StatusCode::OK
    );
    // and the public listener does not serve the API or the console
    assert_ne!(
        get(proxy.public, "/admin/", &[("host", HOST)]).await.status,
        StatusCode::OK
    );
    assert_ne!(
        get(proxy.public, "/api/v1/openapi.json", &[("host", HOST)])
            .await
            .status,
        StatusCode::OK
    );
    proxy.stop().await;
}

/// Walks a list by `cursor` until `next_cursor` is null; the names.
async fn walk(api: &Api, route: &str, token: Option<&str>, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if route.contains('?') { '&' } else { '?' };
    for _ in 0..100 {
        let mut q = format!("{route}{sep}limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let g = api.call(Method::GET, &q, "", token, None).await;
        assert_eq!(g.status, StatusCode::OK, "{q}: {:?}", g.json());
        let page = g.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{q}");
        names.extend(items.iter().map(|i| i["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert!(!items.is_empty(), "{q}: an empty page with a next one");
                cursor = Some(c.to_owned());
            }
            None => {
                assert!(page["next_cursor"].is_null(), "{q}");
                return names;
            }
        }
    }
    panic!("{route} never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_times_read_both_ways_405_names_allow_and_owner_changes() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let owner = token(&store, "olivia", Role::Owner);
    let admin = token(&store, "adam", Role::Admin);
    let viewer = token(&store, "vera", Role::Viewer);
    for i in 0..5 {
        store.create_secret(&format!("secret-{i}"), &[]);
    }
    for i in 0..3 {
        store.put_credential(&format!("cred-{i}"), "value-0123456789");
    }
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let api = Api {
        addr: proxy.admin,
        called: Mutex::default(),
    };
    let (o, a, v) = (
        Some(owner.as_str()),
        Some(admin.as_str()),
        Some(viewer.as_str()),
    );

    // ---- every list pages, in name order, each item once
    let secrets: Vec<String> = (0..5).map(|i| format!("secret-{i}")).collect();
    let creds: Vec<String> = (0..3).map(|i| format!("cred-{i}")).collect();
    assert_eq!(walk(&api, "/secrets", v, 2).await, secrets);
    assert_eq!(walk(&api, "/secrets", v, 5).await, secrets);
    assert_eq!(walk(&api, "/secrets?kind=credential", v, 2).await, creds);
    assert_eq!(walk(&api, "/credentials", v, 2).await, creds);
    assert_eq!(
        walk(&api, "/tokens", o, 1).await,
        ["adam", "olivia", "vera"]
    );
    let both: Vec<String> = secrets.iter().chain(&creds).cloned().collect();
    for limit in [1, 3, 5, 8, 100] {
        assert_eq!(
            walk(&api, "/secrets?kind=all", v, limit).await,
            both,
            "limit {limit}"
        );
    }
    assert_eq!(
        walk(&api, "/secrets?search=SECRET-3", v, 1).await,
        ["secret-3"]
    );
    // A page skips nothing when a row before the cursor goes away.
    let g = api.call(Method::GET, "/secrets?limit=2", "", v, None).await;
    let cursor = g.json()["next_cursor"].as_str().unwrap().to_owned();
    let g = api
        .call(Method::DELETE, "/secrets/{id}", "secret-0", a, None)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let g = api
        .call(
            Method::GET,
            &format!("/secrets?limit=10&cursor={cursor}"),
            "",
            v,
            None,
        )
        .await;
    let rest: Vec<String> = g.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest, ["secret-2", "secret-3", "secret-4"]);
    // Bad paging input names the parameter.
    for (q, field) in [
        ("/secrets?limit=0", "limit"),
        ("/secrets?limit=1001", "limit"),
        ("/credentials?limit=x", "limit"),
        ("/tokens?limit=-1", "limit"),
        ("/secrets?cursor=not-a-cursor", "cursor"),
        ("/secrets?kind=all&cursor=zz", "cursor"),
        ("/credentials?cursor=%21%21", "cursor"),
    ] {
        let token = if q.starts_with("/tokens") { o } else { v };
        let g = api.call(Method::GET, q, "", token, None).await;
        assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
        assert_eq!(g.json()["field"], field, "{q}");
    }
    // The default page is 100 items.
    let bulk = store.store.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..120 {
            bulk.create_embed_secret(
                &embedgate_store::NewEmbedSecret {
                    name: format!("bulk-{i:03}"),
                    ..Default::default()
                },
                "test",
                now() as i64,
            )
            .unwrap();
        }
    })
    .await
    .unwrap();
    let g = api.call(Method::GET, "/secrets", "", v, None).await;
    assert_eq!(g.json()["items"].as_array().unwrap().len(), 100);
    assert!(g.json()["next_cursor"].is_string());
    assert_eq!(walk(&api, "/secrets", v, 1000).await.len(), 124);

    // ---- times: RFC 3339 or Unix seconds wherever a time is accepted
    let t = now() as i64;
    let g = api
        .call(
            Method::GET,
            "/audit?since=2026-12-01T00:00:00Z",
            "",
            v,
            None,
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.json());
    let rfc = |secs: i64| embedgate_store::format_rfc3339(secs);
    let all = api
        .call(Method::GET, "/audit?limit=1000", "", v, None)
        .await
        .json()["entries"]
        .as_array()
        .unwrap()
        .len();
    assert!(all > 100);
    for since in [
        format!("{}", t - 3600),
        rfc(t - 3600),
        rfc(t - 3600).replace('Z', "%2B00:00"),
    ] {
        let g = api
            .call(
                Method::GET,
                &format!("/audit?limit=1000&since={since}"),
                "",
                v,
                None,
            )
            .await;
        assert_eq!(g.status, StatusCode::OK, "{since}");
        assert_eq!(
            g.json()["entries"].as_array().unwrap().len(),
            all,
            "{since}"
        );
    }
    for until in [format!("{}", t - 3600), rfc(t - 3600)] {
        let g = api
            .call(Method::GET, &format!("/audit?until={until}"), "", v, None)
            .await;
        assert_eq!(g.json()["entries"].as_array().unwrap().len(), 0, "{until}");
    }
    let g = api
        .call(Method::GET, "/audit?since=next-week", "", v, None)
        .await;
    assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(g.json()["field"], "since");
    let expiry = t + 86_400;
    for (body, path) in [
        (
            json!({"name": "timed-a", "expires_at": rfc(expiry)}),
            "/secrets",
        ),
        (
            json!({"name": "timed-b", "expires_at": expiry.to_string()}),
            "/secrets",
        ),
        (
            json!({"name": "timed-c", "value": "v-0123456789", "expires_at": rfc(expiry)}),
            "/credentials",
        ),
    ] {
        let g = api.call(Method::POST, path, "", a, Some(body)).await;
        assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.json());
        let made = g.json();
        let made = if path == "/secrets" {
            &made["secret"]
        } else {
            &made
        };
        assert_eq!(made["expires_at"], expiry);
    }
    let g = api
        .call(
            Method::PATCH,
            "/credentials/{id}",
            "timed-c",
            a,
            Some(json!({"expires_at": rfc(expiry + 60)})),
        )
        .await;
    assert_eq!(g.json()["expires_at"], expiry + 60);
    let g = api
        .call(
            Method::PUT,
            "/credentials/{id}/value",
            "timed-c",
            a,
            Some(json!({"value": "v-9876543210", "expires_at": rfc(expiry + 120)})),
        )
        .await;
    assert_eq!(g.json()["expires_at"], expiry + 120);

    // ---- 405 names the methods the route has
    for (method, path, allowed) in [
        (Method::PUT, "/api/v1/secrets", vec!["GET", "POST"]),
        (
            Method::POST,
            "/api/v1/secrets/x",
            vec!["GET", "PATCH", "DELETE"],
        ),
        (Method::GET, "/api/v1/credentials/x/value", vec!["PUT"]),
        (Method::DELETE, "/api/v1/audit", vec!["GET"]),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("host", "admin.test")
            .header("authorization", format!("Bearer {owner}"))
            .body(full(""))
            .unwrap();
        let g = read(send(proxy.admin, req).await).await;
        assert_error(&g, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let allow = g.headers["allow"].to_str().unwrap().to_owned();
        let allow: Vec<&str> = allow.split(',').map(str::trim).collect();
        for m in &allowed {
            assert!(allow.contains(m), "{method} {path}: Allow {allow:?}");
        }
        assert!(!allow.contains(&method.as_str()), "{method} {path}");
    }

    // ---- the owner of a secret and of a credential can change, logged
    for (route, id) in [
        ("/secrets/{id}", "secret-1"),
        ("/credentials/{id}", "cred-1"),
    ] {
        let g = api
            .call(
                Method::PATCH,
                route,
                id,
                v,
                Some(json!({"owner": "team-data"})),
            )
            .await;
        assert_error(&g, StatusCode::FORBIDDEN, "forbidden");
        let g = api
            .call(
                Method::PATCH,
                route,
                id,
                a,
                Some(json!({"owner": "team-data"})),
            )
            .await;
        assert_eq!(g.status, StatusCode::OK, "{:?}", g.json());
        assert_eq!(g.json()["owner"], "team-data");
        let g = api
            .call(Method::PATCH, route, id, a, Some(json!({"owner": ""})))
            .await;
        assert_error(&g, StatusCode::BAD_REQUEST, "invalid_input");
        assert_eq!(g.json()["field"], "owner");
        let g = api
            .call(Method::GET, &format!("{route}/history"), id, v, None)
            .await;
        let last = g.json()["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["action"], "set_owner");
        assert_eq!(last["actor"], "adam");
        assert_eq!(last["changes"][0]["field"], "owner");
        assert_eq!(last["changes"][0]["new"], "team-data");
    }
    let g = api
        .call(Method::GET, "/audit?action=set_owner", "", v, None)
        .await;
    assert_eq!(g.json()["entries"].as_array().unwrap().len(), 2);

    proxy.stop().await;
}
