//! One request through the proxy: a signed URL is verified and opens a
//! session; any other request needs a session covering its path; what
//! passes is forwarded upstream with the verified identity, and a
//! WebSocket or a response still streaming stays tied to that session
//! (`revocation.rs`).
//!
//! Session precedence: a signed URL that fails to verify is served under
//! the request's session cookie, when one covers its path, its `eg_`
//! parameters removed (a Bokeh or Panel page copies its own query into its
//! WebSocket URL; a reload repeats a spent URL). A URL that verifies opens
//! its own session, whatever cookie came with it.

use std::sync::Arc;
use std::time::Instant;

use embedgate_core::{Reason, VerifyPolicy};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use http_body::Body as _;
use http_body_util::combinators::UnsyncBoxBody;

use super::access::{self, Auth, Disposition};
use super::config::{OnSuccess, RouteConfig};
use super::headers::{self, Hygiene};
use super::metrics::{Metrics, Outcome};
use super::refusal::{full, Refusal};
use super::refusal_page::RefusalPage;
use super::renewal;
use super::replay::Replay;
use super::revocation::{Ended, Revocable, Revocations};
use super::secret_cache::SecretCache;
use super::session_cookie::{self, SessionError, SessionPayload};
use super::upstream::{origin_uri, ProxyBody, Upstream};
use super::verify_request::{self, Verified};
use super::websocket;

/// A route with what the request path needs precomputed.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) cfg: RouteConfig,
    pub(crate) cookie_name: String,
    /// The prefix, then the session paths.
    pub(crate) scope: Vec<String>,
}

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) routes: Vec<Route>,
    pub(crate) cache: Arc<SecretCache>,
    pub(crate) replay: Replay,
    pub(crate) policy: VerifyPolicy,
    pub(crate) public_host: Option<String>,
    pub(crate) upstream: Upstream,
    pub(crate) metrics: Metrics,
    pub(crate) https: bool,
    pub(crate) cookie_prefix: String,
    pub(crate) insecure_dev_cookies: bool,
    /// The client headers no backend gets.
    pub(crate) hygiene: Hygiene,
    /// Ties open connections to their sessions.
    pub(crate) revocations: Revocations,
    /// `[log] access`: one line per request (`access.rs`).
    pub(crate) access_log: bool,
}

/// The identity to send upstream (its key id is the session's, in
/// [`SessionTerms`]). `A`: any string type (owned, or borrowed from a URL
/// or a cookie).
struct Identity<'a, A: AsRef<str>> {
    sub: &'a str,
    attrs: &'a [(A, A)],
}

impl State {
    /// The route whose prefix covers `path` (the longest one).
    pub(super) fn route_for(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| embedgate_core::path_in_scope(path, &r.cfg.prefix))
            .max_by_key(|(_, r)| r.cfg.prefix.len())
            .map(|(i, _)| i)
    }

    /// Routes a session request to `path` may belong to: the prefix route
    /// first, then routes listing `path` among their session paths.
    fn session_candidates<'s>(&'s self, path: &'s str) -> impl Iterator<Item = usize> + 's {
        let primary = self.route_for(path);
        primary.into_iter().chain(
            self.routes
                .iter()
                .enumerate()
                .filter(move |(i, r)| {
                    Some(*i) != primary
                        && r.cfg
                            .session_paths
                            .iter()
                            .any(|p| embedgate_core::path_in_scope(path, p))
                })
                .map(|(i, _)| i),
        )
    }

    /// The answer to a refused request (counted and logged by [`handle`]).
    pub(super) fn refuse(&self, route: Option<usize>, r: Refusal) -> Response<ProxyBody> {
        let mut resp = r.response();
        resp.extensions_mut()
            .insert(Disposition::new(route, r.outcome, r.code));
        resp
    }

    fn route_name(&self, route: Option<usize>) -> &str {
        route.map_or("none", |i| self.routes[i].cfg.name.as_str())
    }
}

