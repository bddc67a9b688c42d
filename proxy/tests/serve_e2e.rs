//! `embedgate serve` end to end: real TCP on loopback, a real backend task,
//! a real SQLite store, the proxy in-process (and, for revocation, the CLI
//! in another process).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use support::*;

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

#[tokio::test]
async fn valid_url_is_forwarded_with_identity_and_opens_a_session() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let url = sign(
        &kid,
        &secret,
        "/d/sales?orgId=1&var-region=emea",
        "user-42",
        &[("tenant", "acme")],
    );
    let got = within_ok(e.proxy.public, &url).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
    let seen = e.backend.last_seen().unwrap();
    assert_eq!(seen.path_and_query, "/d/sales?orgId=1&var-region=emea");
    assert_eq!(seen.headers["x-embed-user"], "user-42");
    assert_eq!(seen.headers["x-embed-attr-tenant"], "acme");
    assert_eq!(seen.headers["x-embed-key"], kid.as_str());
    assert_eq!(seen.headers["x-forwarded-host"], HOST);
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert!(!seen.path_and_query.contains("eg_"));

    // The session cookie: __Host-, Secure, HttpOnly, SameSite=None, Partitioned, Path=/.
    let set_cookie = got.headers["set-cookie"].to_str().unwrap().to_owned();
    for attr in [
        "__Host-embedgate-d=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
        "Max-Age=",
    ] {
        assert!(set_cookie.contains(attr), "{attr} missing in Set-Cookie");
    }
    assert_eq!(got.headers["cache-control"], "private, no-store");
    let cookie = got.cookie().unwrap();

    // Follow-up asset request with the cookie: 200 with the same identity,
    // and the cookie itself is not passed to the backend.
    let asset = get(
        e.proxy.public,
        "/public/app.js?v=3",
        &[("cookie", &format!("theme=dark; {cookie}"))],
    )
    .await;
    assert_eq!(asset.status, StatusCode::OK);
    let seen = e.backend.last_seen().unwrap();
    assert_eq!(seen.path_and_query, "/public/app.js?v=3");
    assert_eq!(seen.headers["x-embed-user"], "user-42");
    assert_eq!(seen.headers["x-embed-attr-tenant"], "acme");
    assert_eq!(seen.headers["cookie"], "theme=dark");

    // Without the cookie: 401 no_session, nothing forwarded.
    let before = e.backend.seen_count();
    let none = get(e.proxy.public, "/public/app.js", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.reason().as_deref(), Some("no_session"));
    assert_eq!(none.json()["error"], "no_session");
    assert_eq!(none.headers["cache-control"], "no-store");
    // A tampered cookie is no session either.
    let tampered = format!("{}A", cookie);
    let bad = get(e.proxy.public, "/d/sales", &[("cookie", &tampered)]).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Outside every route: 404.
    let nowhere = get(e.proxy.public, "/admin/", &[("cookie", &cookie)]).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(e.backend.seen_count(), before);

    // The admin listener.
    let ready = get(e.proxy.admin, "/readyz", &[]).await;
    assert_eq!(ready.status, StatusCode::OK);
    let metrics = get(e.proxy.admin, "/metrics", &[]).await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(
        text.contains("embedgate_requests_total{route=\"d\",outcome=\"forwarded\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("embedgate_requests_total{route=\"d\",outcome=\"no_session\"}"),
        "{text}"
    );
    assert!(
        text.contains("embedgate_url_verifications_total{route=\"d\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("embedgate_upstream_duration_seconds_count{route=\"d\"} 2"),
        "{text}"
    );
    assert!(text.contains("embedgate_secret_cache_entries 1"), "{text}");
    assert!(text.contains("embedgate_store_revision_lag 0"), "{text}");
    e.proxy.stop().await;
}

/// The first request after creating a secret may race the reload; retry
/// only on `unknown_key` (never on anything else), with a fresh nonce each time.
async fn within_ok(addr: std::net::SocketAddr, url: &str) -> Got {
    let got = get(addr, url, &[]).await;
    assert_ne!(
        got.reason().as_deref(),
        Some("unknown_key"),
        "cache not reloaded at once"
    );
    got
}

#[tokio::test]
async fn every_reason_of_the_spec_over_http() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    let (scoped_kid, scoped_secret) = e.store.create_secret("scoped", &["/d/sales"]);
    let (off_kid, off_secret) = e.store.create_secret("off", &[]);
    e.store
        .store
        .deactivate_embed_secret(
            &embedgate_store::Lookup::client_id(off_kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    e.proxy.reload.reload().await.unwrap();
    within(Duration::from_secs(1), || async {
        get(e.proxy.admin, "/metrics", &[])
            .await
            .body
            .windows(32)
            .any(|w| w == b"embedgate_secret_cache_entries 3")
    })
    .await
    .expect("cache reloads");

    let before = e.backend.seen_count();
    let t = now();
    let ok = sign(&kid, &secret, "/d/x", "u", &[]);
    let unsigned = ok.split("&eg_sig=").next().unwrap().to_owned();
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (unsigned, StatusCode::BAD_REQUEST, "malformed"),
        (
            format!("{ok}&eg_bogus=1"),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            sign("ek_nobody", &secret, "/d/x", "u", &[]),
            StatusCode::FORBIDDEN,
            "unknown_key",
        ),
        (
            sign(&off_kid, &off_secret, "/d/x", "u", &[]),
            StatusCode::FORBIDDEN,
            "key_inactive",
        ),
        (
            sign(&kid, "not-the-secret", "/d/x", "u", &[]),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
        (
            sign_with(&kid, &secret, "/d/x", "u", &[], t - 120, &nonce()),
            StatusCode::FORBIDDEN,
            "expired",
        ),
        (
            sign_with(&kid, &secret, "/d/x", "u", &[], t + 10_000, &nonce()),
            StatusCode::FORBIDDEN,
            "exp_too_far",
        ),
        (
            sign(&scoped_kid, &scoped_secret, "/d/marketing", "u", &[]),
            StatusCode::FORBIDDEN,
            "out_of_scope",
        ),
    ];
    for (url, status, reason) in &cases {
        let got = get(e.proxy.public, url, &[]).await;
        assert_eq!(got.status, *status, "{reason}");
        assert_eq!(got.reason().as_deref(), Some(*reason));
        assert_eq!(got.json(), serde_json::json!({ "error": reason }));
        assert_eq!(got.headers["cache-control"], "no-store");
        assert!(got.headers.get("set-cookie").is_none());
    }
    assert_eq!(
        e.backend.seen_count(),
        before,
        "nothing refused reaches the backend"
    );

    // Replay: the same URL twice.
    let first = get(e.proxy.public, &ok, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = get(e.proxy.public, &ok, &[]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.reason().as_deref(), Some("replayed"));
    assert_eq!(e.backend.seen_count(), before + 1);

    // A session of a scoped secret: inside the scope 200, outside 403.
    let s = get(
        e.proxy.public,
        &sign(&scoped_kid, &scoped_secret, "/d/sales/q1", "u", &[]),
        &[],
    )
    .await;
    assert_eq!(s.status, StatusCode::OK);
    let cookie = s.cookie().unwrap();
    let inside = get(e.proxy.public, "/d/sales/q2", &[("cookie", &cookie)]).await;
    assert_eq!(inside.status, StatusCode::OK);
    let outside = get(e.proxy.public, "/d/marketing", &[("cookie", &cookie)]).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    assert_eq!(outside.reason().as_deref(), Some("out_of_scope"));
    // session_paths are narrowed by the secret's scopes too.
    let asset = get(e.proxy.public, "/public/app.js", &[("cookie", &cookie)]).await;
    assert_eq!(asset.status, StatusCode::FORBIDDEN);

    let metrics =
        String::from_utf8(get(e.proxy.admin, "/metrics", &[]).await.body.to_vec()).unwrap();
    for reason in [
        "malformed",
        "unknown_key",
        "key_inactive",
        "bad_signature",
        "expired",
        "exp_too_far",
        "replayed",
        "out_of_scope",
    ] {
        assert!(
            metrics.contains(&format!(
                "embedgate_url_verifications_total{{route=\"d\",result=\"{reason}\"}}"
            )),
            "{reason} not counted"
        );
    }
    e.proxy.stop().await;
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_backend_and_credential_is_injected() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    store.put_credential("backend-token", "tok-123");
    let extra = r#"upstream_auth = { header = "Authorization", credential = "backend-token", prefix = "Bearer " }
user_header = "X-WEBAUTH-USER""#;
    let proxy = Proxy::start(&config_toml(&store, &backend, extra)).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    let spoof: &[(&str, &str)] = &[
        ("x-webauth-user", "admin"),
        ("x-embed-user", "admin"),
        ("x-embed-attr-role", "admin"),
        ("x-embed-key", "ek_other"),
        ("x-forwarded-for", "10.9.9.9"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=10.9.9.9"),
        ("x-real-ip", "10.9.9.9"),
        ("authorization", "Bearer stolen"),
        ("connection", "x-hop"),
        ("x-hop", "1"),
    ];
    let url = sign(&kid, &secret, "/d/x", "viewer", &[]);
    let got = get(proxy.public, &url, spoof).await;
    assert_eq!(got.status, StatusCode::OK);
    let cookie = got.cookie().unwrap();
    let mut with_cookie = spoof.to_vec();
    with_cookie.push(("cookie", &cookie));
    let got2 = get(proxy.public, "/d/y", &with_cookie).await;
    assert_eq!(got2.status, StatusCode::OK);
    for got in [&got, &got2] {
        assert_eq!(got.backend_header("x-webauth-user").unwrap(), ["viewer"]);
        assert_eq!(got.backend_header("x-embed-user"), None);
        assert_eq!(got.backend_header("x-embed-attr-role"), None);
        assert_eq!(got.backend_header("x-embed-key").unwrap(), [kid.as_str()]);
        assert_eq!(
            got.backend_header("x-forwarded-for").unwrap(),
            ["127.0.0.1"]
        );
        assert_eq!(got.backend_header("x-forwarded-host").unwrap(), [HOST]);
        assert_eq!(got.backend_header("x-forwarded-proto").unwrap(), ["http"]);
        assert_eq!(got.backend_header("forwarded"), None);
        assert_eq!(got.backend_header("x-real-ip"), None);
        assert_eq!(got.backend_header("x-hop"), None);
        assert_eq!(
            got.backend_header("authorization").unwrap(),
            ["Bearer tok-123"]
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn two_routes_keep_their_sessions_side_by_side() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let extra = format!(
        "\n[[routes]]\nname = \"reports\"\nprefix = \"/r/\"\nupstream = \"http://{}\"\nsession_paths = [\"/public/\"]\non_success = \"forward\"\n",
        backend.addr
    );
    let proxy = Proxy::start(&config_toml(&store, &backend, &extra)).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    let a = get(
        proxy.public,
        &sign(&kid, &secret, "/d/one", "alice", &[]),
        &[],
    )
    .await;
    let b = get(
        proxy.public,
        &sign(&kid, &secret, "/r/two", "bob", &[]),
        &[],
    )
    .await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    let (ca, cb) = (a.cookie().unwrap(), b.cookie().unwrap());
    assert!(ca.starts_with("__Host-embedgate-d=") && cb.starts_with("__Host-embedgate-reports="));
    let both = format!("{ca}; {cb}");
    let d = get(proxy.public, "/d/one/panel", &[("cookie", &both)]).await;
    let r = get(proxy.public, "/r/two/panel", &[("cookie", &both)]).await;
    assert_eq!(d.backend_header("x-embed-user").unwrap(), ["alice"]);
    assert_eq!(r.backend_header("x-embed-user").unwrap(), ["bob"]);
    // A cookie of one route does not open the other.
    let cross = get(proxy.public, "/r/two", &[("cookie", &ca)]).await;
    assert_eq!(cross.status, StatusCode::UNAUTHORIZED);
    let swapped = cb.replace("__Host-embedgate-reports=", "__Host-embedgate-d=");
    let forged = get(proxy.public, "/d/one", &[("cookie", &swapped)]).await;
    assert_eq!(
        forged.status,
        StatusCode::UNAUTHORIZED,
        "a cookie MACs its route's name"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn redirect_mode_answers_303_to_the_clean_url() {
    let e = env("on_success = \"redirect\"").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let before = e.backend.seen_count();
    let got = get(
        e.proxy.public,
        &sign(&kid, &secret, "/d/sales?b=2&a=1", "u", &[]),
        &[],
    )
    .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert_eq!(got.headers["location"], "/d/sales?a=1&b=2");
    assert_eq!(e.backend.seen_count(), before);
    let cookie = got.cookie().unwrap();
    let follow = get(e.proxy.public, "/d/sales?a=1&b=2", &[("cookie", &cookie)]).await;
    assert_eq!(follow.status, StatusCode::OK);
    e.proxy.stop().await;
}

#[tokio::test]
async fn cli_deactivate_and_delete_in_another_process_take_effect_within_a_second() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("to-deactivate", &[]);
    let (kid2, secret2) = e.store.create_secret("to-delete", &[]);
    e.proxy.reload.reload().await.unwrap();
    let s1 = get(e.proxy.public, &sign(&kid, &secret, "/d/a", "u", &[]), &[]).await;
    let s2 = get(
        e.proxy.public,
        &sign(&kid2, &secret2, "/d/a", "u", &[]),
        &[],
    )
    .await;
    assert_eq!((s1.status, s2.status), (StatusCode::OK, StatusCode::OK));
    let (c1, c2) = (s1.cookie().unwrap(), s2.cookie().unwrap());
    assert_eq!(
        get(e.proxy.public, "/d/b", &[("cookie", &c1)]).await.status,
        StatusCode::OK
    );

    for (args, kid, secret, cookie, url_reason) in [
        (
            &["secrets", "deactivate", "to-deactivate"][..],
            &kid,
            &secret,
            &c1,
            "key_inactive",
        ),
        (
            &["secrets", "delete", "to-delete", "--yes"][..],
            &kid2,
            &secret2,
            &c2,
            "unknown_key",
        ),
    ] {
        let action = args[1];
        let out = cli(&e.store, args);
        assert!(
            out.status.success(),
            "embedgate secrets {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let took = within(Duration::from_secs(1), || async {
            let url = get(e.proxy.public, &sign(kid, secret, "/d/a", "u", &[]), &[]).await;
            let session = get(e.proxy.public, "/d/b", &[("cookie", cookie)]).await;
            url.status == StatusCode::FORBIDDEN
                && url.reason().as_deref() == Some(url_reason)
                && session.status == StatusCode::FORBIDDEN
                && session.reason().as_deref() == Some("session_revoked")
        })
        .await;
        assert!(took.is_some(), "{action} did not take effect within 1 s");
        eprintln!("{action} took effect after {:?}", took.unwrap_or_default());
    }
    e.proxy.stop().await;
}

/// Runs the real `embedgate` binary against the test store.
fn cli(store: &TestStore, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(args)
        .env("EMBEDGATE_STORE", &store.url)
        .env("USER", "e2e-test")
        .env("EMBEDGATE_MASTER_KEY", store.master_key_b64())
        .output()
        .unwrap()
}

#[tokio::test]
async fn websocket_echo_through_the_proxy() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let cookie = get(e.proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
        .await
        .cookie()
        .unwrap();

    // Without a session the upgrade is refused.
    let mut req = format!("ws://{}/d/live/ws", e.proxy.public)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("host", HOST.parse().unwrap());
    let refused = tokio_tungstenite::connect_async(req.clone()).await;
    assert!(refused.is_err());

    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), format!("hello {i}"));
    }
    let seen = e.backend.last_seen().unwrap();
    assert_eq!(seen.headers["x-embed-user"], "u");
    ws.close(None).await.unwrap();
    e.proxy.stop().await;
}

#[tokio::test]
async fn five_megabytes_stream_both_ways_without_buffering() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let cookie = get(e.proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
        .await
        .cookie()
        .unwrap();
    let guard = Duration::from_secs(20);

    // Upload: the backend answers before the upload is finished; the
    // response head must reach us while we still hold most of the body
    // back. A buffering proxy would wait for the whole body: deadlock,
    // caught by the guard timeout.
    let (tx, rx) = tokio::sync::mpsc::channel::<
        Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>,
    >(1);
    let body = StreamBody::new(futures_util::stream::poll_fn({
        let mut rx = rx;
        move |cx| rx.poll_recv(cx)
    }));
    let req = Request::post("/d/upload")
        .header("host", HOST)
        .header("cookie", &cookie)
        .body(BodyExt::boxed(body))
        .unwrap();
    let chunk = Bytes::from(vec![b'u'; CHUNK]);
    tx.send(Ok(Frame::data(chunk.clone()))).await.unwrap();
    let resp = tokio::time::timeout(guard, send(e.proxy.public, req))
        .await
        .expect("response head arrives while the upload is still running");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut resp_body = resp.into_body();
    let first = tokio::time::timeout(guard, resp_body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "receiving\n");
    for _ in 1..(FIVE_MB / CHUNK) {
        tx.send(Ok(Frame::data(chunk.clone()))).await.unwrap();
    }
    drop(tx);
    let rest = tokio::time::timeout(guard, resp_body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, format!("total={FIVE_MB}\n"));

    // Download: the backend sends one chunk, then waits until we have
    // received it through the proxy before sending the rest.
    let req = Request::get("/d/download")
        .header("host", HOST)
        .header("cookie", &cookie)
        .body(full(""))
        .unwrap();
    let resp = tokio::time::timeout(guard, send(e.proxy.public, req))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let mut total = 0usize;
    while total < CHUNK {
        let f = tokio::time::timeout(guard, body.frame())
            .await
            .expect("first chunk arrives before the backend sent the rest")
            .unwrap()
            .unwrap();
        total += f.data_ref().map_or(0, |d| d.len());
    }
    e.backend.release.notify_one();
    while let Some(f) = tokio::time::timeout(guard, body.frame()).await.unwrap() {
        total += f.unwrap().data_ref().map_or(0, |d| d.len());
    }
    assert_eq!(total, FIVE_MB);
    e.proxy.stop().await;
}

#[tokio::test]
async fn upstream_down_is_502_and_slow_is_504() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    // A port nobody listens on: bind, note it, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        "\n[[routes]]\nname = \"down\"\nprefix = \"/down/\"\nupstream = \"http://{closed}\"\non_success = \"forward\"\n"
    );
    let toml = config_toml(&store, &backend, &extra)
        .replace("response_timeout = \"10s\"", "response_timeout = \"300ms\"");
    let proxy = Proxy::start(&toml).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    let down = get(proxy.public, &sign(&kid, &secret, "/down/x", "u", &[]), &[]).await;
    assert_eq!(down.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        down.json(),
        serde_json::json!({"error": "upstream_unavailable"})
    );
    // A pooled connection whose timer fired while it sat idle: re-armed
    // for the next request, not fired at once.
    let ok = get(proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ok = get(proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    // Too slow on that reused connection: 504 after the full 300 ms.
    let started = std::time::Instant::now();
    let slow = get(proxy.public, &sign(&kid, &secret, "/d/slow", "u", &[]), &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(290));
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        slow.json(),
        serde_json::json!({"error": "upstream_timeout"})
    );
    backend.release.notify_one();
    proxy.stop().await;
}

/// A raw HTTP/1.1 backend answering `ok` to every request head; with
/// `close`, it closes each connection right after its answer without
/// saying so (no `Connection: close`). Returns its address and how many
/// connections it accepted.
async fn raw_backend(
    close: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    buf.drain(..end);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if s.write_all(answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upstream_connections_are_reused_and_closed_ones_replaced() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let (keep, keep_conns) = raw_backend(false).await;
    let (close, close_conns) = raw_backend(true).await;
    let extra = format!(
        "\n[[routes]]\nname = \"keep\"\nprefix = \"/keep/\"\nupstream = \"http://{keep}\"\non_success = \"forward\"\n\
         \n[[routes]]\nname = \"close\"\nprefix = \"/close/\"\nupstream = \"http://{close}\"\non_success = \"forward\"\n"
    );
    let proxy = Proxy::start(&config_toml(&store, &backend, &extra)).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    for prefix in ["/keep/", "/close/"] {
        let url = sign(&kid, &secret, &format!("{prefix}x"), "u", &[]);
        let cookie = get(proxy.public, &url, &[]).await.cookie().unwrap();
        for i in 0..20 {
            // Time for the proxy to see a closed connection close (as
            // with any keep-alive client, a request racing the close
            // would fail).
            tokio::time::sleep(Duration::from_millis(5)).await;
            let got = get(
                proxy.public,
                &format!("{prefix}x?i={i}"),
                &[("cookie", &cookie)],
            )
            .await;
            assert_eq!(got.status, StatusCode::OK, "{prefix} #{i}: {:?}", got.body);
            assert_eq!(got.body, "ok");
        }
    }
    // 21 requests each: one kept-alive connection for all of them; a new
    // one for each where the backend closes after every answer.
    let seq = std::sync::atomic::Ordering::SeqCst;
    assert_eq!(keep_conns.load(seq), 1);
    assert_eq!(close_conns.load(seq), 21);
    proxy.stop().await;
}

#[tokio::test]
async fn last_used_at_is_recorded_in_batches() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let lookup = embedgate_store::Lookup::client_id(kid.clone());
    assert_eq!(
        e.store
            .store
            .get_embed_secret(&lookup)
            .unwrap()
            .last_used_at,
        None
    );
    assert_eq!(
        get(e.proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
            .await
            .status,
        StatusCode::OK
    );
    // Flushed at shutdown at the latest (the interval is a minute).
    e.proxy.stop().await;
    let used = e
        .store
        .store
        .get_embed_secret(&lookup)
        .unwrap()
        .last_used_at;
    assert!(
        used.is_some_and(|t| (t - now() as i64).abs() < 60),
        "{used:?}"
    );
}

#[tokio::test]
async fn https_with_a_generated_certificate_on_http1_and_http2() {
    use std::sync::Arc;
    use tokio_rustls::rustls;

    let store = TestStore::new();
    let backend = Backend::start().await;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = store.dir.path().join("cert.pem");
    let key_file = store.dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
    let toml = format!(
        "{}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        config_toml(&store, &backend, ""),
        cert_file.display(),
        key_file.display()
    );
    let proxy = Proxy::start(&toml).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
        tls.alpn_protocols = vec![alpn.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));

        let connect = || async {
            let tcp = tokio::net::TcpStream::connect(proxy.public).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let stream = connector.connect(name, tcp).await.unwrap();
            assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn));
            hyper_util::rt::TokioIo::new(stream)
        };
        let send_one = |req: Request<TestBody>| async {
            let io = connect().await;
            let resp = if alpn == b"h2" {
                let (mut s, conn) = hyper::client::conn::http2::handshake(executor(), io)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                s.send_request(req).await.unwrap()
            } else {
                let (mut s, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                s.send_request(req).await.unwrap()
            };
            assert_eq!(
                resp.version(),
                if alpn == b"h2" {
                    http::Version::HTTP_2
                } else {
                    http::Version::HTTP_11
                }
            );
            read(resp).await
        };
        let url = sign(&kid, &secret, "/d/tls", "tls-user", &[]);
        let req = Request::get(format!("https://{HOST}{url}")).header("host", HOST);
        let req = if alpn == b"h2" {
            Request::get(format!("https://{HOST}{url}"))
        } else {
            req
        };
        let got = send_one(req.body(full("")).unwrap()).await;
        assert_eq!(got.status, StatusCode::OK, "{alpn:?}");
        assert_eq!(got.backend_header("x-embed-user").unwrap(), ["tls-user"]);
        assert_eq!(got.backend_header("x-forwarded-proto").unwrap(), ["https"]);
        let cookie = got.cookie().unwrap();
        let follow = Request::get(format!("https://{HOST}/public/app.js"))
            .header("cookie", cookie)
            .body(full(""))
            .unwrap();
        let got = send_one(follow).await;
        assert_eq!(got.status, StatusCode::OK, "{alpn:?}");
        assert_eq!(got.backend_header("x-embed-user").unwrap(), ["tls-user"]);
    }
    proxy.stop().await;
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    use std::io::BufRead as _;
    let store = TestStore::new();
    let backend = Backend::start().await;
    let (kid, secret) = store.create_secret("main", &[]);
    let config = store.dir.path().join("embedgate.toml");
    std::fs::write(&config, config_toml(&store, &backend, "")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("EMBEDGATE_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on a thread so a full pipe never blocks the proxy.
    let mut stderr = child.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        log
    });
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // The first start of an empty store names the file of its owner token
    // before the listening line.
    let listening = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("embedgate serve: listening on "))
        .expect("a listening line on stdout");
    let addr: std::net::SocketAddr = listening
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("unexpected line {listening:?}"));

    let url = sign(&kid, &secret, "/d/x", "u", &[]);
    let signature = url.split("eg_sig=").nth(1).unwrap().to_owned();
    let cookie = get(addr, &url, &[]).await.cookie().unwrap();
    let cookie_value = cookie.split_once('=').unwrap().1.to_owned();
    // A refusal and a session request, so both paths are logged.
    assert_eq!(get(addr, &url, &[]).await.status, StatusCode::FORBIDDEN);
    let session = get(addr, "/d/y", &[("cookie", &cookie)]).await;
    assert_eq!(session.status, StatusCode::OK);
    let in_flight = tokio::spawn({
        let cookie = cookie.clone();
        async move { get(addr, "/d/slow", &[("cookie", &cookie)]).await }
    });
    backend.slow_started.notified().await;

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Once draining, the listener is closed: new connections are refused.
    let closed = within(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(closed.is_some(), "the listener stays open after SIGTERM");
    assert!(!in_flight.is_finished());

    backend.release.notify_one();
    let got = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, "slow done");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // The debug log never holds a secret, a signature or a cookie value.
    let log = log_reader.join().unwrap();
    assert!(
        log.contains("outcome=\"replayed\"") && log.contains("stopped"),
        "{log}"
    );
    for (what, needle) in [
        ("secret", &secret),
        ("signature", &signature),
        ("cookie", &cookie_value),
    ] {
        assert!(!log.contains(needle.as_str()), "the log holds a {what}");
    }
}

