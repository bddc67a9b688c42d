//! Tampering: a valid signed URL changed in one place at a time. Every
//! change is refused with a stable reason and nothing reaches the backend.

use http::StatusCode;

use crate::support::*;
use crate::{Lab, Setup};

/// Replaces the value of query parameter `name` in `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

fn param<'u>(url: &'u str, name: &str) -> &'u str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
}

#[tokio::test]
async fn every_single_change_to_a_signed_url_is_refused() {
    let lab = Lab::start(Setup::default()).await;
    let addr = lab.proxy.public;
    let (other_kid, _) = lab.store.create_secret("other", &[]);
    lab.proxy.reload.reload().await.unwrap();
    let before = lab.backend.count();

    let fresh = || lab.url("/d/sales?orgId=1", "user-42", &[("tenant", "acme")]);
    let flip = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        let i = b.len() / 2;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let cases: Vec<(&str, String)> = vec![
        ("user", with_param(&fresh(), "eg_sub", "admin")),
        (
            "attribute",
            with_param(&fresh(), "eg_attr.tenant", "globex"),
        ),
        ("expiry", {
            let u = fresh();
            let exp: u64 = param(&u, "eg_exp").parse().unwrap();
            with_param(&u, "eg_exp", &(exp + 60).to_string())
        }),
        ("nonce", {
            let u = fresh();
            let n = flip(param(&u, "eg_nonce"));
            with_param(&u, "eg_nonce", &n)
        }),
        ("signature", {
            let u = fresh();
            let s = flip(param(&u, "eg_sig"));
            with_param(&u, "eg_sig", &s)
        }),
        ("kid", with_param(&fresh(), "eg_kid", &other_kid)),
        (
            "content parameter",
            fresh().replacen("orgId=1", "orgId=2", 1),
        ),
        (
            "added parameter",
            fresh().replacen("orgId=1", "orgId=1&orgId=2", 1),
        ),
        ("removed parameter", fresh().replacen("orgId=1&", "", 1)),
        ("path", fresh().replacen("/d/sales", "/d/salez", 1)),
        ("path case", fresh().replacen("/d/sales", "/d/Sales", 1)),
        ("added attribute", format!("{}&eg_attr.role=admin", fresh())),
        ("duplicated user", format!("{}&eg_sub=admin", fresh())),
        ("signature cut", {
            let u = fresh();
            let s = param(&u, "eg_sig")[1..].to_owned();
            with_param(&u, "eg_sig", &s)
        }),
        ("signature lower-cased", {
            let u = fresh();
            let s = param(&u, "eg_sig").to_ascii_lowercase();
            with_param(&u, "eg_sig", &s)
        }),
        ("signature removed", {
            let u = fresh();
            u.split("&eg_sig=").next().unwrap().to_owned()
        }),
    ];
    for (what, url) in &cases {
        let got = get(addr, url, &[]).await;
        assert!(
            got.status == StatusCode::FORBIDDEN || got.status == StatusCode::BAD_REQUEST,
            "{what}: {} {:?}",
            got.status,
            got.body
        );
        assert!(got.reason().is_some(), "{what}: no reason");
        assert!(got.headers.get("set-cookie").is_none(), "{what}: a session");
    }
    assert_eq!(
        lab.backend.count(),
        before,
        "a tampered URL reached the backend"
    );

    // The untouched URL still works (the cases did not burn it).
    let ok = get(addr, &fresh(), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    lab.proxy.stop().await;
}
