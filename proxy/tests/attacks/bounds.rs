//! Resource bounds: oversized or overfull input is answered quickly with a
//! 4xx (or the connection is closed), costs the proxy nothing lasting,
//! and reaches the backend only when it is a valid request.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::raw;
use crate::support::*;
use crate::{raw_get, Lab, Setup, QUIET};

/// Generous on a loaded 2-core machine; an unbounded parse would take far longer.
const QUICK: Duration = Duration::from_secs(3);

async fn still_serving(lab: &Lab, cookie: &str) {
    let got = get(lab.proxy.public, "/d/alive", &[("cookie", cookie)]).await;
    assert_eq!(got.status, StatusCode::OK, "the proxy stopped serving");
}

#[tokio::test]
async fn a_one_megabyte_query_is_refused_quickly() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let cookie_line = format!("Cookie: {cookie}");
    let before = lab.backend.count();
    for query in [
        format!("a={}", "x".repeat(1 << 20)),
        format!("{}&eg_kid=x", "a=1&".repeat(1 << 18)),
    ] {
        let started = Instant::now();
        let got = raw::exchange(
            lab.proxy.public,
            &raw_get(&format!("/d/big?{query}"), &[cookie_line.as_str()]),
            QUIET,
        )
        .await;
        let statuses = got.statuses();
        assert!(
            statuses.is_empty() || statuses.iter().all(|s| (400..500).contains(s)),
            "{statuses:?}"
        );
        assert!(started.elapsed() < QUICK + QUIET, "{:?}", started.elapsed());
    }
    assert_eq!(lab.backend.count(), before);
    still_serving(&lab, &cookie).await;
    lab.proxy.stop().await;
}

#[tokio::test]
async fn ten_thousand_parameters_are_bounded_work() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    // Short pairs, so the request line stays under the URI limit (64 KB).
    let many: String = (0..10_000u32)
        .map(|i| format!("{}={}", char::from(b'a' + (i % 26) as u8), i % 10))
        .collect::<Vec<_>>()
        .join("&");
    // Signed with them: verified (or refused) in bounded time.
    let url = lab.url(&format!("/d/many?{many}"), "viewer", &[]);
    let started = Instant::now();
    let got = raw::exchange(lab.proxy.public, &raw_get(&url, &[]), QUIET).await;
    assert!(started.elapsed() < QUICK + QUIET, "{:?}", started.elapsed());
    let statuses = got.statuses();
    assert!(
        statuses.len() == 1 && (statuses[0] == 200 || (400..500).contains(&statuses[0])),
        "{statuses:?}"
    );
    // Tampered with them: refused, in bounded time.
    let tampered = url.replacen("&a=0&", "&a=1&", 1);
    assert_ne!(tampered, url);
    let started = Instant::now();
    let got = raw::exchange(lab.proxy.public, &raw_get(&tampered, &[]), QUIET).await;
    assert!(started.elapsed() < QUICK + QUIET);
    let statuses = got.statuses();
    assert!(
        statuses.iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    // Ten thousand `eg_` look-alikes beside a session cookie.
    let fake: String = vec!["eg_=1"; 10_000].join("&");
    let started = Instant::now();
    let cookie_line = format!("Cookie: {cookie}");
    let got = raw::exchange(
        lab.proxy.public,
        &raw_get(&format!("/d/fake?{fake}"), &[cookie_line.as_str()]),
        QUIET,
    )
    .await;
    assert!(started.elapsed() < QUICK + QUIET);
    assert!(got.statuses().iter().all(|s| *s < 500), "{}", got.text());
    still_serving(&lab, &cookie).await;
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_hundred_kilobyte_cookie_is_no_session() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let (name, value) = cookie.split_once('=').unwrap();
    let before = lab.backend.count();
    for header in [
        format!("{name}={value}{}", "A".repeat(100 << 10)),
        format!("{name}=v2.{}", "A".repeat(100 << 10)),
        format!("{name}={}", ".".repeat(100 << 10)),
        // Many small cookies before ours.
        format!("{}{name}=x", "a=1; ".repeat(20_000)),
    ] {
        let started = Instant::now();
        let got = raw::exchange(
            lab.proxy.public,
            &raw_get("/d/y", &[&format!("Cookie: {header}")]),
            QUIET,
        )
        .await;
        assert!(started.elapsed() < QUICK + QUIET);
        let statuses = got.statuses();
        assert!(
            statuses.is_empty() || statuses.iter().all(|s| (400..500).contains(s)),
            "{statuses:?}"
        );
    }
    assert_eq!(lab.backend.count(), before);
    still_serving(&lab, &cookie).await;
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_full_replay_cache_fails_closed() {
    // 3 entries: the cache's 16 shards hold one each, so at most 16 URLs
    // are accepted, and then every new one is refused.
    let lab = Lab::start(Setup {
        verify: "replay_cache_entries = 3",
        ..Setup::default()
    })
    .await;
    let addr = lab.proxy.public;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let before = lab.backend.count();
    let (mut ok, mut busy) = (0, 0);
    for _ in 0..40 {
        let got = get(addr, &lab.url("/d/x", "u", &[]), &[]).await;
        match got.status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                // Full of live entries: refused, not accepted unchecked.
                assert_eq!(got.reason().as_deref(), Some("busy"));
                assert!(got.headers.get("set-cookie").is_none());
                busy += 1;
            }
            other => panic!("{other}: {:?}", got.body),
        }
    }
    assert!(ok < 16 && busy >= 40 - 16, "{ok} accepted, {busy} busy");
    assert_eq!(lab.backend.count(), before + ok);
    // Sessions already open carry on.
    still_serving(&lab, &cookie).await;
    lab.proxy.stop().await;
}