#[tokio::test]
async fn a_session_ends_at_eg_session() {
    let e = env("").await;
    let (kid, secret) = e.store.create_secret("main", &[]);
    e.proxy.reload.reload().await.unwrap();
    let url = sign_session(
        &kid,
        &secret,
        "/d/x",
        "u",
        &[],
        now() + 300,
        &nonce(),
        Some(1),
    );
    let got = get(e.proxy.public, &url, &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    let set_cookie = got.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("Max-Age=1;"), "{set_cookie}");
    let cookie = got.cookie().unwrap();
    let expired = within(Duration::from_secs(3), || async {
        let r = get(e.proxy.public, "/d/y", &[("cookie", &cookie)]).await;
        r.status == StatusCode::UNAUTHORIZED && r.reason().as_deref() == Some("session_expired")
    })
    .await;
    assert!(expired.is_some(), "the session outlived eg_session");
    e.proxy.stop().await;
}

#[tokio::test]
async fn dev_cookies_drop_host_prefix_and_secure() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let toml = format!(
        "{}\n[session]\ninsecure_dev_cookies = true\n",
        config_toml(&store, &backend, "")
    );
    let proxy = Proxy::start(&toml).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    let got = get(proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    let set_cookie = got.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("embedgate-d="), "{set_cookie}");
    assert!(!set_cookie.contains("Secure") && !set_cookie.contains("__Host-"));
    let follow = get(proxy.public, "/d/y", &[("cookie", &got.cookie().unwrap())]).await;
    assert_eq!(follow.status, StatusCode::OK);
    proxy.stop().await;
}

