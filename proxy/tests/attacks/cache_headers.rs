//! Cache headers: no shared cache may keep a refusal (it would answer the
//! next viewer with it) or a response that sets a session cookie (it
//! would hand the session to the next viewer).

use std::time::Duration;

use http::StatusCode;

use crate::support::*;
use crate::{Lab, Setup};

fn assert_no_store(got: &Got, what: &str) {
    let values: Vec<_> = got.headers.get_all("cache-control").iter().collect();
    assert_eq!(values.len(), 1, "{what}: {values:?}");
    let v = values[0].to_str().unwrap();
    assert!(v.split(',').any(|d| d.trim() == "no-store"), "{what}: {v}");
    assert!(
        !v.contains("public") && !v.contains("max-age"),
        "{what}: {v}"
    );
}

#[tokio::test]
async fn every_refusal_says_no_store() {
    let lab = Lab::start(Setup {
        scopes: &["/d/"],
        route_d: "",
        ..Setup::default()
    })
    .await;
    let addr = lab.proxy.public;
    let (off_kid, off_secret) = lab.store.create_secret("off", &[]);
    lab.store
        .store
        .deactivate_embed_secret(
            &embedgate_store::Lookup::client_id(off_kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    let t = now();
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let used = lab.url("/d/x", "u", &[]);
    assert_eq!(get(addr, &used, &[]).await.status, StatusCode::OK);
    let short = get(
        addr,
        &sign_session(
            &lab.kid,
            &lab.secret,
            "/d/x",
            "u",
            &[],
            t + 300,
            &nonce(),
            Some(1),
        ),
        &[],
    )
    .await
    .cookie()
    .unwrap();

    // (reason, target, with the session cookie)
    let cases: Vec<(&str, String, bool)> = vec![
        ("malformed", format!("{used}&eg_bogus=1"), false),
        (
            "unknown_key",
            sign("ek_nobody", &lab.secret, "/d/x", "u", &[]),
            false,
        ),
        (
            "key_inactive",
            sign(&off_kid, &off_secret, "/d/x", "u", &[]),
            false,
        ),
        (
            "bad_signature",
            sign(&lab.kid, "wrong", "/d/x", "u", &[]),
            false,
        ),
        (
            "expired",
            sign_with(&lab.kid, &lab.secret, "/d/x", "u", &[], t - 600, &nonce()),
            false,
        ),
        (
            "exp_too_far",
            sign_with(
                &lab.kid,
                &lab.secret,
                "/d/x",
                "u",
                &[],
                t + 100_000,
                &nonce(),
            ),
            false,
        ),
        ("replayed", used.clone(), false),
        ("out_of_scope", lab.url("/g/x", "u", &[]), false),
        ("no_session", "/d/y".to_owned(), false),
        ("no_route", "/elsewhere".to_owned(), true),
        ("out_of_scope", "/public/y".to_owned(), true),
    ];
    for (reason, target, with_cookie) in &cases {
        let headers: &[(&str, &str)] = if *with_cookie {
            &[("cookie", cookie.as_str())]
        } else {
            &[]
        };
        let got = get(addr, target, headers).await;
        assert_eq!(got.reason().as_deref(), Some(*reason), "{target}");
        assert_no_store(&got, reason);
    }
    // session_expired, once its second has passed.
    let expired = within(Duration::from_secs(4), || async {
        let got = get(addr, "/d/y", &[("cookie", &short)]).await;
        got.reason().as_deref() == Some("session_expired")
    })
    .await;
    assert!(expired.is_some());
    assert_no_store(
        &get(addr, "/d/y", &[("cookie", &short)]).await,
        "session_expired",
    );
    // session_revoked.
    lab.store
        .store
        .deactivate_embed_secret(
            &embedgate_store::Lookup::client_id(lab.kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    let got = get(addr, "/d/y", &[("cookie", &cookie)]).await;
    assert_eq!(got.reason().as_deref(), Some("session_revoked"));
    assert_no_store(&got, "session_revoked");
    lab.proxy.stop().await;
}

#[tokio::test]
async fn busy_and_upstream_failures_say_no_store() {
    // A closed port for one route, a backend that never answers for the
    // other, a replay cache of two entries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let tail = format!(
        "[[routes]]\nname = \"down\"\nprefix = \"/down/\"\nupstream = \"http://{closed}\"\non_success = \"forward\"\n\n\
         [[routes]]\nname = \"hang\"\nprefix = \"/hang/\"\nupstream = \"http://{silent_addr}\"\non_success = \"forward\"\n"
    );
    let lab = Lab::start_with(
        Setup {
            verify: "replay_cache_entries = 2",
            tail: &tail,
            ..Setup::default()
        },
        |t| t.replace("response_timeout = \"5s\"", "response_timeout = \"300ms\""),
    )
    .await;
    let addr = lab.proxy.public;
    let down = get(addr, &lab.url("/down/x", "u", &[]), &[]).await;
    assert_eq!(down.reason().as_deref(), Some("upstream_unavailable"));
    assert_no_store(&down, "upstream_unavailable");
    let hang = get(addr, &lab.url("/hang/x", "u", &[]), &[]).await;
    assert_eq!(hang.reason().as_deref(), Some("upstream_timeout"));
    assert_no_store(&hang, "upstream_timeout");
    // A cache of 2 entries holds one per shard (16): a URL finds it full
    // within 17 at most.
    let mut busy = None;
    for _ in 0..17 {
        let got = get(addr, &lab.url("/d/x", "u", &[]), &[]).await;
        if got.status == StatusCode::SERVICE_UNAVAILABLE {
            busy = Some(got);
            break;
        }
    }
    let busy = busy.expect("the replay cache never filled");
    assert_eq!(busy.reason().as_deref(), Some("busy"));
    assert_no_store(&busy, "busy");
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_response_that_sets_a_session_is_never_cacheable() {
    let lab = Lab::start(Setup::default()).await;
    let addr = lab.proxy.public;
    // Forward mode: the backend says `public, max-age=3600`; the proxy's
    // answer carries the session, so it is private and not stored.
    let got = get(addr, &lab.url("/d/cache", "u", &[]), &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.cookie().is_some());
    assert_no_store(&got, "forwarded signed URL");
    assert!(got.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("private"));
    assert_eq!(got.headers["referrer-policy"], "no-referrer");
    lab.proxy.stop().await;

    // Redirect mode (the default): the 303 that sets the cookie.
    let store = TestStore::new();
    let backend = crate::raw::RawBackend::start().await;
    let (kid, secret) = store.create_secret("main", &[]);
    let proxy = Proxy::start(&config_toml_for(
        &store,
        backend.addr,
        "on_success = \"redirect\"",
    ))
    .await;
    let got = get(
        proxy.public,
        &sign(&kid, &secret, "/d/cache", "u", &[]),
        &[],
    )
    .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert!(got.cookie().is_some());
    assert_no_store(&got, "redirect");
    assert_eq!(got.headers["referrer-policy"], "no-referrer");
    proxy.stop().await;
}
