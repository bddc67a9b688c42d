//! Redis (the fleet's replay cache) going away and coming back, against
//! the real Redis behind a TCP relay the test can cut: `/readyz` says
//! degraded with the reason, `embedgate_replay_backend_up` drops to 0,
//! signed URLs are refused as `replay_unavailable` (counted as their own
//! outcome, not `busy`) without waiting for the Redis timeout, and all of
//! it recovers when Redis answers again. Needs Redis
//! (`EMBEDGATE_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::StatusCode;
use support::*;
use tokio::net::TcpListener;

/// The `[replay] timeout` of these proxies: long, so that failing fast
/// (no wait at all) and waiting for it cannot be confused on a loaded
/// machine.
const TIMEOUT_MS: u64 = 2000;

fn redis_addr() -> String {
    let url = std::env::var("EMBEDGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let rest = url.split("://").nth(1).unwrap_or(&url);
    rest.split(['/', '?']).next().unwrap().to_owned()
}

fn replay_config(redis: SocketAddr, policy: &str) -> String {
    format!(
        "\n[replay]\nbackend = \"redis\"\nurl = \"redis://{redis}\"\nkey_prefix = \"egtest:{}:\"\non_unavailable = \"{policy}\"\ntimeout = \"{TIMEOUT_MS}ms\"\n",
        nonce()
    )
}

async fn metrics(admin: SocketAddr) -> String {
    String::from_utf8(get(admin, "/metrics", &[]).await.body.to_vec()).unwrap()
}

fn sample(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// A signed URL's answer, and how long it took.
async fn timed(public: SocketAddr, kid: &str, secret: &str) -> (Got, Duration) {
    let url = sign(kid, secret, "/d/x", "viewer", &[]);
    let started = Instant::now();
    let got = get(public, &url, &[]).await;
    (got, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_is_visible_refused_fast_and_recovers() {
    let relay = Relay::start(redis_addr()).await;
    let backend = Backend::start().await;
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let proxy = Proxy::start(&config_toml(
        &store,
        &backend,
        &replay_config(relay.addr, "reject"),
    ))
    .await;

    let (got, _) = timed(proxy.public, &kid, &secret).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.reason());
    let cookie = got.cookie().unwrap();
    assert_eq!(
        get(proxy.admin, "/readyz", &[]).await.body.as_ref(),
        b"ready\n"
    );
    let m = metrics(proxy.admin).await;
    assert_eq!(
        sample(&m, r#"embedgate_replay_backend_up{backend="redis"}"#),
        Some(1.0),
        "{m}"
    );

    relay.cut();
    // Every signed URL is refused; none waits for the timeout: the first
    // meets the closed connection, the others do not touch the network.
    let mut took = Vec::new();
    for _ in 0..6 {
        let (got, t) = timed(proxy.public, &kid, &secret).await;
        assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(got.reason().as_deref(), Some("replay_unavailable"));
        took.push(t);
    }
    println!(
        "refused signed URLs with Redis cut, each: {took:?} ([replay] timeout {TIMEOUT_MS} ms)"
    );
    for t in &took {
        assert!(
            *t < Duration::from_millis(TIMEOUT_MS / 4),
            "waited {t:?} of the {TIMEOUT_MS} ms timeout: {took:?}"
        );
    }
    // Sessions need no Redis: they keep working.
    let session = get(proxy.public, "/d/y", &[("cookie", &cookie)]).await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.reason());

    let ready = get(proxy.admin, "/readyz", &[]).await;
    assert_eq!(ready.status, StatusCode::OK, "degraded is still ready");
    let body = ready.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["reason"], "replay_unavailable", "{body}");
    assert_eq!(body["replay"]["backend"], "redis");
    assert_eq!(body["replay"]["up"], false);
    assert!(body["replay"]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    let m = metrics(proxy.admin).await;
    assert_eq!(
        sample(&m, r#"embedgate_replay_backend_up{backend="redis"}"#),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"embedgate_requests_total{route="d",outcome="replay_unavailable"}"#
        ),
        Some(6.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"embedgate_url_verifications_total{route="d",result="replay_unavailable"}"#
        ),
        Some(6.0),
        "{m}"
    );
    assert!(!m.contains("outcome=\"busy\""), "{m}");

    relay.restore().await;
    let back = within(Duration::from_secs(10), || async {
        get(proxy.admin, "/readyz", &[]).await.body.as_ref() == b"ready\n"
    })
    .await;
    assert!(back.is_some(), "never ready again after Redis came back");
    let (got, _) = timed(proxy.public, &kid, &secret).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.reason());
    let m = metrics(proxy.admin).await;
    assert_eq!(
        sample(&m, r#"embedgate_replay_backend_up{backend="redis"}"#),
        Some(1.0),
        "{m}"
    );
    proxy.stop().await;
    relay.cut();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_redis_at_start_fails_fast_and_allow_lets_urls_through() {
    // Nothing listens there: every connection is refused.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let backend = Backend::start().await;
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    for policy in ["reject", "allow"] {
        let proxy =
            Proxy::start(&config_toml(&store, &backend, &replay_config(dead, policy))).await;
        let mut took = Vec::new();
        for _ in 0..5 {
            let (got, t) = timed(proxy.public, &kid, &secret).await;
            if policy == "reject" {
                assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(got.reason().as_deref(), Some("replay_unavailable"));
            } else {
                assert_eq!(got.status, StatusCode::OK, "{:?}", got.reason());
            }
            took.push(t);
        }
        println!("{policy}: signed URLs with Redis refusing connections, each: {took:?}");
        for t in &took {
            assert!(
                *t < Duration::from_millis(TIMEOUT_MS / 4),
                "{policy}: waited {t:?}: {took:?}"
            );
        }
        // Degraded either way: with `allow` replays go unchecked.
        let body = get(proxy.admin, "/readyz", &[]).await.json();
        assert_eq!(body["reason"], "replay_unavailable", "{body}");
        assert!(
            body["replay"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused")),
            "{body}"
        );
        let m = metrics(proxy.admin).await;
        assert_eq!(
            sample(&m, r#"embedgate_replay_backend_up{backend="redis"}"#),
            Some(0.0),
            "{m}"
        );
        proxy.stop().await;
    }
}