/// Seconds since the Unix epoch: the proxy's one clock.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Handles one request. `client_ip` is the `X-Forwarded-For` value of the
/// connection's peer (made once per connection).
///
/// Whatever the answer, it is counted (`embedgate_requests_total` and the
/// request duration), carries the request id the upstream also got
/// (`X-Request-Id`), is in the client's HTTP version whatever the
/// upstream spoke, and is logged on `embedgate::access` when the access
/// log is on.
pub(crate) async fn handle(
    state: Arc<State>,
    mut req: Request<Incoming>,
    client_ip: Option<HeaderValue>,
) -> Response<ProxyBody> {
    let arrived = Instant::now();
    let now = unix_now();
    let version = req.version();
    let request_id = access::request_id(req.headers());
    req.headers_mut()
        .insert(access::X_REQUEST_ID, request_id.clone());
    let started = state.access_log.then(|| access::Started::new(&req));
    // A refused page load is answered as a page (`refusal_page.rs`).
    let page = RefusalPage::for_request(&req);
    let signed = req.uri().query().is_some_and(verify_request::has_eg_params);
    let mut resp = dispatch(&state, req, client_ip.as_ref(), signed, now).await;

    let took = arrived.elapsed();
    let d = resp.extensions_mut().remove::<Disposition>();
    // Every answer says what became of its request (the tests run with
    // debug assertions); a release build counts a slip as `no_route`.
    debug_assert!(d.is_some(), "an answer without its disposition");
    let mut d = d.unwrap_or_else(|| Disposition::new(None, Outcome::NoRoute, "no_route"));
    state.metrics.request_finished(d.route, d.outcome, took);
    let mut resp = page.answer(resp);
    *resp.version_mut() = version;
    if let Some(started) = started {
        if d.auth == Auth::None && signed {
            d.auth = Auth::Signed;
        }
        let route = state.route_name(d.route);
        access::log(
            &started,
            &request_id,
            route,
            resp.status(),
            &d,
            took,
            client_ip.as_ref(),
        );
    }
    resp.headers_mut().insert(access::X_REQUEST_ID, request_id);
    resp
}

/// The answer to one request, carrying its [`Disposition`].
async fn dispatch(
    state: &State,
    req: Request<Incoming>,
    client_ip: Option<&HeaderValue>,
    signed: bool,
    now: u64,
) -> Response<ProxyBody> {
    // The embed SDK's own paths are answered by `renewal.rs`.
    if renewal::is_reserved(req.uri().path()) {
        return renewal::handle(state, req, now).await;
    }
    if signed {
        return handle_signed(state, req, client_ip, now).await;
    }
    // A session request has nothing to wait for before the upstream: its
    // checks run synchronously, so what they hold (the decoded cookie, the
    // identity) never lives in the request's future.
    match session_request(state, req, client_ip, now, None) {
        Ok((route_idx, fwd)) => send_upstream(state, route_idx, fwd, None).await,
        Err((route, r)) => state.refuse(route, r),
    }
}

pub(super) fn request_host(req: &Request<Incoming>) -> Option<HeaderValue> {
    req.headers().get(header::HOST).cloned().or_else(|| {
        req.uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    })
}

async fn handle_signed(
    state: &State,
    req: Request<Incoming>,
    client_ip: Option<&HeaderValue>,
    now: u64,
) -> Response<ProxyBody> {
    // The request's own host only counts without a configured public one.
    let host_header = match state.public_host {
        Some(_) => None,
        None => request_host(&req),
    };
    // Routed by the path that was verified (normalised), not the raw one.
    let (route_idx, verified) =
        match verify_signed(state, req.uri(), host_header.as_ref(), now).await {
            Ok(v) => v,
            Err((route, r)) => {
                return session_precedence(state, req, client_ip, now, route, r).await;
            }
        };
    verified.secret.touch(now);
    let route = &state.routes[route_idx];
    let url = &verified.url;

    let Some((session, set_cookie)) = open_session(state, route_idx, &verified, now) else {
        return state.refuse(Some(route_idx), Refusal::url(Reason::Malformed));
    };
    let exp = session.exp;
    tracing::debug!(route = %route.cfg.name, kid = url.kid(), "signed URL verified");

    let clean = url.forward_path_and_query();
    if route.cfg.on_success == OnSuccess::Redirect {
        let mut resp = Response::new(full(""));
        resp.extensions_mut().insert(Disposition {
            kid: Some(url.kid().to_owned()),
            auth: Auth::Signed,
            ..Disposition::new(Some(route_idx), Outcome::Redirected, "ok")
        });
        *resp.status_mut() = StatusCode::SEE_OTHER;
        let h = resp.headers_mut();
        if let Ok(loc) = HeaderValue::from_str(&clean) {
            h.insert(header::LOCATION, loc);
        }
        h.insert(header::SET_COOKIE, set_cookie);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        return resp;
    }
    let identity = Identity {
        sub: url.sub(),
        attrs: &session.attrs,
    };
    let terms = SessionTerms {
        kid: url.kid().to_owned(),
        issued: now,
        exp,
    };
    match prepare_forward(
        state,
        route_idx,
        req,
        Some(clean),
        &identity,
        terms,
        client_ip,
    ) {
        Ok(fwd) => send_upstream(state, route_idx, fwd, Some(set_cookie)).await,
        Err((route, r)) => state.refuse(route, r),
    }
}

