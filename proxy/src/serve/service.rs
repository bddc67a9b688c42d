//! One request through the proxy: a signed URL is verified and opens a
//! session; any other request needs a session covering its path; what
//! passes is forwarded upstream with the verified identity.

use std::net::SocketAddr;
use std::sync::Arc;

use embedgate_core::{Reason, VerifyPolicy};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::config::{OnSuccess, RouteConfig};
use super::headers;
use super::metrics::{Metrics, Outcome};
use super::refusal::{full, Refusal};
use super::replay::Replay;
use super::secret_cache::{CachedSecret, SecretCache};
use super::session_cookie::{self, Session};
use super::upstream::{stream_body, upstream_uri, ProxyBody, Upstream};
use super::verify_request;
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
}

/// The identity to send upstream.
struct Identity<'a> {
    kid: &'a str,
    sub: &'a str,
    attrs: &'a [(String, String)],
}

impl State {
    /// The route whose prefix covers `path` (the longest one).
    fn route_for(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| embedgate_core::path_in_scope(path, &r.cfg.prefix))
            .max_by_key(|(_, r)| r.cfg.prefix.len())
            .map(|(i, _)| i)
    }

    /// Routes a session request to `path` may belong to: the prefix route
    /// first, then routes listing `path` among their session paths.
    fn session_candidates(&self, path: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self.route_for(path).into_iter().collect();
        for (i, r) in self.routes.iter().enumerate() {
            if !out.contains(&i)
                && r.cfg
                    .session_paths
                    .iter()
                    .any(|p| embedgate_core::path_in_scope(path, p))
            {
                out.push(i);
            }
        }
        out
    }

    fn refuse(&self, route: Option<usize>, r: Refusal) -> Response<ProxyBody> {
        self.metrics.request(route, r.outcome);
        let name = route.map_or("none", |i| self.routes[i].cfg.name.as_str());
        tracing::info!(
            route = name,
            status = r.status.as_u16(),
            reason = r.code,
            "refused"
        );
        r.response()
    }
}

/// Seconds since the Unix epoch: the proxy's one clock.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Handles one request.
pub(crate) async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    let now = unix_now();
    let signed = req.uri().query().is_some_and(verify_request::has_eg_params);
    if signed {
        handle_signed(state, req, peer, now).await
    } else {
        handle_session(state, req, peer, now).await
    }
}

fn request_host(req: &Request<Incoming>) -> Option<HeaderValue> {
    req.headers().get(header::HOST).cloned().or_else(|| {
        req.uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    })
}

async fn handle_signed(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
    now: u64,
) -> Response<ProxyBody> {
    // Route by the normalised path; a path no route serves is refused
    // before its nonce is spent. A path that does not normalise is left to
    // the verifier, which answers `malformed`.
    let raw_route = match embedgate_core::normalise_path(req.uri().path()) {
        Ok(p) => match state.route_for(&p) {
            Some(r) => Some(r),
            None => return state.refuse(None, Refusal::NO_ROUTE),
        },
        Err(_) => state.route_for(req.uri().path()),
    };
    let host_header = request_host(&req);
    let host = match (&state.public_host, &host_header) {
        (Some(h), _) => Some(h.clone()),
        (None, Some(h)) => h.to_str().ok().map(str::to_owned),
        (None, None) => None,
    };
    let Some(host) = host else {
        state
            .metrics
            .url_verification(raw_route, Outcome::Refused(Reason::Malformed));
        return state.refuse(raw_route, Refusal::url(Reason::Malformed));
    };
    let pq = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let verified =
        match verify_request::verify(&host, &pq, &state.cache, &state.replay, &state.policy, now)
            .await
        {
            Ok(v) => v,
            Err(r) => {
                state.metrics.url_verification(raw_route, r.outcome);
                return state.refuse(raw_route, r);
            }
        };
    // Route by the path that was verified (normalised), not the raw one.
    let Some(route_idx) = state.route_for(verified.url.path()) else {
        return state.refuse(None, Refusal::NO_ROUTE);
    };
    state
        .metrics
        .url_verification(Some(route_idx), Outcome::Forwarded);
    verified.secret.touch(now);
    let route = &state.routes[route_idx];
    let url = &verified.url;

    let mut exp = now.saturating_add(url.session_secs());
    if let Some(key_exp) = verified.secret.key().expires_at() {
        exp = exp.min(key_exp);
    }
    let session = Session {
        kid: url.kid().to_owned(),
        sub: url.sub().to_owned(),
        attrs: url
            .attrs()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        scope: session_cookie::scope_for(&route.scope, verified.secret.key().scopes()),
        exp,
        issued: now,
    };
    let value = session_cookie::seal(&session, &verified.secret, &route.cookie_name);
    let set_cookie = session_cookie::set_cookie(
        &route.cookie_name,
        &value,
        exp.saturating_sub(now),
        state.insecure_dev_cookies,
    );
    let Ok(mut set_cookie) = HeaderValue::from_str(&set_cookie) else {
        return state.refuse(Some(route_idx), Refusal::url(Reason::Malformed));
    };
    set_cookie.set_sensitive(true);
    tracing::debug!(route = %route.cfg.name, kid = url.kid(), "signed URL verified");

    let clean = url.forward_path_and_query();
    if route.cfg.on_success == OnSuccess::Redirect {
        state.metrics.request(Some(route_idx), Outcome::Redirected);
        let mut resp = Response::new(full(""));
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
        kid: url.kid(),
        sub: url.sub(),
        attrs: &session.attrs,
    };
    forward(
        &state,
        route_idx,
        req,
        &clean,
        &identity,
        peer,
        Some(set_cookie),
    )
    .await
}

