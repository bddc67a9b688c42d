//! The stateless session cookie a verified URL opens.
//!
//! Value: `v2.<kid>.<payload>.<tag>`. `kid` is the secret's client id (the
//! `eg_kid` alphabet, so it holds no dot); `payload` is the unpadded
//! base64url of the JSON [`SessionPayload`]; `tag` is the unpadded
//! base64url of HMAC-SHA256, under the session key derived from the secret
//! `kid` (see `secret_cache.rs`), over `EG1-session-v2 LF cookie-name LF
//! v2.<kid>.<payload>`: a cookie of one route is worthless under another.
//!
//! MAC first: the key is found by the `kid` outside the payload, the tag is
//! checked over the payload's text, and only then is a byte of the payload
//! decoded or parsed. Nothing is kept server-side: a cookie lives until its
//! expiry, and dies at once when its secret is deleted, deactivated or
//! expires (its key leaves the cache, or turns unusable); reactivating the
//! secret does not revive it (it was issued before the reactivation, which
//! the store's change log dates). The payload is readable by its holder (it
//! holds what the signed URL showed anyway), never forgeable.
//!
//! Cookies of the earlier `v1.` format (payload with the kid inside, parsed
//! before its MAC) are refused like any unknown value: the viewer re-opens
//! the embed and gets a `v2` cookie.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::secret_cache::{CachedSecret, HmacSha256, SecretCache};

/// The format tag every value starts with.
const VERSION: &str = "v2.";

/// Longest cookie value opened: a payload this size is far beyond any
/// session (a few hundred bytes) and bounds the work an attacker can ask.
const MAX_VALUE_LEN: usize = 8192;

/// What a session carries besides its key id: the cookie's JSON payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPayload {
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

/// A session read back from a cookie whose tag matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedSession {
    /// The secret's client id.
    pub kid: String,
    /// What the payload said.
    pub payload: SessionPayload,
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

/// `EG1-session-v2 LF cookie-name LF v2.<kid>.<payload>`, fed to `mac`.
fn mac_input(mut mac: HmacSha256, cookie_name: &str, signed_part: &str) -> HmacSha256 {
    mac.update(b"EG1-session-v2\n");
    mac.update(cookie_name.as_bytes());
    mac.update(b"\n");
    mac.update(signed_part.as_bytes());
    mac
}

/// Encodes and MACs a session as the value of cookie `cookie_name`.
pub fn seal(
    kid: &str,
    payload: &SessionPayload,
    secret: &CachedSecret,
    cookie_name: &str,
) -> String {
    // Serialising owned strings and numbers cannot fail.
    let json = serde_json::to_vec(payload).unwrap_or_default();
    let signed_part = format!("{VERSION}{kid}.{}", URL_SAFE_NO_PAD.encode(json));
    let tag = mac_input(secret.session_mac(), cookie_name, &signed_part).finalize();
    format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag.into_bytes()))
}

/// The `Set-Cookie` header of a new session; `None` if it is not a valid
/// header value.
pub fn set_cookie_header(
    kid: &str,
    payload: &SessionPayload,
    secret: &CachedSecret,
    cookie_name: &str,
    max_age: u64,
    insecure_dev: bool,
) -> Option<http::HeaderValue> {
    let value = seal(kid, payload, secret, cookie_name);
    http::HeaderValue::try_from(set_cookie(cookie_name, &value, max_age, insecure_dev)).ok()
}

/// A `Set-Cookie` value: partitioned and cross-site unless in development
/// over plain HTTP.
pub fn set_cookie(name: &str, value: &str, max_age: u64, insecure_dev: bool) -> String {
    let attributes = if insecure_dev {
        "HttpOnly; SameSite=Lax"
    } else {
        "Secure; HttpOnly; SameSite=None; Partitioned"
    };
    format!("{name}={value}; Path=/; Max-Age={max_age}; {attributes}")
}

/// Checks a cookie value: the tag over its text first, then the payload,
/// then the secret's state and the expiry. On success, the session and its
/// secret.
pub fn open(
    value: &str,
    cookie_name: &str,
    cache: &SecretCache,
    now: u64,
) -> Result<(OpenedSession, Arc<CachedSecret>), SessionError> {
    check(value, cache, cookie_name, now).map_err(|step| {
        tracing::debug!(step = ?step, "session cookie refused");
        step.into()
    })
}

/// The step at which a cookie was refused (finer than [`SessionError`],
/// for logs at debug level and for tests of the order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// Not `v2.<kid>.<payload>.<tag>`.
    Shape,
    /// No secret has the kid (any more).
    UnknownKey,
    /// The tag does not match.
    Tag,
    /// An authentic payload that does not decode: never issued by us.
    Payload,
    /// The secret is deactivated, expired, or was reactivated after issue.
    Revoked,
    /// Past the session's expiry.
    Expired,
}

