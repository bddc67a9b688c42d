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

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn remove_hop_by_hop(h: &mut HeaderMap) {
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
pub fn strip_client_identity(h: &mut HeaderMap, route: &RouteConfig) {
    h.remove(&route.user_header);
    if let Some(a) = &route.upstream_auth {
        h.remove(&a.header);
    }
    let attr_prefix = route.attr_header_prefix.to_ascii_lowercase();
    let doomed: Vec<HeaderName> = h
        .keys()
        .filter(|k| {
            let n = k.as_str();
            n.starts_with("x-embed-")
                || n.starts_with(attr_prefix.as_str())
                || n.starts_with("x-forwarded-")
                || n == "forwarded"
                || n == "x-real-ip"
        })
        .cloned()
        .collect();
    for n in doomed {
        h.remove(n);
    }
}

/// Cuts cookies whose name starts with `own_prefix` out of `Cookie`; the
/// session cookies are the proxy's business, not the backend's.
pub fn strip_own_cookies(h: &mut HeaderMap, own_prefix: &str) {
    let values: Vec<HeaderValue> = h.get_all(header::COOKIE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    let mut kept: Vec<String> = Vec::new();
    let mut changed = false;
    for v in &values {
        let Ok(s) = v.to_str() else {
            changed = true;
            continue;
        };
        for pair in s.split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            if pair.starts_with(own_prefix) {
                changed = true;
            } else {
                kept.push(pair.to_owned());
            }
        }
    }
    if !changed && values.len() == 1 {
        return;
    }
    h.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            h.insert(header::COOKIE, v);
        }
    }
}

/// Sets `X-Forwarded-For`, `-Proto` and `-Host`.
pub fn set_forwarded(h: &mut HeaderMap, client: IpAddr, https: bool, host: Option<&HeaderValue>) {
    if let Ok(v) = HeaderValue::from_str(&client.to_string()) {
        h.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    h.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Some(host) = host {
        h.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
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
    attrs: &[(String, String)],
) -> Result<(), ()> {
    h.insert(route.user_header.clone(), identity_value(sub).ok_or(())?);
    for (name, value) in attrs {
        let hn = HeaderName::from_bytes(format!("{}{}", route.attr_header_prefix, name).as_bytes())
            .map_err(|_| ())?;
        h.append(hn, identity_value(value).ok_or(())?);
    }
    h.insert(
        HeaderName::from_static("x-embed-key"),
        HeaderValue::from_str(kid).map_err(|_| ())?,
    );
    Ok(())
}

/// Whether the request asks for a WebSocket (HTTP/1.1 upgrade).
pub fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    let upgrade = h
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    upgrade && connection
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