/// Issue 3: an expired secret is purged automatically 30 days after it
/// expired, and the purge is logged; a running proxy does it.
#[tokio::test]
async fn the_proxy_purges_secrets_expired_more_than_30_days_ago() {
    use embedgate_store::{Lookup, NewEmbedSecret};
    let store = TestStore::new();
    let backend = Backend::start().await;
    let day = 24 * 3600;
    let now = now() as i64;
    let make = |name: &str, created: i64, expires: i64| {
        store
            .store
            .create_embed_secret(
                &NewEmbedSecret {
                    name: name.to_owned(),
                    expires_at: Some(expires),
                    ..NewEmbedSecret::default()
                },
                "test",
                created,
            )
            .unwrap()
            .secret
            .id
    };
    let old = make("expired-31-days-ago", now - 40 * day, now - 31 * day);
    let recent = make("expired-29-days-ago", now - 40 * day, now - 29 * day);
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;

    let gone = within(Duration::from_secs(5), || async {
        store
            .store
            .get_embed_secret(&Lookup::Id(old.clone()))
            .is_err()
    })
    .await;
    assert!(
        gone.is_some(),
        "the secret expired 31 days ago was not purged"
    );
    // Inside the 30 days it stays.
    assert!(store
        .store
        .get_embed_secret(&Lookup::Id(recent.clone()))
        .is_ok());
    let history = store
        .store
        .embed_secret_history(&Lookup::Id(old.clone()))
        .unwrap();
    let purge = history
        .iter()
        .find(|e| e.action.as_str() == "purge")
        .expect("the purge is in the change log");
    assert!(purge.actor.contains("automatic purge"), "{:?}", purge.actor);
    proxy.stop().await;
}