impl From<Refused> for SessionError {
    fn from(step: Refused) -> Self {
        match step {
            Refused::Shape | Refused::Tag | Refused::Payload => SessionError::NoSession,
            Refused::UnknownKey | Refused::Revoked => SessionError::Revoked,
            Refused::Expired => SessionError::Expired,
        }
    }
}

fn check(
    value: &str,
    cache: &SecretCache,
    cookie_name: &str,
    now: u64,
) -> Result<(OpenedSession, Arc<CachedSecret>), Refused> {
    let (kid, signed_part, tag) = split_value(value).ok_or(Refused::Shape)?;
    let secret = cache.get(kid).ok_or(Refused::UnknownKey)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refused::Tag)?;
    mac_input(secret.session_mac(), cookie_name, signed_part)
        .verify_slice(&tag)
        .map_err(|_| Refused::Tag)?;
    // Authentic from here on: only now is the payload decoded and parsed.
    let payload =
        read_payload(&signed_part[VERSION.len() + kid.len() + 1..]).ok_or(Refused::Payload)?;
    if !secret.key().usable_at(now) || payload.issued < secret.sessions_valid_from() {
        return Err(Refused::Revoked);
    }
    if now >= payload.exp {
        return Err(Refused::Expired);
    }
    let session = OpenedSession {
        kid: kid.to_owned(),
        payload,
    };
    Ok((session, secret))
}

/// `v2.<kid>.<payload>.<tag>` as (kid, `v2.<kid>.<payload>`, tag), by its
/// dots alone; nothing is decoded.
fn split_value(value: &str) -> Option<(&str, &str, &str)> {
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    let rest = value.strip_prefix(VERSION)?;
    let (kid, _) = rest.split_once('.')?;
    let is_kid = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !is_kid {
        return None;
    }
    let (signed_part, tag) = value.rsplit_once('.')?;
    // The payload sits between the kid's dot and the tag's dot.
    (signed_part.len() > VERSION.len() + kid.len()).then_some((kid, signed_part, tag))
}

/// The payload of an authentic cookie.
fn read_payload(payload_b64: &str) -> Option<SessionPayload> {
    let json = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Whether the session may fetch `path` (normalised): inside its scope and
/// inside the secret's current scopes (which may have narrowed since).
pub fn covers(session: &OpenedSession, secret: &CachedSecret, path: &str) -> bool {
    session
        .payload
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
            if let Some(n) = narrower.filter(|n| !out.contains(n)) {
                out.push(n.clone());
            }
        }
    }
    out
}

