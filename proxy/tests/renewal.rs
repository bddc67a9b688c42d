//! The embed SDK's session paths (`/.embedgate/open`, `renew`, `watch`)
//! and the refusal page of a navigation, over real HTTP: the proxy
//! in-process, a real backend, a real SQLite store.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use embedgate_core::{SignRequest, Signer};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use support::*;

const APP: &str = "https://app.example.com";
const NAV: [(&str, &str); 2] = [("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "iframe")];

struct Env {
    store: TestStore,
    backend: Backend,
    proxy: Proxy,
}

async fn env(extra: &str) -> Env {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let proxy = Proxy::start(&config_toml(&store, &backend, extra)).await;
    Env {
        store,
        backend,
        proxy,
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/.embedgate/<endpoint>?origin=…&path=…`, unsigned.
fn target(endpoint: &str, origin: &str, path: &str) -> String {
    format!(
        "/.embedgate/{endpoint}?origin={}&path={}",
        enc(origin),
        enc(path)
    )
}

/// The same, signed (EG1) for `sub`.
fn signed(kid: &str, secret: &str, endpoint: &str, path: &str, sub: &str) -> String {
    sign(
        kid,
        secret,
        &target(endpoint, APP, path),
        sub,
        &[("tenant", "acme")],
    )
}

/// The same as an EGJ1 token.
fn signed_jwt(kid: &str, secret: &str, endpoint: &str, path: &str, sub: &str) -> String {
    let url = Signer::new(kid, secret.as_bytes())
        .unwrap()
        .sign_jwt(&SignRequest {
            url: &format!("https://{HOST}{}", target(endpoint, APP, path)),
            sub,
            exp: now() + 300,
            nonce: &nonce(),
            session: None,
            attrs: &[("tenant", "acme")],
        })
        .unwrap();
    url.strip_prefix(&format!("https://{HOST}"))
        .unwrap()
        .to_owned()
}

fn header(got: &Got, name: &str) -> String {
    got.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn body(got: &Got) -> String {
    String::from_utf8_lossy(&got.body).into_owned()
}

/// The inline script of a page and the policy's hash of it.
fn assert_script_allowed_by_hash(got: &Got) {
    let html = body(got);
    let script = html
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the page has a script");
    let hash = STANDARD.encode(Sha256::digest(script.as_bytes()));
    let csp = header(got, "content-security-policy");
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(csp.contains("base-uri 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}

#[tokio::test]
async fn open_sets_the_cookie_and_answers_the_session_page() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();

    let url = signed(&kid, &secret, "open", "/d/sales?orgId=1", "user-42");
    let started = now();
    let got = get(e.proxy.public, &url, &NAV).await;
    assert_eq!(got.status, StatusCode::OK, "{}", body(&got));
    assert_eq!(header(&got, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&got, "cache-control"), "no-store");
    assert_eq!(header(&got, "referrer-policy"), "no-referrer");
    assert_eq!(header(&got, "x-content-type-options"), "nosniff");
    let csp = header(&got, "content-security-policy");
    assert!(
        csp.ends_with(&format!("; connect-src 'self'; frame-ancestors {APP}")),
        "{csp}"
    );
    assert_script_allowed_by_hash(&got);
    let html = body(&got);
    assert!(html.contains(&format!("data-origin=\"{APP}\"")), "{html}");
    assert!(html.contains("data-path=\"/d/sales?orgId=1\""), "{html}");
    assert!(
        html.contains("data-watch=\"/.embedgate/watch?path=%2Fd%2Fsales\""),
        "{html}"
    );
    // The default session length (3600 s), as seen by the page.
    let at: u64 = html
        .split("data-expires-at=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("data-expires-at");
    assert!((started + 3600..=now() + 3600).contains(&at), "{at}");
    assert!(html.contains("data-expires-in=\"3600\"") || html.contains("data-expires-in=\"3599\""));
    assert_eq!(
        e.backend.seen_count(),
        0,
        "nothing goes upstream for a session page"
    );

    // The cookie opens the dashboard as the signed user.
    let cookie = got.cookie().expect("a session cookie");
    let dash = get(e.proxy.public, "/d/sales?orgId=1", &[("cookie", &cookie)]).await;
    assert_eq!(dash.status, StatusCode::OK);
    assert_eq!(
        dash.backend_header("x-embed-user"),
        Some(vec!["user-42".to_owned()])
    );
    assert_eq!(
        dash.backend_header("x-embed-attr-tenant"),
        Some(vec!["acme".to_owned()])
    );
    assert_eq!(dash.backend_header("x-embed-key"), Some(vec![kid.clone()]));

    // EGJ1 opens the same way.
    let url = signed_jwt(&kid, &secret, "renew", "/d/sales", "user-42");
    assert!(url.starts_with("/.embedgate/renew?eg_jwt="), "{url}");
    let got = get(e.proxy.public, &url, &NAV).await;
    assert_eq!(got.status, StatusCode::OK, "{}", body(&got));
    assert!(body(&got).contains("data-path=\"/d/sales\""));
    e.proxy.stop().await;
}

#[tokio::test]
async fn open_is_verified_like_any_signed_url() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();

    // Unsigned.
    let got = get(e.proxy.public, &target("open", APP, "/d/sales"), &[]).await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::BAD_REQUEST, Some("malformed"))
    );
    assert_eq!(got.json()["error"], "malformed");
    // Tampered: the path, the origin.
    let url = signed(&kid, &secret, "open", "/d/sales", "alice");
    for tampered in [
        url.replace("sales", "other"),
        url.replace("app.example.com", "evil.example.com"),
        url.replace("/.embedgate/open", "/.embedgate/renew"),
    ] {
        let got = get(e.proxy.public, &tampered, &[]).await;
        assert_eq!(got.status, StatusCode::FORBIDDEN, "{tampered}");
        assert_eq!(got.reason().as_deref(), Some("bad_signature"));
        assert!(got.cookie().is_none());
    }
    // Used once; the second use is a replay.
    assert_eq!(get(e.proxy.public, &url, &[]).await.status, StatusCode::OK);
    let again = get(e.proxy.public, &url, &[]).await;
    assert_eq!(
        (again.status, again.reason().as_deref()),
        (StatusCode::FORBIDDEN, Some("replayed"))
    );
    // Expired.
    let old = sign_with(
        &kid,
        &secret,
        &target("open", APP, "/d/sales"),
        "alice",
        &[],
        now() - 3600,
        &nonce(),
    );
    assert_eq!(
        get(e.proxy.public, &old, &[]).await.reason().as_deref(),
        Some("expired")
    );
    // A well-signed URL that names no origin, a bad one, or another parameter.
    for query in [
        format!("path={}", enc("/d/sales")),
        format!(
            "origin={}&path={}",
            enc("https://app.example.com/"),
            enc("/d/sales")
        ),
        format!("origin=*&path={}", enc("/d/sales")),
        format!("origin={}&path={}&x=1", enc(APP), enc("/d/sales")),
        format!("origin={}&path={}", enc(APP), enc("/d/../admin")),
    ] {
        let url = sign(
            &kid,
            &secret,
            &format!("/.embedgate/open?{query}"),
            "alice",
            &[],
        );
        let got = get(e.proxy.public, &url, &[]).await;
        assert_eq!(
            (got.status, got.reason().as_deref()),
            (StatusCode::BAD_REQUEST, Some("malformed")),
            "{query}"
        );
    }
    // A path no route serves.
    let url = signed(&kid, &secret, "open", "/elsewhere", "alice");
    assert_eq!(
        get(e.proxy.public, &url, &[]).await.reason().as_deref(),
        Some("no_route")
    );
    // Anything else under /.embedgate/ is the proxy's, and not found.
    let got = get(e.proxy.public, "/.embedgate/other", &[]).await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::NOT_FOUND, Some("no_route"))
    );
    assert_eq!(e.backend.seen_count(), 0);
    e.proxy.stop().await;
}

#[tokio::test]
async fn the_secrets_scope_applies_to_the_path_renewed() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("sales-only", &["/d/sales"]);
    e.proxy.reload.reload().await.unwrap();

    let ok = get(
        e.proxy.public,
        &signed(&kid, &secret, "renew", "/d/sales", "alice"),
        &[],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", body(&ok));
    let cookie = ok.cookie().unwrap();
    assert_eq!(
        get(e.proxy.public, "/d/sales", &[("cookie", &cookie)])
            .await
            .status,
        StatusCode::OK
    );
    // The session is narrowed to the secret's scope.
    let other = get(e.proxy.public, "/d/other", &[("cookie", &cookie)]).await;
    assert_eq!(other.reason().as_deref(), Some("out_of_scope"));

    for endpoint in ["open", "renew"] {
        let got = get(
            e.proxy.public,
            &signed(&kid, &secret, endpoint, "/d/other", "alice"),
            &[],
        )
        .await;
        assert_eq!(
            (got.status, got.reason().as_deref()),
            (StatusCode::FORBIDDEN, Some("out_of_scope"))
        );
        assert!(got.cookie().is_none());
    }
    e.proxy.stop().await;
}

#[tokio::test]
async fn renew_keeps_the_user_of_the_live_session_open_replaces_it() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();

    let alice = get(
        e.proxy.public,
        &signed(&kid, &secret, "open", "/d/sales", "alice"),
        &[],
    )
    .await;
    let alice_cookie = alice.cookie().unwrap();

    // Bob cannot renew Alice's live session.
    let url = signed(&kid, &secret, "renew", "/d/sales", "bob");
    let got = get(e.proxy.public, &url, &[("cookie", &alice_cookie)]).await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::FORBIDDEN, Some("session_mismatch"))
    );
    assert!(got.cookie().is_none());

    // Alice renews hers: a new cookie, still Alice, with the renewal's attributes.
    let url = sign(
        &kid,
        &secret,
        &target("renew", APP, "/d/sales"),
        "alice",
        &[("role", "viewer")],
    );
    let got = get(e.proxy.public, &url, &[("cookie", &alice_cookie)]).await;
    assert_eq!(got.status, StatusCode::OK, "{}", body(&got));
    let renewed = got.cookie().unwrap();
    assert_ne!(renewed, alice_cookie);
    let dash = get(e.proxy.public, "/d/sales", &[("cookie", &renewed)]).await;
    assert_eq!(
        dash.backend_header("x-embed-user"),
        Some(vec!["alice".to_owned()])
    );
    assert_eq!(
        dash.backend_header("x-embed-attr-role"),
        Some(vec!["viewer".to_owned()])
    );

    // Without a live session (none, or only another route's), renew opens one.
    let got = get(
        e.proxy.public,
        &signed(&kid, &secret, "renew", "/d/sales", "bob"),
        &[],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);

    // Open replaces whatever the browser holds: a user switch.
    let got = get(
        e.proxy.public,
        &signed(&kid, &secret, "open", "/d/sales", "bob"),
        &[("cookie", &alice_cookie)],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let bob = got.cookie().unwrap();
    let dash = get(e.proxy.public, "/d/sales", &[("cookie", &bob)]).await;
    assert_eq!(
        dash.backend_header("x-embed-user"),
        Some(vec!["bob".to_owned()])
    );
    e.proxy.stop().await;
}

#[tokio::test]
async fn a_refused_navigation_gets_a_page_and_a_fetch_keeps_the_json() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();

    // No session: a frame's navigation gets the page, same status and reason.
    let page = get(e.proxy.public, "/d/sales", &NAV).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.reason().as_deref(), Some("no_session"));
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-store");
    assert_script_allowed_by_hash(&page);
    let csp = header(&page, "content-security-policy");
    assert!(!csp.contains("frame-ancestors"), "{csp}");
    let html = body(&page);
    assert!(html.contains("data-reason=\"no_session\""), "{html}");
    assert!(html.contains("data-target=\"*\""), "{html}");
    assert!(
        html.contains("There is no session for this content."),
        "{html}"
    );
    // A top-level document too.
    let doc = get(
        e.proxy.public,
        "/d/sales",
        &[
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document"),
        ],
    )
    .await;
    assert_eq!(header(&doc, "content-type"), "text/html; charset=utf-8");

    // A fetch of the same, or a client without Sec-Fetch headers: JSON as before.
    for headers in [
        &[("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")][..],
        &[][..],
    ] {
        let got = get(e.proxy.public, "/d/sales", headers).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(&got, "content-type"), "application/json");
        assert_eq!(body(&got), r#"{"error":"no_session"}"#);
        assert_eq!(got.reason().as_deref(), Some("no_session"));
    }

    // A tampered signed dashboard URL in a frame.
    let url = sign(&kid, &secret, "/d/sales", "alice", &[]).replace("sales", "other");
    let got = get(e.proxy.public, &url, &NAV).await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::FORBIDDEN, Some("bad_signature"))
    );
    assert!(body(&got).contains("data-reason=\"bad_signature\""));

    // A tampered renewal posts to the origin it names, and only it may frame it.
    let url = signed(&kid, &secret, "renew", "/d/sales", "alice").replace("sales", "other");
    let got = get(e.proxy.public, &url, &NAV).await;
    assert_eq!(got.reason().as_deref(), Some("bad_signature"));
    let html = body(&got);
    assert!(html.contains(&format!("data-target=\"{APP}\"")), "{html}");
    assert!(header(&got, "content-security-policy").ends_with(&format!("; frame-ancestors {APP}")));
    // Nothing of the URL is in the page: no signature, no nonce, no user.
    let sig = url
        .split("eg_sig=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!html.contains(sig) && !html.contains("alice"), "{html}");

    // Upstream down, in a frame: a page too.
    let ok = get(
        e.proxy.public,
        &signed(&kid, &secret, "open", "/d/sales", "alice"),
        &[],
    )
    .await;
    let cookie = ok.cookie().unwrap();
    let down = Proxy::start(&config_toml_for(
        &e.store,
        "127.0.0.1:9".parse().unwrap(),
        "",
    ))
    .await;
    let got = get(
        down.public,
        "/d/sales",
        &[NAV[0], NAV[1], ("cookie", &cookie)],
    )
    .await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::BAD_GATEWAY, Some("upstream_unavailable"))
    );
    assert!(body(&got).contains("The content server is not answering."));
    down.stop().await;
    e.proxy.stop().await;
}

/// Opens a watch and returns its response once the head arrived.
async fn open_watch(e: &Env, cookie: &str) -> http::Response<hyper::body::Incoming> {
    let req = Request::get("/.embedgate/watch?path=%2Fd%2Fsales")
        .header("host", HOST)
        .header("cookie", cookie)
        .body(full(""))
        .unwrap();
    send(e.proxy.public, req).await
}

#[tokio::test]
async fn the_watch_answers_when_the_session_is_revoked_or_expires() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    let (short_kid, short_secret) = e.store.create_secret("short", &[]);
    e.proxy.reload.reload().await.unwrap();

    // Without a session: the JSON refusal, at once.
    let got = read(open_watch(&e, "x=y").await).await;
    assert_eq!(
        (got.status, body(&got).as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"no_session"}"#)
    );

    // A session of 2 s: the watch ends with session_expired.
    let url = sign_session(
        &short_kid,
        &short_secret,
        &target("open", APP, "/d/sales"),
        "alice",
        &[],
        now() + 300,
        &nonce(),
        Some(2),
    );
    let cookie = get(e.proxy.public, &url, &[]).await.cookie().unwrap();
    let resp = open_watch(&e, &cookie).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let ended = tokio::time::timeout(Duration::from_secs(6), resp.into_body().collect()).await;
    assert_eq!(
        ended.expect("ends with the session").unwrap().to_bytes(),
        "session_expired"
    );

    // Deactivating the secret ends the watch within a second.
    let cookie = get(
        e.proxy.public,
        &signed(&kid, &secret, "open", "/d/sales", "alice"),
        &[],
    )
    .await
    .cookie()
    .unwrap();
    let resp = open_watch(&e, &cookie).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = tokio::spawn(resp.into_body().collect());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !body.is_finished(),
        "the watch is held while the session lives"
    );
    e.store
        .store
        .deactivate_embed_secret(
            &embedgate_store::Lookup::client_id(kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    let started = std::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), body)
        .await
        .expect("ends on revocation");
    assert_eq!(ended.unwrap().unwrap().to_bytes(), "session_revoked");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // And asked again: the refusal.
    let got = read(open_watch(&e, &cookie).await).await;
    assert_eq!(
        (got.status, got.reason().as_deref()),
        (StatusCode::FORBIDDEN, Some("session_revoked"))
    );
    e.proxy.stop().await;
}

#[tokio::test]
async fn a_renewal_does_not_extend_a_stream_opened_under_the_old_session() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();

    let open = |endpoint: &'static str, secs: u64| {
        sign_session(
            &kid,
            &secret,
            &target(endpoint, APP, "/d/sales"),
            "alice",
            &[],
            now() + 300,
            &nonce(),
            Some(secs),
        )
    };
    let old = get(e.proxy.public, &open("open", 3), &[])
        .await
        .cookie()
        .unwrap();
    let opened = std::time::Instant::now();
    let req = Request::get("/d/sales/download")
        .header("host", HOST)
        .header("cookie", &old)
        .body(full(""))
        .unwrap();
    let resp = send(e.proxy.public, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.into_body();
    let first = stream.frame().await.unwrap().unwrap();
    assert!(first.is_data());

    // Renewed at once: the new cookie serves new requests past the old expiry...
    let renewed = get(e.proxy.public, &open("renew", 60), &[("cookie", &old)]).await;
    assert_eq!(renewed.status, StatusCode::OK);
    let new = renewed.cookie().unwrap();

    // ...but the stream still ends with the session it was opened under.
    let cut = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match stream.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return,
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the stream outlived its session");
    assert!(
        opened.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        opened.elapsed()
    );
    let got = get(e.proxy.public, "/d/sales", &[("cookie", &new)]).await;
    assert_eq!(got.status, StatusCode::OK);
    let got = get(e.proxy.public, "/d/sales", &[("cookie", &old)]).await;
    assert_eq!(got.reason().as_deref(), Some("session_expired"));
    e.backend.release.notify_waiters();
    e.proxy.stop().await;
}

#[tokio::test]
async fn renewals_are_counted() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    get(
        e.proxy.public,
        &signed(&kid, &secret, "open", "/d/sales", "alice"),
        &[],
    )
    .await;
    let metrics = body(&get(e.proxy.admin, "/metrics", &[]).await);
    assert!(
        metrics.contains("embedgate_requests_total{route=\"d\",outcome=\"renewed\"} 1"),
        "{metrics}"
    );
    e.proxy.stop().await;
}