/// Deactivating a secret ends its sessions for good: reactivating it lets
/// new signed URLs in again, but not the sessions opened before.
#[tokio::test]
async fn reactivation_does_not_revive_old_sessions() {
    use embedgate_store::Lookup;
    let t = env("").await;
    let (kid, secret) = t.store.create_secret("main", &[]);
    t.proxy.reload.reload().await.unwrap();
    let addr = t.proxy.public;
    let old = get(addr, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
        .await
        .cookie()
        .unwrap();
    assert_eq!(
        get(addr, "/d/y", &[("cookie", &old)]).await.status,
        StatusCode::OK
    );

    let lookup = Lookup::ClientId(kid.clone());
    t.store
        .store
        .deactivate_embed_secret(&lookup, "test", now() as i64)
        .unwrap();
    let revoked = within(Duration::from_secs(2), || async {
        get(addr, "/d/y", &[("cookie", &old)])
            .await
            .reason()
            .as_deref()
            == Some("session_revoked")
    })
    .await;
    assert!(revoked.is_some(), "deactivation did not revoke the session");

    // Reactivate in a later second than the session was opened in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.store
        .store
        .activate_embed_secret(&lookup, "test", now() as i64)
        .unwrap();
    let back = within(Duration::from_secs(2), || async {
        get(addr, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
            .await
            .status
            == StatusCode::OK
    })
    .await;
    assert!(
        back.is_some(),
        "a new URL is not accepted after reactivation"
    );
    let new = get(addr, &sign(&kid, &secret, "/d/x", "u", &[]), &[])
        .await
        .cookie()
        .unwrap();
    assert_eq!(
        get(addr, "/d/y", &[("cookie", &new)]).await.status,
        StatusCode::OK
    );
    let stale = get(addr, "/d/y", &[("cookie", &old)]).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(stale.reason().as_deref(), Some("session_revoked"));
    t.proxy.stop().await;
}

/// Issue 13: `on_success = "redirect"` is the default, so the signature
/// leaves the address bar.
#[tokio::test]
async fn redirect_is_the_default() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let toml = config_toml(&store, &backend, "").replace("on_success = \"forward\"\n", "");
    assert!(!toml.contains("on_success"));
    let proxy = Proxy::start(&toml).await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();
    let got = get(
        proxy.public,
        &sign(&kid, &secret, "/d/app?theme=dark", "u", &[]),
        &[],
    )
    .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert_eq!(got.headers["location"], "/d/app?theme=dark");
    assert!(got.cookie().is_some());
    assert_eq!(backend.seen_count(), 0);
    proxy.stop().await;
}

/// Opens a WebSocket to `target` with `cookie`.
async fn websocket(
    addr: std::net::SocketAddr,
    target: &str,
    cookie: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}{target}")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("host", HOST.parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn echo_once(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::text("ping")).await.unwrap();
    let back = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(back.into_text().unwrap().as_str(), "ping");
}