async fn handle_session(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
    now: u64,
) -> Response<ProxyBody> {
    let Ok(path) = embedgate_core::normalise_path(req.uri().path()) else {
        let route = state.route_for(req.uri().path());
        return state.refuse(route, Refusal::url(Reason::Malformed));
    };
    let candidates = state.session_candidates(&path);
    if candidates.is_empty() {
        return state.refuse(None, Refusal::NO_ROUTE);
    }
    let mut refusal: Option<(usize, Refusal)> = None;
    let mut granted: Option<(usize, Session, Arc<CachedSecret>)> = None;
    for &i in &candidates {
        let route = &state.routes[i];
        let Some(value) = session_cookie::find(req.headers(), &route.cookie_name) else {
            continue;
        };
        match session_cookie::open(value, &route.cookie_name, &state.cache, now) {
            Ok((session, secret)) => {
                if session_cookie::covers(&session, &secret, &path) {
                    granted = Some((i, session, secret));
                    break;
                }
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
    let Some((route_idx, session, secret)) = granted else {
        let (route, r) = refusal.unwrap_or((
            candidates[0],
            Refusal::session(session_cookie::SessionError::NoSession),
        ));
        return state.refuse(Some(route), r);
    };
    state
        .metrics
        .session_check(Some(route_idx), Outcome::Forwarded);
    secret.touch(now);
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let identity = Identity {
        kid: &session.kid,
        sub: &session.sub,
        attrs: &session.attrs,
    };
    forward(&state, route_idx, req, &pq, &identity, peer, None).await
}

async fn forward(
    state: &State,
    route_idx: usize,
    mut req: Request<Incoming>,
    path_and_query: &str,
    identity: &Identity<'_>,
    peer: SocketAddr,
    set_cookie: Option<HeaderValue>,
) -> Response<ProxyBody> {
    let route = &state.routes[route_idx];
    let websocket = headers::is_websocket_upgrade(req.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
    let host = request_host(&req);
    let (mut parts, body) = req.into_parts();
    let h = &mut parts.headers;
    headers::remove_hop_by_hop(h);
    headers::strip_client_identity(h, &route.cfg);
    headers::strip_own_cookies(h, &state.cookie_prefix);
    h.remove(header::HOST);
    headers::set_forwarded(h, peer.ip(), state.https, host.as_ref());
    if headers::set_identity(h, &route.cfg, identity.kid, identity.sub, identity.attrs).is_err() {
        // Control characters in a signed user id or attribute: refuse
        // rather than send a header the backend could misread.
        return state.refuse(Some(route_idx), Refusal::url(Reason::Malformed));
    }
    if let Some(auth) = &route.cfg.upstream_auth {
        match state.cache.credential(route_idx) {
            Some(v) => {
                h.insert(auth.header.clone(), v);
            }
            None => {
                tracing::error!(route = %route.cfg.name, "upstream credential unavailable; not forwarding");
                return state.refuse(
                    Some(route_idx),
                    Refusal::upstream(super::upstream::UpstreamError::Unavailable),
                );
            }
        }
    }
    if websocket {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    let Some(uri) = upstream_uri(&route.cfg.upstream, path_and_query) else {
        return state.refuse(Some(route_idx), Refusal::url(Reason::Malformed));
    };
    parts.uri = uri;
    let upstream_req = Request::from_parts(parts, body);

    let (mut resp, took) = match state.upstream.send(upstream_req).await {
        Ok(r) => r,
        Err(e) => return state.refuse(Some(route_idx), Refusal::upstream(e)),
    };
    state.metrics.upstream_latency(route_idx, took);
    state.metrics.request(Some(route_idx), Outcome::Forwarded);

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client) = client_upgrade {
            let upstream = hyper::upgrade::on(&mut resp);
            websocket::splice(client, upstream);
            return resp.map(stream_body);
        }
    }
    headers::remove_hop_by_hop(resp.headers_mut());
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
    resp.map(stream_body)
}
