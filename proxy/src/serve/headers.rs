//! Header hygiene between the browser and the content backend.
//!
//! Upstream-bound ([`Hygiene::clean_request`]): hop-by-hop headers go, with
//! those the client's `Connection` names; every protected header goes,
//! compared by its name in lower case with `_` read as `-` (CGI and WSGI
//! servers map `X_Embed_User` and `X-Embed-User` to the same variable): the
//! user header, attribute prefix and upstream-auth header of every route
//! (not only the one serving the request), `X-Embed-*`, the forwarding and
//! client-address headers (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, …),
//! the rewrite headers (`X-Original-URL`, `X-Rewrite-URL`), the identity
//! headers of other auth proxies (`Remote-User`, `X-Auth-Request-*`,
//! `X-WEBAUTH-*`, …) and `[headers] strip`; and, unless `[headers]
//! allow_underscores`, every other name holding `_`. The proxy's own
//! session cookies are cut out of `Cookie`. Then the proxy sets
//! `X-Forwarded-For/Proto/Host` and the verified identity, after the
//! client's `Connection` was applied, so no token in it can remove them.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::config::{HeadersConfig, RouteConfig};

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1;
/// `Proxy-Connection` is the pre-standard spelling of `Connection`).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Client request headers no backend receives from a client, by their
/// normalised name (lower case, `-` for `_`). Documented in
/// docs/security.md; keep the two lists alike.
const PROTECTED: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-remote-user",
    "remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
];

/// Normalised name prefixes no backend receives from a client.
const PROTECTED_PREFIXES: &[&str] = &["x-embed-", "x-forwarded-", "x-auth-request-", "x-webauth-"];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_EMBED_KEY: HeaderName = HeaderName::from_static("x-embed-key");

/// A header name byte as CGI reads it: `_` is `-` (names are lower case).
fn norm(b: u8) -> u8 {
    if b == b'_' {
        b'-'
    } else {
        b.to_ascii_lowercase()
    }
}

fn normalised(name: &str) -> Box<[u8]> {
    name.bytes().map(norm).collect()
}

/// What the proxy removes from a client's request before forwarding it:
/// built once from the configuration, applied to every request.
#[derive(Debug)]
pub struct Hygiene {
    /// Normalised names removed.
    exact: Vec<Box<[u8]>>,
    /// Normalised prefixes: a name starting with one is removed.
    prefixes: Vec<Box<[u8]>>,
    /// The first byte of each name and prefix above: most header names
    /// (`accept`, `cookie`, `user-agent`, …) are told apart by it alone.
    first: [bool; 256],
    allow_underscores: bool,
}

impl Hygiene {
    /// The built-in list, every route's identity and credential headers
    /// and attribute prefix, and `[headers]`.
    pub fn new(routes: &[RouteConfig], cfg: &HeadersConfig) -> Self {
        let mut exact: Vec<Box<[u8]>> = PROTECTED.iter().map(|n| normalised(n)).collect();
        let mut prefixes: Vec<Box<[u8]>> =
            PROTECTED_PREFIXES.iter().map(|p| normalised(p)).collect();
        for r in routes {
            exact.push(normalised(r.user_header.as_str()));
            if let Some(a) = &r.upstream_auth {
                exact.push(normalised(a.header.as_str()));
            }
            prefixes.push(normalised(&r.attr_header_prefix));
        }
        exact.extend(cfg.strip.iter().map(|h| normalised(h.as_str())));
        // What a prefix covers needs no entry of its own.
        exact.retain(|n| !prefixes.iter().any(|p| n.starts_with(p)));
        exact.sort();
        exact.dedup();
        prefixes.sort();
        prefixes.dedup();
        let mut first = [false; 256];
        for n in exact.iter().chain(&prefixes) {
            if let Some(&b) = n.first() {
                first[usize::from(b)] = true;
            }
        }
        Hygiene {
            exact,
            prefixes,
            first,
            allow_underscores: cfg.allow_underscores,
        }
    }

