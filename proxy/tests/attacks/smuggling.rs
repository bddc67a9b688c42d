//! Request smuggling: ambiguous framing on the client side must never let
//! a second request ride along, to the proxy or to the backend. A
//! smuggled request carries no cookie; it may be answered (401) or the
//! connection closed, but it never reaches the backend, and the backend
//! never sees framing it could read two ways.

use crate::raw::{self, RawRequest};
use crate::support::HOST;
use crate::{Lab, Setup, QUIET};

/// A request that must never reach the backend.
fn smuggled() -> String {
    format!("GET /d/smuggled HTTP/1.1\r\nHost: {HOST}\r\nX-Smuggled: 1\r\n\r\n")
}

fn assert_not_smuggled(seen: &[RawRequest]) {
    for r in seen {
        let head = r.text();
        assert!(
            !head.contains("smuggled") && !head.to_ascii_lowercase().contains("x-smuggled"),
            "a smuggled request reached the backend: {head}"
        );
        // What reaches the backend is framed one way only.
        let framing =
            r.cgi_values("content-length").len() + r.cgi_values("transfer-encoding").len();
        assert!(framing <= 1, "ambiguous framing upstream: {head}");
    }
}

#[tokio::test]
async fn ambiguous_framing_smuggles_nothing() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let s = smuggled();
    let body_len = s.len() + 5; // "0\r\n\r\n" + the smuggled request
    let cases: Vec<(&str, String)> = vec![
        (
            "CL+TE",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Length: {body_len}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "TE+CL",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "obfuscated TE (xchunked)",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Length: {body_len}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "obfuscated TE (chunked, identity)",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "obfuscated TE (two headers)",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: {body_len}\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "obfuscated TE (space before colon)",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding : chunked\r\nContent-Length: {body_len}\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "obfuscated TE (vertical tab)",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding:\x0bchunked\r\nContent-Length: {body_len}\r\n\r\n0\r\n\r\n{s}"
            ),
        ),
        (
            "two Content-Length",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{s}",
                s.len()
            ),
        ),
        (
            "Content-Length list",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Length: 0, {}\r\n\r\n{s}",
                s.len()
            ),
        ),
        (
            "signed Content-Length",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Length: +0\r\n\r\n{s}"
            ),
        ),
        (
            "bare LF",
            format!(
                "GET /d/lf HTTP/1.1\nHost: {HOST}\nCookie: {cookie}\nX-Embed-User: mallory\n\n{s}"
            ),
        ),
        (
            "bare LF inside a header line",
            format!(
                "GET /d/lf HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\nX-Embed-User: mallory\r\n\r\n{s}"
            ),
        ),
        (
            "chunk size with extension and trailer",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Embed-User: mallory\r\n\r\n{s}"
            ),
        ),
        (
            "oversized chunk size",
            format!(
                "POST /d/up HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n{s}"
            ),
        ),
    ];
    for (what, request) in &cases {
        let before = lab.backend.count();
        let got = raw::exchange(lab.proxy.public, request.as_bytes(), QUIET).await;
        // The smuggled request is answered as what it is (no session:
        // 401) or not at all; nothing is answered 2xx twice.
        let statuses = got.statuses();
        assert!(
            statuses.iter().filter(|s| **s < 300).count() <= 1,
            "{what}: {}",
            got.text()
        );
        assert!(statuses.iter().all(|s| *s < 500), "{what}: {}", got.text());
        let seen = lab.backend.requests();
        assert_not_smuggled(&seen[before..]);
        for r in &seen[before..] {
            assert_eq!(
                r.cgi_values("x-embed-user"),
                ["viewer"],
                "{what}: {}",
                r.text()
            );
        }
    }
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_pipelined_request_without_a_cookie_is_not_forwarded() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let before = lab.backend.count();
    let pipelined = format!(
        "GET /d/first HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n\
         GET /d/second HTTP/1.1\r\nHost: {HOST}\r\n\r\n\
         GET /d/third HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    let got = raw::exchange(lab.proxy.public, pipelined.as_bytes(), QUIET).await;
    // Keep-alive carries no authority: each request is checked on its own.
    assert_eq!(got.statuses(), [200, 401, 200], "{}", got.text());
    let targets: Vec<String> = lab.backend.requests()[before..]
        .iter()
        .map(|r| r.target().to_owned())
        .collect();
    assert_eq!(targets, ["/d/first", "/d/third"]);
    lab.proxy.stop().await;
}
