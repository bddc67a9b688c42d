//! Sessions the embed SDK (`www/embed/`) opens and renews in a hidden
//! iframe, so a dashboard stays live past its session's length without a
//! reload. Three paths under `/.embedgate/`, on whichever host the proxy
//! serves, beside the routes:
//!
//! - `GET /.embedgate/open?origin=O&path=P`, signed like any URL (EG1 or
//!   EGJ1, every step of spec §3: same reasons, same replay protection):
//!   opens a session for the route serving `P`, as a signed URL of `P`
//!   would, and answers the session page (below). The secret's scopes are
//!   checked against `P` (a secret scoped to `/d/sales` opens sessions for
//!   `/d/sales`, not `/d/other`); the cookie carries the signed `sub` and
//!   attributes, and the route's scope narrowed by the secret's.
//! - `GET /.embedgate/renew?origin=O&path=P`: the same, and refused with
//!   `session_mismatch` when the request carries a live session of that
//!   route for another `sub`: a renewal never silently swaps the viewer
//!   under a dashboard that is open. (`open` replaces whatever session the
//!   browser holds, as a signed dashboard URL does: a user switch on a
//!   shared browser works.)
//! - `GET /.embedgate/watch?path=P`, under the session cookie: held open
//!   until the session of `P` ends (at most [`HOLD`]), then answers its
//!   code (`session_revoked`, `session_expired`), or nothing when the hold
//!   ran out. The session page calls it, so a revocation reaches the host
//!   page within a second of reaching the proxy.
//!
//! `O` is the host page's origin (`scheme://host[:port]`, nothing else);
//! `P` the dashboard's path, optionally with its query (what the SDK loads
//! in the visible iframe). Both are inside the signed part: the signer
//! decides them. Nothing else may be in the query.
//!
//! The session page posts `{type: "embedgate:renewed", expiresAt,
//! expiresIn, path}` to exactly `O` (and may be framed by `O` only), then
//! watches the session and posts `{type: "embedgate:error", reason}` to
//! `O` when it ends. A renewal does not extend what is already open: a
//! WebSocket or stream opened under the old cookie still ends at the old
//! session's expiry (`revocation.rs`); the client reconnects with the
//! renewed cookie.

use std::time::Duration;

use embedgate_core::Reason;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};

use super::access::{Auth, Disposition};
use super::html_page::Page;
use super::metrics::Outcome;
use super::refusal::Refusal;
use super::service::{self, State};
use super::session_cookie;
use super::upstream::{BoxError, ProxyBody};
use super::verify_request;

/// Every path under it is the proxy's own, never a route's.
pub(crate) const PREFIX: &str = "/.embedgate/";

/// The longest a watch is held before it answers nothing and the page asks
/// again: short enough that a graceful shutdown (`shutdown.drain_timeout`,
/// 30 s by default) is not kept waiting by the watches.
pub(crate) const HOLD: Duration = Duration::from_secs(20);

/// The session page's script: a constant (its hash is in the page's
/// policy); what varies comes from the root element's data.
const SCRIPT: &str = r#"(function(){var d=document.documentElement.dataset,o=d.origin,p=window.parent;function post(m){p.postMessage(m,o);}post({type:"embedgate:renewed",expiresAt:Number(d.expiresAt),expiresIn:Number(d.expiresIn),path:d.path});var wait=0;function watch(){fetch(d.watch,{cache:"no-store",credentials:"same-origin"}).then(function(r){return r.ok?r.text():r.json().then(function(j){return String(j.error||"no_session");});}).then(function(reason){if(reason){post({type:"embedgate:error",reason:reason});}else{wait=0;watch();}},function(){wait=Math.min(wait?wait*2:1000,30000);setTimeout(watch,wait);});}watch();})();"#;

/// Which of the reserved paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Open,
    Renew,
    Watch,
}

impl Endpoint {
    fn of(path: &str) -> Option<Endpoint> {
        match path.strip_prefix(PREFIX)? {
            "open" => Some(Endpoint::Open),
            "renew" => Some(Endpoint::Renew),
            "watch" => Some(Endpoint::Watch),
            _ => None,
        }
    }
}

