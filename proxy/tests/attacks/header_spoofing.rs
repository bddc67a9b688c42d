//! Header spoofing: a viewer with a valid session (or a valid signed URL)
//! adds headers that would make the backend trust something the signer
//! never said: identity headers in any case, with `_` for `-` (every CGI
//! or WSGI server reads `X_Embed_User` as `X-Embed-User`), twice, another
//! route's identity headers, forwarding and rewrite headers, and a
//! `Connection` header naming the proxy's own headers.

use http::StatusCode;

use crate::raw::RawRequest;
use crate::support::*;
use crate::{raw, raw_get, Lab, Setup, GRAFANA_TOKEN, QUIET};

/// What a hostile client sends beside its valid session.
const SPOOFED: &[&str] = &[
    "X-EMBED-USER: mallory",
    "x-embed-user: mallory",
    "X_Embed_User: mallory",
    "X-Embed-Attr-Role: admin",
    "X_Embed_Attr_Role: admin",
    "x_embed_attr_tenant: globex",
    "X-Embed-Key: ek_mallory",
    "X_Embed_Key: ek_mallory",
    "X-WEBAUTH-USER: mallory",
    "X_WEBAUTH_USER: mallory",
    "X-WEBAUTH-EMAIL: mallory@example.com",
    "X-Grafana-Role: Admin",
    "X_Grafana_Role: Admin",
    "Authorization: Bearer stolen",
    "X-Forwarded-For: 6.6.6.6",
    "X_Forwarded_For: 6.6.6.6",
    "X-Forwarded-Host: evil.example",
    "X-Forwarded-Proto: https",
    "X-Forwarded-User: mallory",
    "X-Forwarded-Email: mallory@example.com",
    "X-Forwarded-Prefix: /admin",
    "Forwarded: for=6.6.6.6;host=evil.example",
    "X-Real-IP: 6.6.6.6",
    "X-Real_IP: 6.6.6.6",
    "X-Client-IP: 6.6.6.6",
    "True-Client-IP: 6.6.6.6",
    "X-Original-URL: /admin",
    "X-Rewrite-URL: /admin",
    "X-Remote-User: mallory",
    "Remote-User: mallory",
    "Remote_User: mallory",
    "X-Auth-Request-User: mallory",
    "X-Auth-Request-Email: mallory@example.com",
    "X_Auth_Request_Groups: admins",
    "X-Debug_Mode: 1",
];

/// Words that only a spoofed header carries.
const TELLTALES: &[&str] = &[
    "mallory",
    "admin",
    "Admin",
    "globex",
    "6.6.6.6",
    "evil.example",
    "stolen",
];