/// Issue 13 (session precedence): a Bokeh or Panel page copies its own
/// query, `eg_` parameters included, into its WebSocket URL. That URL does
/// not verify (it is signed for the page's path, and its nonce is spent),
/// but the browser holds the session the page opened: the WebSocket is
/// served under it, without the `eg_` parameters.
#[tokio::test]
async fn a_bokeh_page_websocket_with_the_page_query_rides_on_the_session() {
    for mode in ["forward", "redirect"] {
        let e = env(&format!("on_success = \"{mode}\"")).await;
        let (kid, secret) = e.store.create_secret("main", &[]);
        e.proxy.reload.reload().await.unwrap();
        let page = sign(
            &kid,
            &secret,
            "/d/app?theme=dark",
            "viewer",
            &[("tenant", "acme")],
        );
        let got = get(e.proxy.public, &page, &[]).await;
        let cookie = got.cookie().unwrap();
        let page_query = page.split_once('?').unwrap().1.to_owned();
        let clean_query = match mode {
            "forward" => {
                assert_eq!(got.status, StatusCode::OK);
                assert_eq!(
                    e.backend.last_seen().unwrap().path_and_query,
                    "/d/app?theme=dark"
                );
                page_query.clone()
            }
            _ => {
                assert_eq!(got.status, StatusCode::SEE_OTHER);
                let location = got.headers["location"].to_str().unwrap().to_owned();
                let follow = get(e.proxy.public, &location, &[("cookie", &cookie)]).await;
                assert_eq!(follow.status, StatusCode::OK);
                location.split_once('?').unwrap().1.to_owned()
            }
        };
        // The WebSocket URL carries the page's query: with the `eg_`
        // parameters in forward mode (the address bar kept them), without
        // them after a redirect; and either way a stale copy of them.
        for query in [clean_query.as_str(), page_query.as_str()] {
            let target = format!("/d/app/ws?{query}");
            let mut ws = websocket(e.proxy.public, &target, &cookie)
                .await
                .unwrap_or_else(|err| panic!("{mode}: {target}: {err}"));
            echo_once(&mut ws).await;
            let seen = e.backend.last_seen().unwrap();
            assert_eq!(seen.path_and_query, "/d/app/ws?theme=dark", "{mode}");
            assert_eq!(seen.headers["x-embed-user"], "viewer");
            assert_eq!(seen.headers["x-embed-attr-tenant"], "acme");
            ws.close(None).await.unwrap();
        }
        // Without the session the stale parameters are what they are.
        let refused = websocket(e.proxy.public, &format!("/d/app/ws?{page_query}"), "a=b").await;
        assert!(refused.is_err());
        e.proxy.stop().await;
    }
}