/// The dashboard path a verified session URL (`/.embedgate/open` or
/// `/renew`, its content query `forward_query`) names: where the secret's
/// scopes apply, rather than the session path itself. `None` for any other
/// URL, or a query the proxy would refuse. (For `embedgate explain`, which
/// must judge scopes as the proxy does.)
pub fn scoped_path(path: &str, forward_query: &str) -> Option<String> {
    matches!(Endpoint::of(path), Some(Endpoint::Open | Endpoint::Renew))
        .then(|| Target::from_query(forward_query))
        .flatten()
        .map(|t| t.path)
}

/// Whether `path` (as requested) is one of the proxy's own.
pub(crate) fn is_reserved(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// For the refusal page (`refusal_page.rs`): the origin a refused
/// `open`/`renew` request names in plain sight (an EG1 query), when it is
/// a well-formed origin. Unverified: used only to narrow where a reason
/// code is posted, never to widen it.
pub(crate) fn origin_hint(path: &str, query: Option<&str>) -> Option<String> {
    if !matches!(Endpoint::of(path), Some(Endpoint::Open | Endpoint::Renew)) {
        return None;
    }
    let mut origins = form_urlencoded::parse(query?.as_bytes())
        .filter(|(n, _)| n == "origin")
        .map(|(_, v)| v);
    let origin = origins.next()?;
    if origins.next().is_some() {
        return None;
    }
    parse_origin(&origin)
}

/// Answers a request to a path under [`PREFIX`].
pub(crate) async fn handle(state: &State, req: Request<Incoming>, now: u64) -> Response<ProxyBody> {
    match Endpoint::of(req.uri().path()) {
        Some(Endpoint::Open) => session(state, &req, now, false).await,
        Some(Endpoint::Renew) => session(state, &req, now, true).await,
        Some(Endpoint::Watch) => watch(state, &req, now),
        None => state.refuse(None, Refusal::NO_ROUTE),
    }
}

/// What a verified `open`/`renew` URL names.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// The host page's origin, lower-case.
    origin: String,
    /// The dashboard's path, normalised.
    path: String,
    /// `path` with the query the signer gave it: what the SDK loads.
    location: String,
}

impl Target {
    /// From the verified content query: exactly one `origin` and one
    /// `path`, nothing else.
    fn from_query(query: &str) -> Option<Target> {
        let (mut origin, mut location) = (None, None);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "origin" => &mut origin,
                "path" => &mut location,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        let origin = parse_origin(&origin?)?;
        let location = location?;
        let (raw_path, query) = match location.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (location.as_ref(), None),
        };
        let path = embedgate_core::normalise_path(raw_path).ok()?;
        if is_reserved(&path) || path.starts_with("//") {
            return None;
        }
        let location = match query {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.clone(),
        };
        // The query must be one a URI may carry as it is.
        http::uri::PathAndQuery::try_from(location.as_str()).ok()?;
        Some(Target {
            origin,
            path,
            location,
        })
    }
}

/// `scheme://host[:port]` with scheme `http` or `https`, a DNS name, IPv4
/// or bracketed IPv6 host and an optional port; lower-cased. Nothing else:
/// no path (not even `/`), user, query or fragment.
fn parse_origin(s: &str) -> Option<String> {
    if s.len() > 300 {
        return None;
    }
    let s = s.to_ascii_lowercase();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let port = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        let addr_ok = !addr.is_empty()
            && addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !addr_ok {
            return None;
        }
        match after {
            "" => None,
            a => Some(a.strip_prefix(':')?),
        }
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let labels_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !labels_ok {
            return None;
        }
        port
    };
    if let Some(p) = port {
        let ok = (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
        if !ok {
            return None;
        }
    }
    Some(s)
}

