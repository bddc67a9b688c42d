//! What became of each request: the request id that follows it upstream
//! and back to the client, and the access log line (target
//! `embedgate::access`, one per request at `info`).
//!
//! The line carries the request id, route, method, path (never the
//! query: it holds signatures, nonces and a dashboard's filters), status,
//! outcome (`ok` or the stable reason code), the key id, whether a signed
//! URL or a session cookie carried the request, the upstream's status and
//! latency, the total latency and the client's address, plus a client's
//! `traceparent` when it is well-formed. Never a secret, signature, nonce,
//! cookie or query value (the log-canary test in `proxy/tests/attacks`
//! reads a whole debug log for them).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::metrics::Outcome;
use super::verify_request;

/// `X-Request-Id`: the header a request id travels in, both ways (a
/// constant name: a `&str` name is parsed again on every use).
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What carried a request's authority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Nothing did (refused before a session or URL was read, or no route).
    #[default]
    None,
    /// A signed URL (EG1 or EGJ1), verified or not.
    Signed,
    /// A session cookie.
    Session,
}

impl Auth {
    fn as_str(self) -> &'static str {
        match self {
            Auth::None => "-",
            Auth::Signed => "signed",
            Auth::Session => "session",
        }
    }
}

/// What became of a request, set where that is decided (a refusal, a
/// redirect, an upstream's answer) and carried to `service::handle` in the
/// response's extensions (never sent).
#[derive(Clone, Debug)]
pub struct Disposition {
    /// The route it counts for (`None`: no route).
    pub route: Option<usize>,
    /// How it ended (`embedgate_requests_total`'s `outcome`).
    pub outcome: Outcome,
    /// The access log's `outcome`: `ok`, or the refusal's stable code.
    pub code: &'static str,
    /// The key id of its session or verified URL.
    pub kid: Option<String>,
    /// What carried it.
    pub auth: Auth,
    /// The upstream's status and the time until its response headers.
    pub upstream: Option<(StatusCode, Duration)>,
}

impl Disposition {
    /// Ended with `outcome` (`code`: `ok` or the refusal's code).
    pub fn new(route: Option<usize>, outcome: Outcome, code: &'static str) -> Disposition {
        Disposition {
            route,
            outcome,
            code,
            kid: None,
            auth: Auth::None,
            upstream: None,
        }
    }
}

/// The longest client request id kept.
const MAX_ID_LEN: usize = 128;

/// The request id of a request: the client's `X-Request-Id` when it is a
/// sane token (1 to 128 of `A-Z a-z 0-9 - _ . : + / =`, so it cannot
/// break a log line or a header), else a new UUIDv7 (time-ordered).
pub fn request_id(h: &HeaderMap) -> HeaderValue {
    let mut given = h.get_all(X_REQUEST_ID).iter();
    match (given.next(), given.next()) {
        (Some(v), None) if is_sane_id(v.as_bytes()) => v.clone(),
        _ => new_request_id(),
    }
}

fn is_sane_id(id: &[u8]) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
}

/// A UUIDv7: the time in milliseconds, then 74 random bits from the
/// thread's CSPRNG (`rand`, user space: `Uuid::now_v7` would ask the
/// kernel for each id, a system call on every request).
fn new_request_id() -> HeaderValue {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let random: [u8; 10] = rand::random();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = id.hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"))
}

/// A W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, lower case), for
/// the log; anything else is not logged (it is still passed upstream).
pub fn traceparent(h: &HeaderMap) -> Option<&str> {
    let v = h.get("traceparent")?.to_str().ok()?;
    let lens = [2, 32, 16, 2];
    let mut parts = v.split('-');
    let ok = lens.iter().all(|&n| {
        parts.next().is_some_and(|p| {
            p.len() == n && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    }) && parts.next().is_none();
    ok.then_some(v)
}

/// What the access line needs of the request, taken before the request
/// is consumed.
#[derive(Debug)]
pub struct Started {
    method: Method,
    /// The path only: the query never reaches a log.
    path: String,
    traceparent: Option<String>,
    /// The `eg_kid` a signed URL claims (logged when nothing verified one).
    claimed_kid: Option<String>,
}

impl Started {
    /// Notes `req`'s method, path and `traceparent`.
    pub fn new<B>(req: &http::Request<B>) -> Started {
        Started {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            traceparent: traceparent(req.headers()).map(str::to_owned),
            claimed_kid: req
                .uri()
                .query()
                .and_then(verify_request::eg_kid)
                .map(str::to_owned),
        }
    }
}

/// Writes the access line of a finished request.
#[allow(
    clippy::too_many_arguments,
    reason = "one line's fields, each named at the call"
)]
pub fn log(
    started: &Started,
    request_id: &HeaderValue,
    route: &str,
    status: StatusCode,
    d: &Disposition,
    took: Duration,
    client: Option<&HeaderValue>,
) {
    let kid = d
        .kid
        .as_deref()
        .or(started.claimed_kid.as_deref())
        .unwrap_or("-");
    let (upstream_status, upstream_us) = match d.upstream {
        Some((s, t)) => (s.as_u16(), micros(t)),
        None => (0, 0),
    };
    tracing::info!(
        target: "embedgate::access",
        request_id = request_id.to_str().unwrap_or("-"),
        route,
        method = started.method.as_str(),
        path = %started.path,
        status = status.as_u16(),
        outcome = d.code,
        kid,
        auth = d.auth.as_str(),
        upstream_status,
        upstream_us,
        duration_us = micros(took),
        client = client.and_then(|c| c.to_str().ok()).unwrap_or("-"),
        traceparent = started.traceparent.as_deref().unwrap_or("-"),
        "request"
    );
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const ID: &str = "x-request-id";

    #[test]
    fn a_sane_client_id_is_kept_anything_else_replaced() {
        let kept = [
            "abc-123",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "a:b.c_d+e/f==",
        ];
        for id in kept {
            assert_eq!(request_id(&headers(&[(ID, id)])), id);
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in ["", "a b", "a\"b", "<script>", "a%0Ab", "é", long.as_str()] {
            let got = request_id(&headers(&[(ID, bad)]));
            assert_ne!(got, bad);
            assert_eq!(got.len(), 36, "{got:?}");
        }
        // Two ids: neither is trusted.
        let two = headers(&[(ID, "one"), (ID, "two")]);
        assert_eq!(request_id(&two).len(), 36);
    }

    #[test]
    fn generated_ids_are_uuid_v7_and_distinct() {
        let a = request_id(&HeaderMap::new());
        let b = request_id(&HeaderMap::new());
        assert_ne!(a, b);
        let s = a.to_str().unwrap();
        assert_eq!(s.as_bytes()[14], b'7', "{s}");
    }

    #[test]
    fn only_a_well_formed_traceparent_is_logged() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent(&headers(&[("traceparent", good)])), Some(good));
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "secret=abc",
        ] {
            assert_eq!(traceparent(&headers(&[("traceparent", bad)])), None);
        }
    }
}
