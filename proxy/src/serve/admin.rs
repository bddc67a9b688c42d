//! The operational listeners: the admin listener (`listen.admin`) and the
//! optional metrics listener (`listen.metrics`). Both answer the probes
//! ([`probes`]): `/healthz` (the process answers), `/readyz` (the secret
//! cache is loaded; degraded or not, see [`readyz`]) and `/metrics`
//! (OpenMetrics text, `metrics.rs`). The metrics listener answers nothing
//! else, so a scraper needs no access to the admin API; the admin
//! listener adds whatever router its caller gives (the admin API,
//! console and playground of `crate::admin_api`, assembled by the
//! `serve` command: this module knows only an `axum::Router`). Keep the
//! admin listener off the public network.
//!
//! Both are served through hyper with the header and idle deadlines of
//! `[limits]` (`connection_deadline.rs`), like the public listener.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State as Extract;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service as _;

use super::config::LimitsConfig;
use super::connection_deadline::{Deadline, GuardedBody};
use super::metrics;
use super::service::State;

fn text(status: StatusCode, body: impl Into<String>, ctype: &'static str) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/healthz`, `/readyz` and `/metrics`.
pub(crate) fn probes(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { text(StatusCode::OK, "ok\n", "text/plain") }),
        )
        .route(
            "/readyz",
            get(|Extract(s): Extract<Arc<State>>| async move { readyz(&s) }),
        )
        .route(
            "/metrics",
            get(|Extract(s): Extract<Arc<State>>| async move {
                text(StatusCode::OK, s.metrics.render(), metrics::CONTENT_TYPE)
            }),
        )
        .with_state(state)
}

/// What a path no router serves gets.
async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n", "text/plain")
}

/// The admin listener's router: the probes, then `extra`.
pub(crate) fn admin_router(state: Arc<State>, extra: Option<Router>) -> Router {
    let probes = probes(state);
    match extra {
        Some(extra) => probes.merge(extra),
        None => probes,
    }
    .fallback(not_found)
}

/// The metrics listener's router: the probes alone.
pub(crate) fn metrics_router(state: Arc<State>) -> Router {
    probes(state).fallback(not_found)
}

/// `/readyz`: 503 until the secret cache is loaded; then 200, with a
/// plain `ready`, or a JSON body when something is degraded:
///
/// - fleet mode with PostgreSQL unreachable (`reason`, `staleness_seconds`);
/// - the replay backend (Redis) not answering (`reason`
///   `replay_unavailable`; `replay`: backend, and why);
/// - stored rows whose value cannot be decrypted (`unreadable_rows`: id,
///   kind, name; never a value). Each is refused on its own.
///
/// `reason` names the first of these that applies, in this order.
/// Degraded is still 200: the proxy verifies every other secret (and with
/// Redis away, every session), and a bad row or a blinking database is
/// the same on every proxy of a fleet, so a 503 would make the load
/// balancer take the whole fleet out, every secret with it. Alert on the
/// body or on `/metrics` (`embedgate_store_connected`,
/// `embedgate_store_row_errors`, `embedgate_replay_backend_up`).
fn readyz(state: &State) -> Response {
    let cache = &state.cache;
    if !cache.is_loaded() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "secret cache not loaded\n",
            "text/plain",
        );
    }
    let sync = cache.sync_health().degraded();
    let replay = state.replay.observer();
    let replay_down = replay.down_reason();
    let rows = cache.row_errors().list();
    if sync.is_none() && replay_down.is_none() && rows.is_empty() {
        return text(StatusCode::OK, "ready\n", "text/plain");
    }
    let reason = sync
        .or_else(|| {
            replay_down
                .is_some()
                .then(|| "replay_unavailable".to_owned())
        })
        .unwrap_or_else(|| "unreadable_rows".to_owned());
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(id, e)| serde_json::json!({ "id": id, "kind": e.kind.as_str(), "name": e.name }))
        .collect();
    let body = serde_json::json!({
        "status": "degraded",
        "reason": reason,
        "staleness_seconds": cache.sync_health().staleness_secs(),
        "unreadable_rows": rows,
        "replay": {
            "backend": replay.backend(),
            "up": replay_down.is_none(),
            "error": replay_down,
        },
    });
    text(StatusCode::OK, format!("{body}\n"), "application/json")
}

/// Serves `router` on `listener` until `stop` flips. The header and idle
/// deadlines of `[limits]` apply (`connection_deadline.rs`).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
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
        let router = router.clone();
        let builder = builder.clone();
        let deadline = Deadline::new(limits.header_read_timeout, limits.keepalive_idle_timeout);
        tokio::spawn(async move {
            let requests = deadline.clone();
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                // A router is always ready: no `poll_ready` is needed.
                let mut router = router.clone();
                let in_flight = requests.request_started();
                async move {
                    let resp = match router.call(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
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