/// The session a verified URL opens on route `route_idx` (the URL's
/// identity, the route's scope narrowed by the secret's, expiry the URL's
/// session length but no later than the secret's own) and the
/// `Set-Cookie` that carries it; `None` when it cannot be sealed.
pub(super) fn open_session(
    state: &State,
    route_idx: usize,
    verified: &Verified,
    now: u64,
) -> Option<(SessionPayload, HeaderValue)> {
    let route = &state.routes[route_idx];
    let url = &verified.url;
    let mut exp = now.saturating_add(url.session_secs());
    if let Some(key_exp) = verified.secret.key().expires_at() {
        exp = exp.min(key_exp);
    }
    let session = SessionPayload {
        sub: url.sub().to_owned(),
        attrs: url
            .attrs()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        scope: session_cookie::scope_for(&route.scope, verified.secret.key().scopes()),
        exp,
        issued: now,
    };
    let mut set_cookie = session_cookie::set_cookie_header(
        url.kid(),
        &session,
        &verified.secret,
        &route.cookie_name,
        exp.saturating_sub(now),
        state.insecure_dev_cookies,
    )?;
    set_cookie.set_sensitive(true);
    Some((session, set_cookie))
}

/// Spec §3 for a request with `eg_` parameters: its route (by the
/// verified path) and what was verified, or the refusal and the route it
/// counts for. Verifications are counted here.
async fn verify_signed(
    state: &State,
    uri: &http::Uri,
    host_header: Option<&HeaderValue>,
    now: u64,
) -> Result<(usize, Verified), Refused> {
    // Route by the normalised path; a path no route serves is refused
    // before its nonce is spent. A path that does not normalise is left to
    // the verifier, which answers `malformed`.
    let raw_route = match embedgate_core::normalise_path(uri.path()) {
        Ok(p) => match state.route_for(&p) {
            Some(r) => Some(r),
            None => return Err((None, Refusal::NO_ROUTE)),
        },
        Err(_) => state.route_for(uri.path()),
    };
    let host = match &state.public_host {
        Some(h) => Some(h.as_str()),
        None => host_header.and_then(|h| h.to_str().ok()),
    };
    let Some(host) = host else {
        state
            .metrics
            .url_verification(raw_route, Outcome::Refused(Reason::Malformed));
        return Err((raw_route, Refusal::url(Reason::Malformed)));
    };
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let verified =
        match verify_request::verify(host, pq, &state.cache, &state.replay, &state.policy, now)
            .await
        {
            Ok(v) => v,
            Err(r) => {
                state.metrics.url_verification(raw_route, r.outcome);
                return Err((raw_route, r));
            }
        };
    let Some(route_idx) = state.route_for(verified.url.path()) else {
        return Err((None, Refusal::NO_ROUTE));
    };
    state
        .metrics
        .url_verification(Some(route_idx), Outcome::Forwarded);
    Ok((route_idx, verified))
}

/// A signed URL that was refused (`refusal`, counted for `route`): served
/// under the request's session cookie when one covers its path, without
/// its `eg_` parameters; else refused.
async fn session_precedence(
    state: &State,
    req: Request<Incoming>,
    client_ip: Option<&HeaderValue>,
    now: u64,
    route: Option<usize>,
    refusal: Refusal,
) -> Response<ProxyBody> {
    let query = req.uri().query().map(verify_request::strip_eg_params);
    // Reason, kid and path only: never the signature, the nonce, or any
    // other part of the URL.
    let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        let kid = req.uri().query().and_then(verify_request::eg_kid);
        (kid.unwrap_or("-").to_owned(), req.uri().path().to_owned())
    });
    match session_request(state, req, client_ip, now, query) {
        Ok((route_idx, fwd)) => {
            if let Some((kid, path)) = logged {
                tracing::debug!(
                    reason = refusal.code,
                    kid = %kid,
                    path = ?path,
                    "signed URL refused; served under the session cookie"
                );
            }
            send_upstream(state, route_idx, fwd, None).await
        }
        Err(_) => state.refuse(route, refusal),
    }
}

