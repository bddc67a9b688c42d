//! The admin listener: `/healthz` (the process answers), `/readyz` (the
//! secret cache is loaded; degraded or not, see [`readyz`]), `/metrics` (Prometheus text), the admin API
//! (`/api/v1/…`, `crate::admin_api`), the admin console (`/admin/`; `/`
//! redirects there) and the playground (`/playground/`). Keep it off the
//! public network.

use std::convert::Infallible;
use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::config::LimitsConfig;
use super::connection_deadline::{Deadline, GuardedBody};
use super::refusal::full;
use super::service::State;
use super::upstream::ProxyBody;
use crate::admin_api::{self, AdminApi};
use http_body_util::BodyExt as _;

fn answer(req: &Request<Incoming>, state: &State) -> Response<ProxyBody> {
    let text = |status: StatusCode, body: String, ctype: &'static str| {
        let mut r = Response::new(full(body));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n".into(), "text/plain"),
        "/readyz" => readyz(state, text),
        "/metrics" => text(
            StatusCode::OK,
            state.metrics.render(&state.cache, state.replay.entries())
                + &super::change_feed::render_metrics(state.cache.sync_health()),
            "text/plain; version=0.0.4",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
    }
}

/// `/readyz`: 503 until the secret cache is loaded; then 200, with a
/// plain `ready`, or a JSON body when the cache is degraded:
///
/// - fleet mode with PostgreSQL unreachable (`reason`, `staleness_seconds`);
/// - stored rows whose value cannot be decrypted (`unreadable_rows`: id,
///   kind, name; never a value). Each is refused on its own.
///
/// Degraded is still 200: the proxy verifies every other secret, and a bad
/// row or a blinking database is the same on every proxy of a fleet, so a
/// 503 would make the load balancer take the whole fleet out, every secret
/// with it. Alert on the body or on `/metrics`
/// (`embedgate_store_connected`, `embedgate_store_row_errors`).
fn readyz(
    state: &State,
    text: impl Fn(StatusCode, String, &'static str) -> Response<ProxyBody>,
) -> Response<ProxyBody> {
    let cache = &state.cache;
    if !cache.is_loaded() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "secret cache not loaded\n".into(),
            "text/plain",
        );
    }
    let sync = cache.sync_health().degraded();
    let rows = cache.row_errors().list();
    if sync.is_none() && rows.is_empty() {
        return text(StatusCode::OK, "ready\n".into(), "text/plain");
    }
    let reason = sync.unwrap_or_else(|| "unreadable_rows".to_owned());
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(id, e)| serde_json::json!({ "id": id, "kind": e.kind.as_str(), "name": e.name }))
        .collect();
    let body = serde_json::json!({
        "status": "degraded",
        "reason": reason,
        "staleness_seconds": cache.sync_health().staleness_secs(),
        "unreadable_rows": rows,
    });
    text(StatusCode::OK, format!("{body}\n"), "application/json")
}

/// Routes `/api/v1/…` to the admin API and `/admin/…`, `/playground/…` to
/// the embedded files; everything else to [`answer`].
async fn dispatch(
    req: Request<Incoming>,
    state: &State,
    api: Option<&AdminApi>,
) -> Response<ProxyBody> {
    let path = req.uri().path();
    let boxed = |r: Response<http_body_util::Full<bytes::Bytes>>| {
        r.map(|b| b.map_err(|never| match never {}).boxed_unsync())
    };
    if path == admin_api::PREFIX || path.starts_with("/api/v1/") {
        return match api {
            Some(api) => boxed(api.handle(req).await),
            None => answer(&req, state),
        };
    }
    if admin_api::console::handles(path) {
        return boxed(admin_api::console::serve(req.method(), path));
    }
    answer(&req, state)
}

/// Serves the admin endpoints until `stop` flips. The header and idle
/// deadlines of `[limits]` apply here too (`connection_deadline.rs`).
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    api: Option<Arc<AdminApi>>,
    limits: LimitsConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    // Deadlines are `connection_deadline.rs`'s; hyper's would also cut
    // keep-alive short.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = Arc::clone(&state);
        let api = api.clone();
        let builder = builder.clone();
        let deadline = Deadline::new(limits.header_read_timeout, limits.keepalive_idle_timeout);
        tokio::spawn(async move {
            let requests = deadline.clone();
            let svc = service_fn(move |req| {
                let state = Arc::clone(&state);
                let api = api.clone();
                let in_flight = requests.request_started();
                async move {
                    let resp = dispatch(req, &state, api.as_deref()).await;
                    Ok::<_, Infallible>(resp.map(|b| GuardedBody::new(b, in_flight)))
                }
            });
            let conn = builder.serve_connection(TokioIo::new(deadline.watch(stream)), svc);
            tokio::select! {
                _ = conn => {}
                _ = deadline.passed() => {}
            }
        });
    }
}
