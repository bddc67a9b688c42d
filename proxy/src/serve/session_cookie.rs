//! The stateless session cookie a verified URL opens.
//!
//! Value: `v1.<payload>.<mac>`, both unpadded base64url. The payload is JSON
//! `{"k": kid, "s": sub, "a": [[name, value], …], "p": [scope prefixes],
//! "e": expiry, "i": issued at}`; the MAC is HMAC-SHA256 under the session key derived from
//! the secret `k` (see `secret_cache.rs`), over
//! `EG1-session LF cookie-name LF payload`, so a cookie of one route is
//! worthless under another. Nothing is kept server-side: a cookie lives
//! until its expiry, and dies at once when its secret is deleted,
//! deactivated or expires (its key leaves the cache, or turns unusable);
//! reactivating the secret does not revive it (it was issued before the
//! reactivation, which the store's change log dates).
//! The payload is readable by its holder (it holds what the signed URL
//! showed anyway), never forgeable.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::secret_cache::{CachedSecret, SecretCache};

/// What a session carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The secret's client id.
    #[serde(rename = "k")]
    pub kid: String,
    /// The user.
    #[serde(rename = "s")]
    pub sub: String,
    /// User attributes.
    #[serde(rename = "a")]
    pub attrs: Vec<(String, String)>,
    /// Normalised path prefixes the session may fetch.
    #[serde(rename = "p")]
    pub scope: Vec<String>,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub exp: u64,
    /// When the session was opened, Unix seconds: a secret reactivated
    /// after it does not bring it back.
    #[serde(rename = "i")]
    pub issued: u64,
}

/// Why a request's session was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie, or one that does not parse or whose MAC fails.
    NoSession,
    /// Past its expiry.
    Expired,
    /// Its secret was deleted, deactivated or expired.
    Revoked,
}

fn mac_input(mac: &mut super::secret_cache::HmacSha256, cookie_name: &str, payload_b64: &str) {
    mac.update(b"EG1-session\n");
    mac.update(cookie_name.as_bytes());
    mac.update(b"\n");
    mac.update(payload_b64.as_bytes());
}

/// Encodes and MACs `session` as the value of cookie `cookie_name`.
pub fn seal(session: &Session, secret: &CachedSecret, cookie_name: &str) -> String {
    // Serialising plain strings and numbers cannot fail.
    let json = serde_json::to_vec(session).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = secret.session_mac();
    mac_input(&mut mac, cookie_name, &payload);
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("v1.{payload}.{tag}")
}

/// Checks a cookie value; on success returns the session and its secret.
pub fn open(
    value: &str,
    cookie_name: &str,
    cache: &SecretCache,
    now: u64,
) -> Result<(Session, std::sync::Arc<CachedSecret>), SessionError> {
    let rest = value.strip_prefix("v1.").ok_or(SessionError::NoSession)?;
    let (payload, tag) = rest.split_once('.').ok_or(SessionError::NoSession)?;
    if payload.len() > 8192 {
        return Err(SessionError::NoSession);
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| SessionError::NoSession)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| SessionError::NoSession)?;
    // Only `k` is read before the MAC is checked, to find the key.
    let session: Session = serde_json::from_slice(&json).map_err(|_| SessionError::NoSession)?;
    let secret = cache.get(&session.kid).ok_or(SessionError::Revoked)?;
    let mut mac = secret.session_mac();
    mac_input(&mut mac, cookie_name, payload);
    mac.verify_slice(&tag)
        .map_err(|_| SessionError::NoSession)?;
    if !secret.key().usable_at(now) || session.issued < secret.sessions_valid_from() {
        return Err(SessionError::Revoked);
    }
    if now >= session.exp {
        return Err(SessionError::Expired);
    }
    Ok((session, secret))
}

/// Whether the session may fetch `path` (normalised): inside its scope and
/// inside the secret's current scopes (which may have narrowed since).
pub fn covers(session: &Session, secret: &CachedSecret, path: &str) -> bool {
    session
        .scope
        .iter()
        .any(|p| embedgate_core::path_in_scope(path, p))
        && secret.key().covers(path)
}

/// The route's scope (prefix plus session paths) narrowed by the secret's
/// scopes: each pair keeps the narrower prefix when one contains the other.
pub fn scope_for(route_prefixes: &[String], secret_scopes: &[String]) -> Vec<String> {
    if secret_scopes.is_empty() {
        return route_prefixes.to_vec();
    }
    let mut out: Vec<String> = Vec::new();
    for r in route_prefixes {
        for s in secret_scopes {
            let narrower = if embedgate_core::path_in_scope(r, s) {
                Some(r)
            } else if embedgate_core::path_in_scope(s, r) {
                Some(s)
            } else {
                None
            };
            if let Some(n) = narrower {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
    }
    out
}

/// The first value of cookie `name` in the request's `Cookie` headers.
pub fn find<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name).then_some(v)
        })
}

/// The `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age: u64, insecure_dev: bool) -> String {
    if insecure_dev {
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    } else {
        format!(
            "{name}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=None; Partitioned"
        )
    }
}

/// The cookie name of a route.
pub fn cookie_name(base: &str, route: &str, insecure_dev: bool) -> String {
    if insecure_dev {
        format!("{base}-{route}")
    } else {
        format!("__Host-{base}-{route}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing() {
        let route = vec!["/d/".to_owned(), "/public/".to_owned()];
        assert_eq!(scope_for(&route, &[]), route);
        assert_eq!(scope_for(&route, &["/d/sales".to_owned()]), ["/d/sales"]);
        assert_eq!(scope_for(&route, &["/".to_owned()]), route);
        assert!(scope_for(&route, &["/x/".to_owned()]).is_empty());
    }

    #[test]
    fn finds_cookie() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; __Host-embedgate-d=v1.x.y".parse().expect("hv"),
        );
        assert_eq!(find(&h, "__Host-embedgate-d"), Some("v1.x.y"));
        assert_eq!(find(&h, "b"), None);
    }
}