/// Issue 13 (session precedence): reloading an embedded page keeps working.
/// In forward mode the address bar still holds the signed URL, whose nonce
/// is spent: with the session cookie it is served under the session; in
/// redirect mode the reload asks for the clean URL.
#[tokio::test]
async fn reloading_an_embedded_page_keeps_its_session() {
    for mode in ["forward", "redirect"] {
        let e = env(&format!("on_success = \"{mode}\"")).await;
        let (kid, secret) = e.store.create_secret("main", &[]);
        e.proxy.reload.reload().await.unwrap();
        let url = sign(&kid, &secret, "/d/sales?orgId=1", "viewer", &[]);
        let first = get(e.proxy.public, &url, &[]).await;
        let cookie = first.cookie().unwrap();
        let reload_target = if mode == "forward" {
            assert_eq!(first.status, StatusCode::OK);
            url.clone()
        } else {
            assert_eq!(first.status, StatusCode::SEE_OTHER);
            first.headers["location"].to_str().unwrap().to_owned()
        };
        let before = e.backend.seen_count();
        for _ in 0..3 {
            let again = get(e.proxy.public, &reload_target, &[("cookie", &cookie)]).await;
            assert_eq!(again.status, StatusCode::OK, "{mode}: {:?}", again.body);
            assert!(again.headers.get("set-cookie").is_none());
            let seen = e.backend.last_seen().unwrap();
            assert_eq!(seen.path_and_query, "/d/sales?orgId=1");
            assert_eq!(seen.headers["x-embed-user"], "viewer");
        }
        // The spent signed URL itself, with the session (history, a copy).
        let again = get(e.proxy.public, &url, &[("cookie", &cookie)]).await;
        assert_eq!(again.status, StatusCode::OK, "{mode}");
        assert_eq!(e.backend.seen_count(), before + 4);
        // Without the session, the spent URL is refused as before.
        let stranger = get(e.proxy.public, &url, &[]).await;
        assert_eq!(stranger.status, StatusCode::FORBIDDEN);
        assert_eq!(stranger.reason().as_deref(), Some("replayed"));
        e.proxy.stop().await;
    }
}