/// `open` and `renew`: verify, check what the URL names, set the cookie,
/// answer the session page.
async fn session(
    state: &State,
    req: &Request<Incoming>,
    now: u64,
    renew: bool,
) -> Response<ProxyBody> {
    let host_header = match state.public_host {
        Some(_) => None,
        None => super::service::request_host(req),
    };
    let host = match &state.public_host {
        Some(h) => Some(h.as_str()),
        None => host_header.as_ref().and_then(|h| h.to_str().ok()),
    };
    let Some(host) = host else {
        return state.refuse(None, Refusal::url(Reason::Malformed));
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let verified = match verify_request::verify_except_scope(
        host,
        pq,
        &state.cache,
        &state.replay,
        &state.policy,
        now,
    )
    .await
    {
        Ok(v) => v,
        Err(r) => {
            state.metrics.url_verification(None, r.outcome);
            return state.refuse(None, r);
        }
    };
    let url = &verified.url;
    let Some(target) = Target::from_query(&url.forward_query()) else {
        let r = Refusal::url(Reason::Malformed);
        state.metrics.url_verification(None, r.outcome);
        return state.refuse(None, r);
    };
    let Some(route_idx) = state.route_for(&target.path) else {
        return state.refuse(None, Refusal::NO_ROUTE);
    };
    // Spec §3's last step, on the path the session is for.
    if !verified.secret.key().covers(&target.path) {
        let r = Refusal::url(Reason::OutOfScope);
        state.metrics.url_verification(Some(route_idx), r.outcome);
        return state.refuse(Some(route_idx), r);
    }
    state
        .metrics
        .url_verification(Some(route_idx), Outcome::Forwarded);
    verified.secret.touch(now);
    let route = &state.routes[route_idx];
    if renew {
        let live = session_cookie::find(req.headers(), &route.cookie_name)
            .and_then(|v| session_cookie::open(v, &route.cookie_name, &state.cache, now).ok());
        if live.is_some_and(|(s, _)| s.payload.sub != url.sub()) {
            return state.refuse(Some(route_idx), Refusal::SESSION_MISMATCH);
        }
    }

    let Some((payload, set_cookie)) = service::open_session(state, route_idx, &verified, now)
    else {
        return state.refuse(Some(route_idx), Refusal::url(Reason::Malformed));
    };
    let exp = payload.exp;
    tracing::debug!(route = %route.cfg.name, kid = url.kid(), renew, "session opened for the embed SDK");

    let watch_url = format!(
        "{PREFIX}watch?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("path", &target.path)
            .finish()
    );
    let (expires_at, expires_in) = (exp.to_string(), exp.saturating_sub(now).to_string());
    let data = [
        ("origin", target.origin.as_str()),
        ("expires-at", expires_at.as_str()),
        ("expires-in", expires_in.as_str()),
        ("path", target.location.as_str()),
        ("watch", watch_url.as_str()),
    ];
    let page = Page {
        title: "Session",
        sentence: None,
        code: None,
        script: SCRIPT,
        data: &data,
        frame_ancestor: Some(&target.origin),
        connect_self: true,
    };
    let mut resp = page.response(StatusCode::OK);
    resp.headers_mut().insert(header::SET_COOKIE, set_cookie);
    resp.extensions_mut().insert(Disposition {
        kid: Some(url.kid().to_owned()),
        auth: Auth::Signed,
        ..Disposition::new(Some(route_idx), Outcome::Renewed, "ok")
    });
    resp
}

/// `watch`: the session cookie of the route serving `path` must cover it;
/// the answer is held until the session ends or [`HOLD`] passes.
fn watch(state: &State, req: &Request<Incoming>, now: u64) -> Response<ProxyBody> {
    let mut paths = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(n, _)| n == "path")
        .map(|(_, v)| v);
    let path = match (paths.next(), paths.next()) {
        (Some(p), None) => embedgate_core::normalise_path(&p).ok(),
        _ => None,
    };
    let Some(path) = path else {
        return state.refuse(None, Refusal::url(Reason::Malformed));
    };
    let Some(route_idx) = state.route_for(&path) else {
        return state.refuse(None, Refusal::NO_ROUTE);
    };
    let route = &state.routes[route_idx];
    let Some(value) = session_cookie::find(req.headers(), &route.cookie_name) else {
        return state.refuse(
            Some(route_idx),
            Refusal::session(session_cookie::SessionError::NoSession),
        );
    };
    let (session, secret) = match session_cookie::open(value, &route.cookie_name, &state.cache, now)
    {
        Ok(s) => s,
        Err(e) => return state.refuse(Some(route_idx), Refusal::session(e)),
    };
    if !session_cookie::covers(&session, &secret, &path) {
        return state.refuse(Some(route_idx), Refusal::SESSION_OUT_OF_SCOPE);
    }
    let disposition = Disposition {
        kid: Some(session.kid.clone()),
        auth: Auth::Session,
        ..Disposition::new(Some(route_idx), Outcome::Watched, "ok")
    };
    let ended = state
        .revocations
        .watch(session.kid, session.payload.issued, session.payload.exp)
        .ended();
    let answer = async move {
        let code = tokio::select! {
            why = ended => why.code(),
            () = tokio::time::sleep(HOLD) => "",
        };
        Ok::<_, BoxError>(Frame::data(Bytes::from_static(code.as_bytes())))
    };
    let body = StreamBody::new(futures_util::stream::once(answer)).boxed_unsync();
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.extensions_mut().insert(disposition);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for ok in [
            "https://app.example.com",
            "http://app.test:8080",
            "HTTPS://App.Example.COM",
            "http://127.0.0.1:3000",
            "https://[::1]:8443",
            "https://[2001:db8::1]",
        ] {
            assert!(parse_origin(ok).is_some(), "{ok}");
        }
        assert_eq!(
            parse_origin("HTTPS://App.Example.COM").as_deref(),
            Some("https://app.example.com")
        );
        for bad in [
            "",
            "*",
            "null",
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/x",
            "https://user@app.example.com",
            "https://app.example.com?x",
            "https://app.example.com#x",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:",
            "https://app..example.com",
            "https://-app.example.com",
            "https://app example.com",
            "https://app.example.com\"; script-src *",
            "https://[::1",
            "https://[::1]x",
            "javascript://app.example.com",
        ] {
            assert!(parse_origin(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_target_names_an_origin_and_a_path_and_nothing_else() {
        let t = Target::from_query(
            "origin=https%3A%2F%2Fapp.example.com&path=%2Fd%2Fsales%3ForgId%3D1",
        )
        .unwrap_or_else(|| panic!("target"));
        assert_eq!(t.origin, "https://app.example.com");
        assert_eq!(t.path, "/d/sales");
        assert_eq!(t.location, "/d/sales?orgId=1");
        for bad in [
            "origin=https%3A%2F%2Fa.com",
            "path=%2Fd%2Fsales",
            "origin=https%3A%2F%2Fa.com&path=%2Fd&path=%2Fe",
            "origin=https%3A%2F%2Fa.com&path=%2Fd&x=1",
            "origin=https%3A%2F%2Fa.com&path=d",
            "origin=https%3A%2F%2Fa.com&path=%2F..%2Fadmin",
            "origin=https%3A%2F%2Fa.com&path=%2F.embedgate%2Fopen",
            "origin=https%3A%2F%2Fa.com&path=%2F%2Fevil.com",
            "origin=https%3A%2F%2Fa.com&path=%2Fd%3Fa%20b",
            "origin=*&path=%2Fd",
        ] {
            assert!(Target::from_query(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_hint_is_read_only_on_open_and_renew() {
        let q = Some("origin=https%3A%2F%2Fapp.test&path=%2Fd&eg_kid=k");
        assert_eq!(
            origin_hint("/.embedgate/renew", q).as_deref(),
            Some("https://app.test")
        );
        assert_eq!(origin_hint("/d/sales", q), None);
        assert_eq!(origin_hint("/.embedgate/renew", Some("origin=*")), None);
        assert_eq!(
            origin_hint(
                "/.embedgate/open",
                Some("origin=http%3A%2F%2Fa.test&origin=http%3A%2F%2Fb.test")
            ),
            None
        );
    }
}
