//! Cookie tampering and cross-route use: a session cookie opens only what
//! it was issued for, unchanged, under its own name and route.

use http::StatusCode;

use crate::support::*;
use crate::{Lab, Setup};

#[tokio::test]
async fn a_changed_cookie_is_no_session() {
    let lab = Lab::start(Setup::default()).await;
    let addr = lab.proxy.public;
    let (other_kid, other_secret) = lab.store.create_secret("other", &[]);
    lab.proxy.reload.reload().await.unwrap();
    let cookie = lab.session("/d/x", "viewer", &[("tenant", "acme")]).await;
    let other = {
        let got = get(
            addr,
            &sign(&other_kid, &other_secret, "/d/x", "other", &[]),
            &[],
        )
        .await;
        got.cookie().unwrap()
    };
    let (name, value) = cookie.split_once('=').unwrap();
    let (_, other_value) = other.split_once('=').unwrap();
    // v2.<kid>.<payload>.<tag>
    let parts: Vec<&str> = value.split('.').collect();
    let other_parts: Vec<&str> = other_value.split('.').collect();
    assert_eq!(parts.len(), 4, "{value}");
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let forged_payload = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = String::from_utf8(b64.decode(parts[2]).unwrap()).unwrap();
        b64.encode(json.replace("viewer", "admin"))
    };
    let bad_values: Vec<(&str, String)> = vec![
        (
            "payload byte",
            format!("v2.{}.{}.{}", parts[1], flip(parts[2], 5), parts[3]),
        ),
        (
            "tag byte",
            format!("v2.{}.{}.{}", parts[1], parts[2], flip(parts[3], 7)),
        ),
        (
            "forged payload",
            format!("v2.{}.{}.{}", parts[1], forged_payload, parts[3]),
        ),
        (
            "tag cut",
            format!("v2.{}.{}.{}", parts[1], parts[2], &parts[3][1..]),
        ),
        ("tag grown", format!("{value}A")),
        ("no tag", format!("v2.{}.{}", parts[1], parts[2])),
        (
            "other key's tag",
            format!("v2.{}.{}.{}", parts[1], parts[2], other_parts[3]),
        ),
        (
            "other key's kid",
            format!("v2.{}.{}.{}", other_parts[1], parts[2], parts[3]),
        ),
        (
            "other payload",
            format!("v2.{}.{}.{}", parts[1], other_parts[2], parts[3]),
        ),
        ("v1", value.replacen("v2.", "v1.", 1)),
        ("quoted", format!("\"{value}\"")),
        ("empty", String::new()),
        (
            "unknown kid",
            format!("v2.ek_nobody.{}.{}", parts[2], parts[3]),
        ),
        ("huge", format!("{value}{}", "A".repeat(20_000))),
    ];
    let before = lab.backend.count();
    for (what, v) in &bad_values {
        let got = get(addr, "/d/y", &[("cookie", &format!("{name}={v}"))]).await;
        assert!(
            got.status == StatusCode::UNAUTHORIZED || got.status == StatusCode::FORBIDDEN,
            "{what}: {} {:?}",
            got.status,
            got.body
        );
        assert_eq!(got.headers["cache-control"], "no-store", "{what}");
    }
    // The name is part of the MAC: the same value under another
    // spelling of the name is no session of this route.
    for wrong_name in [
        name.to_ascii_lowercase(),
        name.replace("embedgate-d", "embedgate-D"),
    ] {
        let got = get(
            addr,
            "/d/y",
            &[("cookie", &format!("{wrong_name}={value}"))],
        )
        .await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{wrong_name}");
    }
    assert_eq!(
        lab.backend.count(),
        before,
        "a changed cookie reached the backend"
    );

    // A forged copy before the real one: never served as anyone else.
    let forged = format!("{name}=v2.{}.{}.{}", parts[1], forged_payload, parts[3]);
    for header in [format!("{forged}; {cookie}"), format!("{cookie}; {forged}")] {
        let got = get(addr, "/d/y", &[("cookie", &header)]).await;
        if got.status == StatusCode::OK {
            let seen = lab.backend.last();
            assert_eq!(
                seen.cgi_values("x-embed-user"),
                ["viewer"],
                "{}",
                seen.text()
            );
        } else {
            assert_eq!(got.status, StatusCode::UNAUTHORIZED);
        }
    }
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_cookie_opens_its_own_route_only() {
    let lab = Lab::start(Setup::default()).await;
    let addr = lab.proxy.public;
    let cookie_d = lab.session("/d/x", "viewer", &[]).await;
    let cookie_g = lab.session("/g/x", "viewer", &[]).await;
    let (name_d, value_d) = cookie_d.split_once('=').unwrap();
    let (name_g, value_g) = cookie_g.split_once('=').unwrap();
    let before = lab.backend.count();
    // A route's cookie on another route's path, and renamed to the other
    // route's cookie name.
    for (path, cookie) in [
        ("/g/y", cookie_d.clone()),
        ("/d/y", cookie_g.clone()),
        ("/g/y", format!("{name_g}={value_d}")),
        ("/d/y", format!("{name_d}={value_g}")),
    ] {
        let got = get(addr, path, &[("cookie", &cookie)]).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{path} {cookie}");
    }
    assert_eq!(lab.backend.count(), before);
    // Each on its own route: served.
    assert_eq!(
        get(addr, "/d/y", &[("cookie", &cookie_d)]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(addr, "/g/y", &[("cookie", &cookie_g)]).await.status,
        StatusCode::OK
    );
    // The proxy's cookies never reach a backend, whichever route.
    let both = format!("{cookie_d}; {cookie_g}; theme=dark");
    assert_eq!(
        get(addr, "/g/z", &[("cookie", &both)]).await.status,
        StatusCode::OK
    );
    let seen = lab.backend.last();
    assert_eq!(seen.cgi_values("cookie"), ["theme=dark"], "{}", seen.text());
    lab.proxy.stop().await;
}