/// The backend saw exactly the proxy's view: one user header with the
/// signed user, the signed attributes only, the proxy's forwarding
/// headers, and nothing a spoofed header carried.
fn assert_clean(seen: &RawRequest, user_header: &str, sub: &str, kid: &str) {
    let head = seen.text();
    assert_eq!(seen.cgi_values(user_header), [sub], "{head}");
    assert_eq!(seen.cgi_values("x-embed-key"), [kid], "{head}");
    assert_eq!(seen.cgi_values("x-forwarded-for"), ["127.0.0.1"], "{head}");
    assert_eq!(seen.cgi_values("x-forwarded-host"), [HOST], "{head}");
    assert_eq!(seen.cgi_values("x-forwarded-proto"), ["http"], "{head}");
    for gone in [
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-remote-user",
        "remote-user",
        "x-forwarded-user",
        "x-forwarded-email",
        "x-forwarded-prefix",
        "x-auth-request-user",
        "x-auth-request-email",
        "x-auth-request-groups",
        "x-webauth-email",
        "x-debug-mode",
    ] {
        assert_eq!(
            seen.cgi_values(gone),
            Vec::<String>::new(),
            "{gone}: {head}"
        );
    }
    for (name, _) in &seen.headers {
        assert!(
            !name.contains('_'),
            "a header with _ reached the backend: {head}"
        );
    }
    for word in TELLTALES {
        assert!(!head.contains(word), "{word:?} reached the backend: {head}");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_backend() {
    let lab = Lab::start(Setup::default()).await;
    let addr = lab.proxy.public;
    let cookie_d = lab.session("/d/x", "viewer", &[("tenant", "acme")]).await;
    let cookie_g = lab.session("/g/x", "viewer", &[]).await;

    // On a session request of each route, and on a signed URL.
    for (target, cookie, user_header) in [
        ("/d/page".to_owned(), Some(&cookie_d), "x-embed-user"),
        ("/g/page".to_owned(), Some(&cookie_g), "x-webauth-user"),
        (
            lab.url("/d/signed", "viewer", &[("tenant", "acme")]),
            None,
            "x-embed-user",
        ),
    ] {
        let mut headers: Vec<String> = SPOOFED.iter().map(|s| (*s).to_owned()).collect();
        if let Some(c) = cookie {
            headers.push(format!("Cookie: {c}"));
        }
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let before = lab.backend.count();
        let got = raw::exchange(addr, &raw_get(&target, &headers), QUIET).await;
        assert_eq!(got.statuses(), [200], "{target}: {}", got.text());
        assert_eq!(lab.backend.count(), before + 1);
        let seen = lab.backend.last();
        assert_clean(&seen, user_header, "viewer", &lab.kid);
        if user_header == "x-embed-user" {
            assert_eq!(seen.cgi_values("x-embed-attr-tenant"), ["acme"]);
            assert_eq!(seen.cgi_values("x-webauth-user"), Vec::<String>::new());
            assert_eq!(seen.cgi_values("authorization"), Vec::<String>::new());
        } else {
            assert_eq!(seen.cgi_values("x-embed-user"), Vec::<String>::new());
            assert_eq!(
                seen.cgi_values("authorization"),
                [format!("Bearer {GRAFANA_TOKEN}")]
            );
        }
        assert_eq!(seen.cgi_values("x-embed-attr-role"), Vec::<String>::new());
        assert_eq!(seen.cgi_values("x-grafana-role"), Vec::<String>::new());
    }
    lab.proxy.stop().await;
}

#[tokio::test]
async fn another_routes_identity_header_does_not_pass_through() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    // Route /d/ does not use X-WEBAUTH-USER, but the Grafana route does:
    // it must not reach /d/'s backend either (it may be the same server).
    let got = get(
        lab.proxy.public,
        "/d/y",
        &[
            ("cookie", &cookie),
            ("x-webauth-user", "admin"),
            ("x-grafana-role", "Admin"),
            ("authorization", "Bearer stolen"),
        ],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let seen = lab.backend.last();
    assert_eq!(
        seen.cgi_values("x-webauth-user"),
        Vec::<String>::new(),
        "{}",
        seen.text()
    );
    assert_eq!(seen.cgi_values("x-grafana-role"), Vec::<String>::new());
    assert_eq!(seen.cgi_values("authorization"), Vec::<String>::new());
    lab.proxy.stop().await;
}

#[tokio::test]
async fn connection_naming_protected_headers_changes_nothing() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    // Hop-by-hop abuse: a proxy that honoured these tokens after setting
    // its own headers would drop them (the backend would see no user, or
    // take the request for an internal one); one that honoured them before
    // stripping could let the client's copy through.
    for connection in [
        "X-Embed-User, X-Embed-Key, X-Forwarded-For",
        "x-forwarded-host, x-forwarded-proto, keep-alive",
        "X_Embed_User, Cookie, Host, Content-Length",
        "close, X-WEBAUTH-USER, Authorization",
    ] {
        let cookie_line = format!("Cookie: {cookie}");
        let conn_line = format!("Connection: {connection}");
        let headers = [
            cookie_line.as_str(),
            conn_line.as_str(),
            "X-Embed-User: mallory",
            "X_Embed_User: mallory",
            "X-Forwarded-For: 6.6.6.6",
            "X-WEBAUTH-USER: mallory",
        ];
        let got = raw::exchange(lab.proxy.public, &raw_get("/d/conn", &headers), QUIET).await;
        assert_eq!(got.statuses(), [200], "{connection}: {}", got.text());
        let seen = lab.backend.last();
        assert_clean(&seen, "x-embed-user", "viewer", &lab.kid);
        assert_eq!(seen.cgi_values("connection").len(), 0, "{}", seen.text());
    }
    // The Grafana route keeps its injected credential too.
    let cookie_g = lab.session("/g/x", "viewer", &[]).await;
    let cookie_line = format!("Cookie: {cookie_g}");
    let headers = [
        cookie_line.as_str(),
        "Connection: Authorization, X-WEBAUTH-USER",
    ];
    let got = raw::exchange(lab.proxy.public, &raw_get("/g/conn", &headers), QUIET).await;
    assert_eq!(got.statuses(), [200], "{}", got.text());
    let seen = lab.backend.last();
    assert_eq!(seen.cgi_values("x-webauth-user"), ["viewer"]);
    assert_eq!(
        seen.cgi_values("authorization"),
        [format!("Bearer {GRAFANA_TOKEN}")]
    );
    lab.proxy.stop().await;
}

#[tokio::test]
async fn strip_list_and_allow_underscores() {
    // Default: other headers with `_` go too (nginx's behaviour).
    let lab = Lab::start(Setup {
        tail: "[headers]\nstrip = [\"X-Internal-Token\", \"X-Debug\"]\n",
        ..Setup::default()
    })
    .await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let got = get(
        lab.proxy.public,
        "/d/y",
        &[
            ("cookie", &cookie),
            ("x-internal-token", "t"),
            ("x_internal_token", "t"),
            ("x-debug", "1"),
            ("x_custom", "1"),
            ("x-kept", "1"),
        ],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let seen = lab.backend.last();
    for gone in ["x-internal-token", "x-debug", "x-custom"] {
        assert_eq!(
            seen.cgi_values(gone),
            Vec::<String>::new(),
            "{}",
            seen.text()
        );
    }
    assert_eq!(seen.cgi_values("x-kept"), ["1"]);
    lab.proxy.stop().await;

    // allow_underscores: other `_` names pass; protected ones never do.
    let lab = Lab::start(Setup {
        tail: "[headers]\nallow_underscores = true\n",
        ..Setup::default()
    })
    .await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let got = get(
        lab.proxy.public,
        "/d/y",
        &[
            ("cookie", &cookie),
            ("x_custom", "1"),
            ("x_embed_user", "mallory"),
            ("x_embed_attr_role", "admin"),
            ("x_forwarded_for", "6.6.6.6"),
            ("x_webauth_user", "mallory"),
            ("remote_user", "mallory"),
        ],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let seen = lab.backend.last();
    assert_eq!(seen.cgi_values("x-custom"), ["1"], "{}", seen.text());
    assert_clean_underscores_allowed(&seen, &lab.kid);
    lab.proxy.stop().await;
}

fn assert_clean_underscores_allowed(seen: &RawRequest, kid: &str) {
    let head = seen.text();
    assert_eq!(seen.cgi_values("x-embed-user"), ["viewer"], "{head}");
    assert_eq!(seen.cgi_values("x-embed-key"), [kid], "{head}");
    assert_eq!(seen.cgi_values("x-forwarded-for"), ["127.0.0.1"], "{head}");
    for word in TELLTALES {
        assert!(!head.contains(word), "{word:?} reached the backend: {head}");
    }
}

#[tokio::test]
async fn malformed_header_lines_are_refused_not_forwarded() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let cookie_line = format!("Cookie: {cookie}");
    let before = lab.backend.count();
    // A space before the colon, a folded line, a NUL: readers disagree on
    // these, so they must never be passed on as something else.
    for bad in [
        "X-Embed-User : mallory",
        "X-Embed-User:\tmallory\r\n mallory2",
        "X-Note: a\0b",
        "X-Embed-User\t: mallory",
    ] {
        let got = raw::exchange(
            lab.proxy.public,
            &raw_get("/d/bad", &[cookie_line.as_str(), bad]),
            QUIET,
        )
        .await;
        let statuses = got.statuses();
        assert!(
            statuses.is_empty() || statuses == [400],
            "{bad:?}: {}",
            got.text()
        );
    }
    assert_eq!(
        lab.backend.count(),
        before,
        "a malformed head was forwarded"
    );
    lab.proxy.stop().await;
}