/// The first value of cookie `name` in the request's `Cookie` headers.
/// `name` holds no `=` (cookie names are tokens, see `config.rs`): so a
/// pair that starts with `name=` is one whose name, up to its first `=`,
/// is `name`.
pub fn find<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    debug_assert!(!name.contains('='), "cookie name {name:?}");
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(super::headers::cookie_pairs)
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
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

    const KID: &str = "eg_live_4f9c2a";
    const NOW: u64 = 1_899_999_500;

    struct OneSecret;

    impl crate::serve::SecretSource for OneSecret {
        fn revision(&self) -> anyhow::Result<u64> {
            Ok(1)
        }
        fn load_embed_keys(&self) -> anyhow::Result<(u64, Vec<crate::serve::SecretRecord>)> {
            Ok((
                1,
                vec![crate::serve::SecretRecord {
                    client_id: KID.to_owned(),
                    value: zeroize::Zeroizing::new("q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo".to_owned()),
                    active: true,
                    expires_at: None,
                    scopes: Vec::new(),
                    reactivated_at: None,
                }],
            ))
        }
        fn credential_value(&self, _: &str) -> anyhow::Result<Option<zeroize::Zeroizing<String>>> {
            Ok(None)
        }
        fn record_embed_usage(&self, _: &[(String, i64)]) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn cache() -> SecretCache {
        let cache = SecretCache::new(Vec::new());
        cache.reload_blocking(&OneSecret).expect("loads");
        cache
    }

    fn payload(sub: &str, attrs: &[(&str, &str)]) -> SessionPayload {
        SessionPayload {
            sub: sub.to_owned(),
            attrs: attrs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            scope: vec!["/d/".to_owned()],
            exp: 1_900_000_000,
            issued: NOW - 100,
        }
    }

    /// A value with `payload_b64` in place, tagged correctly.
    fn tagged(payload_b64: &str, secret: &CachedSecret, cookie_name: &str) -> String {
        let signed_part = format!("{VERSION}{KID}.{payload_b64}");
        let tag = mac_input(secret.session_mac(), cookie_name, &signed_part).finalize();
        format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag.into_bytes()))
    }

    #[test]
    fn sealed_cookies_open_and_tampered_ones_do_not() {
        let cache = cache();
        let secret = cache.get(KID).expect("cached");
        let long_attr = "v".repeat(3000);
        for p in [
            payload("user-42", &[("tenant", "acme")]),
            payload("q\"uote\\ ü", &[]),
            payload("u", &[("big", &long_attr)]),
        ] {
            let value = seal(KID, &p, &secret, "embedgate-d");
            assert!(value.starts_with("v2.eg_live_4f9c2a."), "{value}");
            let (opened, _) = open(&value, "embedgate-d", &cache, NOW).expect("opens");
            assert_eq!(opened.kid, KID);
            assert_eq!(opened.payload, p);
            // Another route's name: no session.
            assert_eq!(
                open(&value, "embedgate-x", &cache, NOW).err(),
                Some(SessionError::NoSession)
            );
            let (head, tag) = value.rsplit_once('.').expect("tag");
            let (mid, payload_end) = head.split_at(head.len() / 2);
            for bad in [
                format!("{head}.{}", &tag[1..]),
                format!("{head}.{tag}A"),
                format!("{head}.{tag}{}", "A".repeat(100)),
                format!("{}x.{tag}", &head[..head.len() - 1]),
                format!("{mid}.{payload_end}.{tag}"),
                format!("{head}.{}.{}", &tag[..20], &tag[20..]),
                format!("{head}.{tag}."),
                value.replacen("v2.", "v1.", 1),
                value.replacen("v2.", "", 1),
                format!("v2.{}", &value[3..].replacen('.', "", 1)),
            ] {
                assert_eq!(
                    open(&bad, "embedgate-d", &cache, NOW).err(),
                    Some(SessionError::NoSession),
                    "{bad}"
                );
            }
            assert_eq!(
                open(&value, "embedgate-d", &cache, 1_900_000_000).err(),
                Some(SessionError::Expired)
            );
        }
    }

    #[test]
    fn the_tag_is_checked_before_any_byte_of_the_payload_is_read() {
        let cache = cache();
        let secret = cache.get(KID).expect("cached");
        let check = |value: &str| check(value, &cache, "embedgate-d", NOW).err();
        // Payloads that would fail to decode or to parse: under a wrong tag
        // the refusal is the tag's; only under the right one is the
        // payload read, and refused.
        let unparsable = URL_SAFE_NO_PAD.encode(b"{\"s\":");
        for payload_b64 in [unparsable.as_str(), "!!not-base64!!"] {
            let wrong = tagged(payload_b64, &secret, "embedgate-other");
            assert_eq!(check(&wrong), Some(Refused::Tag), "{wrong}");
            let right = tagged(payload_b64, &secret, "embedgate-d");
            assert_eq!(check(&right), Some(Refused::Payload), "{right}");
        }
        // A wrong tag over a payload of an expired session: the tag's
        // refusal, never `Expired` (the payload was not read).
        let mut expired = payload("u", &[]);
        expired.exp = NOW - 1;
        let json = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&expired).expect("json"));
        assert_eq!(check(&tagged(&json, &secret, "x")), Some(Refused::Tag));
        let right = tagged(&json, &secret, "embedgate-d");
        assert_eq!(check(&right), Some(Refused::Expired));
        assert_eq!(
            open(&right, "embedgate-d", &cache, NOW).err(),
            Some(SessionError::Expired)
        );
        // An unknown key id is a revoked session, found before any MAC.
        let gone = right.replacen(KID, "eg_gone", 1);
        assert_eq!(check(&gone), Some(Refused::UnknownKey));
        assert_eq!(
            open(&gone, "embedgate-d", &cache, NOW).err(),
            Some(SessionError::Revoked)
        );
    }

    #[test]
    fn narrowing() {
        let route = vec!["/d/".to_owned(), "/assets/".to_owned()];
        assert_eq!(scope_for(&route, &[]), route);
        assert_eq!(scope_for(&route, &["/d/sales".to_owned()]), ["/d/sales"]);
        assert_eq!(scope_for(&route, &["/".to_owned()]), route);
        assert!(scope_for(&route, &["/x/".to_owned()]).is_empty());
    }

    #[test]
    fn finds_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; __Host-embedgate-d=v2.k.x.y; b=2"),
        );
        assert_eq!(find(&h, "__Host-embedgate-d"), Some("v2.k.x.y"));
        assert_eq!(find(&h, "b"), Some("2"));
        assert_eq!(find(&h, "c"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set_cookie("__Host-embedgate-d", "v2.k.a.b", 3600, false),
            "__Host-embedgate-d=v2.k.a.b; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned"
        );
        assert_eq!(
            set_cookie("embedgate-d", "v2.k.a.b", 60, true),
            "embedgate-d=v2.k.a.b; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
    }
}
