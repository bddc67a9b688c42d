//! Replay: a signed URL is accepted once, whether it comes back later or
//! 50 times at the same instant; in memory and through Redis.

use std::sync::Arc;

use http::StatusCode;

use crate::support::*;
use crate::{Lab, Setup};

fn redis_tail() -> String {
    let url = std::env::var("EMBEDGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    format!(
        "[replay]\nbackend = \"redis\"\nurl = \"{url}\"\nkey_prefix = \"embedgate-attacks-{}:\"\n",
        nonce()
    )
}

async fn replay_once_then_refused(lab: &Lab) {
    let addr = lab.proxy.public;
    let url = lab.url("/d/x", "u", &[]);
    let before = lab.backend.count();
    assert_eq!(get(addr, &url, &[]).await.status, StatusCode::OK);
    for _ in 0..3 {
        let again = get(addr, &url, &[]).await;
        assert_eq!(again.status, StatusCode::FORBIDDEN);
        assert_eq!(again.reason().as_deref(), Some("replayed"));
        assert!(again.headers.get("set-cookie").is_none());
    }
    assert_eq!(lab.backend.count(), before + 1);

    // 50 at once: one wins.
    let url = Arc::new(lab.url("/d/race", "u", &[]));
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let before = lab.backend.count();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (url, start) = (Arc::clone(&url), Arc::clone(&start));
            tokio::spawn(async move {
                // Connected first, so the requests leave together.
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                let req = http::Request::get(url.as_str())
                    .header("host", HOST)
                    .body(full(""))
                    .unwrap();
                start.wait().await;
                read(sender.send_request(req).await.unwrap()).await
            })
        })
        .collect();
    let mut ok = 0;
    let mut replayed = 0;
    for t in tasks {
        let got = t.await.unwrap();
        match (got.status, got.reason().as_deref()) {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::FORBIDDEN, Some("replayed")) => replayed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((ok, replayed), (1, 49));
    assert_eq!(lab.backend.count(), before + 1);
}

#[tokio::test]
async fn a_url_is_accepted_once_in_memory() {
    let lab = Lab::start(Setup::default()).await;
    replay_once_then_refused(&lab).await;
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_url_is_accepted_once_through_redis() {
    let tail = redis_tail();
    let lab = Lab::start(Setup {
        tail: &tail,
        ..Setup::default()
    })
    .await;
    replay_once_then_refused(&lab).await;
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_replayed_url_opens_no_session_in_redirect_mode_either() {
    let store = TestStore::new();
    let backend = crate::raw::RawBackend::start().await;
    store.put_credential("grafana-token", crate::GRAFANA_TOKEN);
    let (kid, secret) = store.create_secret("main", &[]);
    let toml = crate::lab_toml(&store, backend.addr, Setup::default()).replacen(
        "on_success = \"forward\"\n",
        "on_success = \"redirect\"\n",
        1,
    );
    let proxy = Proxy::start(&toml).await;
    let url = sign(&kid, &secret, "/d/x", "u", &[]);
    let first = get(proxy.public, &url, &[]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert!(first.cookie().is_some());
    let again = get(proxy.public, &url, &[]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.reason().as_deref(), Some("replayed"));
    assert!(again.headers.get("set-cookie").is_none());
    assert_eq!(backend.count(), 0);
    proxy.stop().await;
}