/// Checks a request against the session cookies of the routes that may
/// serve it; on success, the request to send upstream. `query`: the query
/// to forward instead of the request's (a refused URL's, without its `eg_`
/// parameters).
fn session_request(
    state: &State,
    req: Request<Incoming>,
    client_ip: Option<&HeaderValue>,
    now: u64,
    query: Option<String>,
) -> Result<(usize, Forward), Refused> {
    let Ok(path) = embedgate_core::normalise_path(req.uri().path()) else {
        let route = state.route_for(req.uri().path());
        return Err((route, Refusal::url(Reason::Malformed)));
    };
    let mut candidates = state.session_candidates(&path).peekable();
    let Some(&first) = candidates.peek() else {
        return Err((None, Refusal::NO_ROUTE));
    };
    // A path that was already normal, in an origin-form URI: the request's
    // own URI goes upstream as it is.
    let uri = req.uri();
    let keep_uri = query.is_none()
        && uri.scheme().is_none()
        && uri.authority().is_none()
        && uri.path() == path;
    let mut refusal: Option<(usize, Refusal)> = None;
    for i in candidates {
        let route = &state.routes[i];
        let Some(value) = session_cookie::find(req.headers(), &route.cookie_name) else {
            continue;
        };
        match session_cookie::open(value, &route.cookie_name, &state.cache, now) {
            Ok((session, secret)) if session_cookie::covers(&session, &secret, &path) => {
                state.metrics.session_check(Some(i), Outcome::Forwarded);
                secret.touch(now);
                let pq = (!keep_uri).then(|| match query.as_deref().or(req.uri().query()) {
                    Some(q) if !q.is_empty() => format!("{path}?{q}"),
                    _ => path.clone(),
                });
                let identity = Identity {
                    sub: &session.payload.sub,
                    attrs: &session.payload.attrs,
                };
                let terms = SessionTerms {
                    kid: session.kid,
                    issued: session.payload.issued,
                    exp: session.payload.exp,
                };
                return prepare_forward(state, i, req, pq, &identity, terms, client_ip)
                    .map(|fwd| (i, fwd));
            }
            Ok(_) => {
                state
                    .metrics
                    .session_check(Some(i), Outcome::SessionOutOfScope);
                refusal.get_or_insert((i, Refusal::SESSION_OUT_OF_SCOPE));
            }
            Err(e) => {
                let r = Refusal::session(e);
                state.metrics.session_check(Some(i), r.outcome);
                refusal.get_or_insert((i, r));
            }
        }
    }
    let (route, r) = refusal.unwrap_or((
        first,
        Refusal::session(session_cookie::SessionError::NoSession),
    ));
    Err((Some(route), r))
}

/// A refusal and the route it counts for (answered by `State::refuse`).
type Refused = (Option<usize>, Refusal);

/// A response body of a known length up to this is not watched for its
/// session's end (`revocation.rs`): it is sent in one go, not streamed.
const STREAM_MIN: u64 = 64 * 1024;

/// A request ready to go upstream.
struct Forward {
    req: Request<Incoming>,
    /// The client's side of a WebSocket upgrade.
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    /// The session it goes under: a WebSocket or a streaming response
    /// ends with it.
    session: SessionTerms,
}

/// The session a request goes under: its key id (for `X-Embed-Key`) and
/// what ties a WebSocket or a streaming response to it.
struct SessionTerms {
    kid: String,
    issued: u64,
    exp: u64,
}