    /// Whether a client's header named `name` (lower case, as
    /// [`HeaderName`]s are) is one the proxy alone may set.
    pub fn is_protected(&self, name: &[u8]) -> bool {
        let Some(&b) = name.first() else {
            return false;
        };
        if !self.first[usize::from(norm(b))] {
            return false;
        }
        let same = |a: &[u8], p: &[u8]| a.iter().zip(p).all(|(&x, &y)| norm(x) == y);
        self.exact
            .iter()
            .any(|p| p.len() == name.len() && same(name, p))
            || self
                .prefixes
                .iter()
                .any(|p| p.len() <= name.len() && same(&name[..p.len()], p))
    }

    /// Whether a client's header goes: hop-by-hop, protected, or holding
    /// `_` without `allow_underscores`.
    fn doomed(&self, name: &HeaderName) -> bool {
        let n = name.as_str().as_bytes();
        HOP_BY_HOP.contains(name)
            || (!self.allow_underscores && n.contains(&b'_'))
            || self.is_protected(n)
    }

    /// Removes from a client's request every header the backend must not
    /// get from a client (see the module's documentation). One pass over
    /// the names, allocating nothing, when there is nothing to remove.
    pub fn clean_request(&self, h: &mut HeaderMap) {
        if !h.keys().any(|k| self.doomed(k)) {
            return;
        }
        // Headers the client's `Connection` names are hop-by-hop too,
        // except those the proxy itself frames and routes the request by.
        // Looked up by `&str` first: no allocation for the usual tokens
        // (`keep-alive`, `close`, `upgrade`).
        let mut named: Vec<HeaderName> = Vec::new();
        for v in h.get_all(header::CONNECTION) {
            let Ok(v) = v.to_str() else {
                continue;
            };
            for token in v.split(',').map(str::trim) {
                if token.is_empty() || !h.contains_key(token) {
                    continue;
                }
                if let Ok(n) = HeaderName::from_bytes(token.as_bytes()) {
                    if n != header::CONTENT_LENGTH && n != header::HOST {
                        named.push(n);
                    }
                }
            }
        }
        for n in named {
            h.remove(n);
        }
        // Usually one or two to remove: found again each time rather than
        // collected.
        while let Some(k) = h.keys().find(|k| self.doomed(k)).cloned() {
            h.remove(&k);
        }
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header
/// names (for responses; requests go through [`Hygiene::clean_request`]).
pub fn remove_hop_by_hop(h: &mut HeaderMap) {
    // Most messages carry none: one pass over the names (equality of
    // standard names is a tag compare) instead of nine hashed removals.
    if !h.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in &HOP_BY_HOP {
        h.remove(n);
    }
}

/// The `name=value` pairs of a `Cookie` header value, trimmed, empty ones
/// skipped. (`HeaderValue::to_str` admits visible ASCII and tabs only, so
/// `trim_ascii` is `trim` here, without decoding characters.)
pub fn cookie_pairs(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(';')
        .map(str::trim_ascii)
        .filter(|pair| !pair.is_empty())
}

/// Cuts cookies whose name starts with `own_prefix` out of `Cookie`; the
/// session cookies are the proxy's business, not the backend's.
pub fn strip_own_cookies(h: &mut HeaderMap, own_prefix: &str) {
    let mut values = h.get_all(header::COOKIE).iter();
    let Some(first) = values.next() else {
        return;
    };
    // One readable header: left as it is without our cookies, removed when
    // it holds only ours (what a browser sends to an embed), without
    // building anything.
    if values.next().is_none() {
        // The usual one, our cookie alone, told without `to_str`'s pass:
        // removed whether readable or not (unreadable, it is dropped below).
        let only = first.as_bytes().trim_ascii();
        if only.starts_with(own_prefix.as_bytes()) && !only.is_empty() && !only.contains(&b';') {
            h.remove(header::COOKIE);
            return;
        }
        if let Ok(s) = first.to_str() {
            let (mut own, mut others) = (false, false);
            for pair in cookie_pairs(s) {
                if pair.starts_with(own_prefix) {
                    own = true;
                } else {
                    others = true;
                }
            }
            if !own {
                return;
            }
            if !others {
                h.remove(header::COOKIE);
                return;
            }
        }
    }
    // Otherwise the others' cookies are joined into one header (none left:
    // no header); unreadable values are dropped.
    let mut kept = String::new();
    for v in &h.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else {
            continue;
        };
        for pair in cookie_pairs(s) {
            if pair.starts_with(own_prefix) {
                continue;
            }
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    h.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept) {
            h.insert(header::COOKIE, v);
        }
    }
}

/// The `X-Forwarded-For` value of a peer: made once per connection.
pub fn forwarded_for(client: IpAddr) -> Option<HeaderValue> {
    HeaderValue::from_str(&client.to_string()).ok()
}

/// Sets `X-Forwarded-For` (the value of [`forwarded_for`]), `-Proto` and `-Host`.
pub fn set_forwarded(
    h: &mut HeaderMap,
    client: Option<&HeaderValue>,
    https: bool,
    host: Option<HeaderValue>,
) {
    if let Some(v) = client {
        h.insert(X_FORWARDED_FOR, v.clone());
    }
    h.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Some(host) = host {
        h.insert(X_FORWARDED_HOST, host);
    }
}

/// A header value from verified identity data: refuses control characters
/// (so nothing can split or inject headers); other bytes pass as they are.
pub fn identity_value(s: &str) -> Option<HeaderValue> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    HeaderValue::from_bytes(s.as_bytes()).ok()
}