/// Session precedence never widens anything: a refused URL is served only
/// under a session that covers its path, and as that session's user, never
/// as the URL's; a URL that does verify opens its own session.
#[tokio::test]
async fn a_refused_url_is_served_only_as_the_session_says() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let (kid, secret) = store.create_secret("main", &[]);
    let (scoped_kid, scoped_secret) = store.create_secret("scoped", &["/d/sales"]);
    proxy.reload.reload().await.unwrap();
    let addr = proxy.public;
    let alice = get(
        addr,
        &sign(&scoped_kid, &scoped_secret, "/d/sales", "alice", &[]),
        &[],
    )
    .await
    .cookie()
    .unwrap();
    let before = backend.seen_count();
    // Tampered, for another user, in the session's scope: served as alice,
    // without the parameters.
    let forged = sign(
        &kid,
        &secret,
        "/d/sales/q?x=1",
        "admin",
        &[("role", "admin")],
    )
    .replacen("x=1", "x=2", 1);
    let got = get(addr, &forged, &[("cookie", &alice)]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.headers.get("set-cookie").is_none());
    let seen = backend.last_seen().unwrap();
    assert_eq!(seen.path_and_query, "/d/sales/q?x=2");
    assert_eq!(seen.headers["x-embed-user"], "alice");
    assert!(seen.headers.get("x-embed-attr-role").is_none());
    // Outside the session's scope: the URL's refusal.
    let outside = sign(&kid, &secret, "/d/marketing", "admin", &[]).replacen("admin", "root", 1);
    let got = get(addr, &outside, &[("cookie", &alice)]).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(got.reason().as_deref(), Some("bad_signature"));
    assert_eq!(backend.seen_count(), before + 1);
    // A valid, fresh URL for someone else: it opens its own session.
    let bob = get(
        addr,
        &sign(&kid, &secret, "/d/sales", "bob", &[]),
        &[("cookie", &alice)],
    )
    .await;
    assert_eq!(bob.status, StatusCode::OK);
    assert!(bob.cookie().is_some());
    assert_eq!(backend.last_seen().unwrap().headers["x-embed-user"], "bob");
    proxy.stop().await;
}