/// Turns the client's request into the upstream's: headers cleaned, the
/// verified identity set, the URI `path_and_query` (`None`: the request's
/// own URI, already origin-form and normal; owned, so the URI takes it
/// without a copy).
fn prepare_forward(
    state: &State,
    route_idx: usize,
    mut req: Request<Incoming>,
    path_and_query: Option<String>,
    identity: &Identity<'_, impl AsRef<str>>,
    session: SessionTerms,
    client_ip: Option<&HeaderValue>,
) -> Result<Forward, Refused> {
    let route = &state.routes[route_idx];
    let websocket = headers::is_websocket_upgrade(req.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
    let host = request_host(&req);
    let (mut parts, body) = req.into_parts();
    let h = &mut parts.headers;
    // Room for what is added below (forwarding, identity, key, host) in
    // one growth of the map, not several.
    h.reserve(8 + identity.attrs.len());
    state.hygiene.clean_request(h);
    headers::strip_own_cookies(h, &state.cookie_prefix);
    // `Host` is replaced by the upstream's (`Upstream::send`).
    headers::set_forwarded(h, client_ip, state.https, host);
    if headers::set_identity(h, &route.cfg, &session.kid, identity.sub, identity.attrs).is_err() {
        // Control characters in a signed user id or attribute: refuse
        // rather than send a header the backend could misread.
        return Err((Some(route_idx), Refusal::url(Reason::Malformed)));
    }
    if let Some(auth) = &route.cfg.upstream_auth {
        match state.cache.credential(route_idx) {
            Some(v) => {
                h.insert(auth.header.clone(), v);
            }
            None => {
                tracing::error!(route = %route.cfg.name, "upstream credential unavailable; not forwarding");
                return Err((
                    Some(route_idx),
                    Refusal::upstream(super::upstream::UpstreamError::Unavailable),
                ));
            }
        }
    }
    if websocket {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    if let Some(pq) = path_and_query {
        let Some(uri) = origin_uri(pq) else {
            return Err((Some(route_idx), Refusal::url(Reason::Malformed)));
        };
        parts.uri = uri;
    }
    Ok(Forward {
        req: Request::from_parts(parts, body),
        client_upgrade,
        session,
    })
}

/// Sends a prepared request and turns the upstream's answer into the
/// client's (`set_cookie`: the session a signed URL opened).
async fn send_upstream(
    state: &State,
    route_idx: usize,
    fwd: Forward,
    set_cookie: Option<HeaderValue>,
) -> Response<ProxyBody> {
    let Forward {
        req: upstream_req,
        client_upgrade,
        session,
    } = fwd;
    let (mut resp, took) = match state.upstream.send(route_idx, upstream_req).await {
        Ok(r) => r,
        Err(e) => return state.refuse(Some(route_idx), Refusal::upstream(e)),
    };
    state.metrics.upstream_latency(route_idx, took);
    state.metrics.upstream_status(route_idx, resp.status());
    let disposition = Disposition {
        // The key id is only for the access line.
        kid: state.access_log.then(|| session.kid.clone()),
        auth: if set_cookie.is_some() {
            Auth::Signed
        } else {
            Auth::Session
        },
        upstream: Some((resp.status(), took)),
        ..Disposition::new(Some(route_idx), Outcome::Forwarded, "ok")
    };
    resp.extensions_mut().insert(disposition);

    // What stays open (a WebSocket, a body still to come) lasts no longer
    // than its session; checked again first, since the secret may have
    // changed while the upstream answered. A body of a small known length
    // is sent in one go, not streamed.
    let body = resp.body();
    let upgrade = resp.status() == StatusCode::SWITCHING_PROTOCOLS && client_upgrade.is_some();
    let stream = !body.is_end_stream() && body.size_hint().exact().is_none_or(|n| n > STREAM_MIN);
    if !(upgrade || stream) {
        headers::remove_hop_by_hop(resp.headers_mut());
        return with_session_cookie(resp, set_cookie);
    }
    let mut watch = state
        .revocations
        .watch(session.kid, session.issued, session.exp);
    if let Err(why) = watch.check_now() {
        let e = match why {
            Ended::Revoked => SessionError::Revoked,
            Ended::Expired => SessionError::Expired,
        };
        return state.refuse(Some(route_idx), Refusal::session(e));
    }
    if let (true, Some(client)) = (upgrade, client_upgrade) {
        let upstream = hyper::upgrade::on(&mut resp);
        websocket::splice(client, upstream, watch);
        return resp;
    }
    headers::remove_hop_by_hop(resp.headers_mut());
    let resp = resp.map(|body| UnsyncBoxBody::new(Revocable::new(body, watch)));
    with_session_cookie(resp, set_cookie)
}

/// The response to a verified signed URL carries its new session.
fn with_session_cookie(
    mut resp: Response<ProxyBody>,
    set_cookie: Option<HeaderValue>,
) -> Response<ProxyBody> {
    if let Some(c) = set_cookie {
        let h = resp.headers_mut();
        h.append(header::SET_COOKIE, c);
        // The answer to a signed URL is personal and must not be cached;
        // and the signed URL must not leak as a Referer.
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        h.entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("no-referrer"));
    }
    resp
}
