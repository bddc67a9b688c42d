//! Path normalisation: a session (or a signed URL) for `/d/sales` must not
//! reach anything else, however the path is spelled. Backends disagree on
//! dot segments, `;` parameters, encoded slashes and backslashes: whatever
//! reaches the backend must lie inside the scope even as the most lenient
//! of them reads it.

use http::StatusCode;

use crate::raw::{self, RawBackend};
use crate::support::*;
use crate::{Lab, Setup, QUIET};

/// A path as a lenient backend reads it: `%XX` decoded once, `\` as `/`,
/// each segment cut at its first `;`, empty and `.` segments dropped,
/// `..` going up.
fn lenient(path: &str) -> String {
    let b = path.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                decoded.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(b[i]);
        i += 1;
    }
    let text = String::from_utf8_lossy(&decoded).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        match segment.split(';').next().unwrap_or_default() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn in_sales(path: &str) -> bool {
    let p = lenient(path);
    p == "/d/sales" || p.starts_with("/d/sales/")
}

const HOSTILE: &[&str] = &[
    "/d/sales/../admin",
    "/d/sales/..;/admin",
    "/d/sales/..;x=1/admin",
    "/d/sales;x=1/../admin",
    "/d/sales;/../../d/admin",
    "/d/sales/q1;/../../admin",
    "/d/sales/%2e%2e/admin",
    "/d/sales/%2E%2E;/admin",
    "/d/sales/.%2e/admin",
    "/d/sales/%2e./admin",
    "/d/sales%2F..%2Fadmin",
    "/d/sales/..%2Fadmin",
    "/d/sales%2f%2e%2e%2fadmin",
    "/d/sales\\..\\admin",
    "/d/sales/..\\admin",
    "/d/sales/%5c..%5cadmin",
    "/d/sales/%5C%2e%2e%5Cadmin",
    "/d/sales//../admin",
    "/d/./sales/../../d/admin",
    "/d/sales/./../admin",
    "/d/sales/x/..",
    "/d/sales/x/../..",
    "/d/sales%00/../admin",
    "/d/sales/%00/../admin",
    "/d/sales/%0a/../admin",
    "/d/salesforce",
    "/d/sales%2e%2e/admin",
    "/public/../d/admin",
    "/D/sales/../admin",
    "/d/sales/%u002e%u002e/admin",
    "/d/sales/..%00/admin",
    "/d/sales/..%252f/admin",
    "http://embed.test/d/sales/../admin",
    "//d/sales/../admin",
    "d/sales",
    "*",
];

#[tokio::test]
async fn no_spelling_of_a_path_leaves_the_session_scope() {
    let lab = Lab::start(Setup {
        scopes: &["/d/sales"],
        ..Setup::default()
    })
    .await;
    let cookie = lab.session("/d/sales/q1", "viewer", &[]).await;
    let cookie_line = format!("Cookie: {cookie}");
    let before = lab.backend.count();
    for target in HOSTILE {
        let got = raw::exchange(
            lab.proxy.public,
            &crate::raw_get(target, &[cookie_line.as_str()]),
            QUIET,
        )
        .await;
        let statuses = got.statuses();
        assert!(
            statuses.len() <= 1 && statuses.iter().all(|s| *s < 500),
            "{target}: {}",
            got.text()
        );
        if statuses.first().is_some_and(|s| *s < 400) {
            assert!(in_sales(target), "{target} was served: {}", got.text());
        }
    }
    check_backend_saw_only_the_scope(&lab.backend, before);

    // Inside the scope is served, with the path the proxy verified.
    let ok = get(lab.proxy.public, "/d/sales/q2/", &[("cookie", &cookie)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(lab.backend.last().target(), "/d/sales/q2/");
    lab.proxy.stop().await;
}

fn check_backend_saw_only_the_scope(backend: &RawBackend, before: usize) {
    for r in &backend.requests()[before..] {
        let path = r.target().split('?').next().unwrap_or_default();
        assert!(in_sales(path), "the backend got {:?}", r.request_line);
    }
}

#[tokio::test]
async fn a_signed_url_with_a_respelled_path_is_refused() {
    let lab = Lab::start(Setup {
        scopes: &["/d/sales"],
        ..Setup::default()
    })
    .await;
    let before = lab.backend.count();
    for hostile in HOSTILE.iter().filter(|h| h.starts_with("/d/sales")) {
        // The signature covers /d/sales/q1; the request names another path
        // that a lenient reader might take for it, or for something else.
        let url = lab.url("/d/sales/q1", "viewer", &[]);
        let query = url.split_once('?').unwrap().1;
        let target = format!("{hostile}?{query}");
        let got = raw::exchange(lab.proxy.public, &crate::raw_get(&target, &[]), QUIET).await;
        let statuses = got.statuses();
        assert!(
            statuses.is_empty() || (statuses.len() == 1 && (400..500).contains(&statuses[0])),
            "{target}: {}",
            got.text()
        );
    }
    // A URL for a path outside the secret's scope, correctly signed.
    let got = get(lab.proxy.public, &lab.url("/d/admin", "viewer", &[]), &[]).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(got.reason().as_deref(), Some("out_of_scope"));
    assert_eq!(lab.backend.count(), before);
    lab.proxy.stop().await;
}

#[test]
fn the_lenient_reader_reads_as_servers_do() {
    assert_eq!(lenient("/d/sales/..;/admin"), "/d/admin");
    assert_eq!(lenient("/d/sales/%2e%2e/../admin"), "/admin");
    assert_eq!(lenient("/d/sales%2F..%2Fadmin"), "/d/admin");
    assert_eq!(lenient("/d/sales\\..\\admin"), "/d/admin");
    assert_eq!(lenient("/d/sales;x/q"), "/d/sales/q");
    assert!(in_sales("/d/sales/q2/"));
    assert!(!in_sales("/d/salesforce"));
}
