//! Header hygiene between the browser and the content backend.
//!
//! Upstream-bound: hop-by-hop headers go; every client-sent identity header
//! (the route's user header and attribute prefix, `X-Embed-*`), forwarding
//! header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`) and the upstream-auth
//! header go; the proxy's own session cookies are cut out of `Cookie`; then
//! the proxy sets `X-Forwarded-For/Proto/Host` and the verified identity.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::config::RouteConfig;

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_EMBED_KEY: HeaderName = HeaderName::from_static("x-embed-key");

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn remove_hop_by_hop(h: &mut HeaderMap) {
    // Most messages carry none: one pass over the names (equality of
    // standard names is a tag compare) instead of eight hashed removals.
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

/// Removes everything a client could use to pass as someone else, or to
/// mislead the backend about where the request came from.
/// `attr_prefix_lower` is the route's attribute header prefix in lower case
/// (header names are).
pub fn strip_client_identity(h: &mut HeaderMap, route: &RouteConfig, attr_prefix_lower: &str) {
    let doomed = |k: &HeaderName| {
        let n = k.as_str();
        *k == route.user_header
            || route.upstream_auth.as_ref().is_some_and(|a| *k == a.header)
            || n.starts_with("x-embed-")
            || n.starts_with(attr_prefix_lower)
            || n.starts_with("x-forwarded-")
            || n == "forwarded"
            || n == "x-real-ip"
    };
    // Usually there is nothing to strip: one pass, no allocation.
    if !h.keys().any(doomed) {
        return;
    }
    let doomed: Vec<HeaderName> = h.keys().filter(|k| doomed(k)).cloned().collect();
    for n in doomed {
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

    #[test]
    fn control_bytes_refused() {
        assert!(identity_value("a\r\nX-Evil: 1").is_none());
        assert!(identity_value("zoë").is_some());
    }
}