/// Sets the verified identity: user header, one header per attribute, the key id.
pub fn set_identity(
    h: &mut HeaderMap,
    route: &RouteConfig,
    kid: &str,
    sub: &str,
    attrs: &[(impl AsRef<str>, impl AsRef<str>)],
) -> Result<(), ()> {
    h.insert(route.user_header.clone(), identity_value(sub).ok_or(())?);
    // One buffer for every attribute's header name.
    let mut name_buf = String::new();
    for (name, value) in attrs {
        name_buf.clear();
        name_buf.push_str(&route.attr_header_prefix);
        name_buf.push_str(name.as_ref());
        let hn = HeaderName::from_bytes(name_buf.as_bytes()).map_err(|_| ())?;
        h.append(hn, identity_value(value.as_ref()).ok_or(())?);
    }
    h.insert(X_EMBED_KEY, HeaderValue::from_str(kid).map_err(|_| ())?);
    Ok(())
}

/// Whether the request asks for a WebSocket (HTTP/1.1 upgrade).
pub fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    let upgrade = h
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    upgrade
        && h.get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cookies_are_cut() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-embedgate-d=v1.x.y; b=2"),
        );
        strip_own_cookies(&mut h, "__Host-embedgate-");
        assert_eq!(
            h.get(header::COOKIE).map(|v| v.as_bytes()),
            Some(&b"a=1; b=2"[..])
        );
    }

    #[test]
    fn a_header_of_our_cookies_alone_goes() {
        let cut = |value: &[u8]| {
            let mut h = HeaderMap::new();
            h.insert(
                header::COOKIE,
                HeaderValue::from_bytes(value).expect("header value"),
            );
            strip_own_cookies(&mut h, "embedgate-");
            h.get(header::COOKIE).map(|v| v.as_bytes().to_vec())
        };
        assert_eq!(cut(b"embedgate-d=v1.x.y"), None);
        assert_eq!(cut(b" embedgate-d=v1.x.y\t"), None);
        assert_eq!(cut(b"embedgate-d=v1.x.y; embedgate-e=1;"), None);
        // Unreadable: dropped, ours or not.
        assert_eq!(cut(b"embedgate-d=\xff"), None);
        assert_eq!(cut(b"a=\xff; embedgate-d=1"), None);
        // Others' cookies stay.
        assert_eq!(cut(b"a=1"), Some(b"a=1".to_vec()));
        assert_eq!(cut(b"embedgate-d=1;a=1"), Some(b"a=1".to_vec()));
        assert_eq!(cut(b"xembedgate-d=1"), Some(b"xembedgate-d=1".to_vec()));
    }

    #[test]
    fn hop_by_hop_named_in_connection() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert!(h.get("x-secret-hop").is_none() && h.get(header::CONNECTION).is_none());
        assert!(h.get("x-kept").is_some());
    }

    fn route(user_header: &'static str, attr: &str, auth: Option<&'static str>) -> RouteConfig {
        RouteConfig {
            name: "r".to_owned(),
            prefix: "/r/".to_owned(),
            upstream: http::Uri::from_static("http://127.0.0.1:1"),
            user_header: HeaderName::from_static(user_header),
            attr_header_prefix: attr.to_owned(),
            session_paths: Vec::new(),
            on_success: super::super::config::OnSuccess::Redirect,
            upstream_auth: auth.map(|h| super::super::config::UpstreamAuth {
                header: HeaderName::from_static(h),
                credential: "c".to_owned(),
                prefix: String::new(),
            }),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        n.sort_unstable();
        n
    }

    #[test]
    fn protected_names_go_by_their_cgi_name() {
        let routes = [
            route("x-embed-user", "X-Embed-Attr-", None),
            route("x-webauth-user", "X-Grafana-", Some("authorization")),
            route("x-user", "Attr-", None),
        ];
        let cfg = HeadersConfig {
            strip: vec![HeaderName::from_static("x-internal")],
            allow_underscores: true,
        };
        let hy = Hygiene::new(&routes, &cfg);
        for gone in [
            "x-embed-user",
            "x_embed_user",
            "x_embed_attr_role",
            "x-embed-key",
            "x-webauth-user",
            "x_webauth_email",
            "x-grafana-role",
            "x_grafana_role",
            "authorization",
            "x-user",
            "x_user",
            "attr-tenant",
            "x-forwarded-for",
            "x_forwarded_host",
            "forwarded",
            "x-real-ip",
            "x_real_ip",
            "x-client-ip",
            "true-client-ip",
            "x-original-url",
            "x-rewrite-url",
            "x-remote-user",
            "remote_user",
            "x-auth-request-email",
            "x-internal",
            "x_internal",
        ] {
            assert!(hy.is_protected(gone.as_bytes()), "{gone}");
        }
        for kept in [
            "accept",
            "cookie",
            "user-agent",
            "x-user-agent",
            "x-embed",
            "x-forwarded",
            "x-users",
            "attr",
            "x_custom",
            "",
        ] {
            assert!(!hy.is_protected(kept.as_bytes()), "{kept}");
        }
    }

    #[test]
    fn clean_request_removes_protected_underscored_and_hop_by_hop() {
        let routes = [route("x-embed-user", "X-Embed-Attr-", None)];
        let hy = Hygiene::new(&routes, &HeadersConfig::default());
        let mut h = map(&[
            ("accept", "*/*"),
            ("connection", "keep-alive, x-hop, content-length, host"),
            ("x-hop", "1"),
            ("content-length", "0"),
            ("host", "h"),
            ("x-embed-user", "mallory"),
            ("x_embed_user", "mallory"),
            ("x-embed-user", "mallory2"),
            ("x_custom", "1"),
            ("te", "trailers"),
            ("x-kept", "1"),
        ]);
        hy.clean_request(&mut h);
        assert_eq!(names(&h), ["accept", "content-length", "host", "x-kept"]);

        // Nothing to remove: the map is left as it is.
        let mut h = map(&[("accept", "*/*"), ("cookie", "a=1"), ("x-kept", "1")]);
        hy.clean_request(&mut h);
        assert_eq!(names(&h), ["accept", "cookie", "x-kept"]);

        // allow_underscores keeps other `_` names, never protected ones.
        let hy = Hygiene::new(
            &routes,
            &HeadersConfig {
                strip: Vec::new(),
                allow_underscores: true,
            },
        );
        let mut h = map(&[
            ("x_custom", "1"),
            ("x_embed_user", "m"),
            ("x_forwarded_for", "6"),
        ]);
        hy.clean_request(&mut h);
        assert_eq!(names(&h), ["x_custom"]);
    }

    #[test]
    fn control_bytes_refused() {
        assert!(identity_value("a\r\nX-Evil: 1").is_none());
        assert!(identity_value("zoë").is_some());
    }
}
