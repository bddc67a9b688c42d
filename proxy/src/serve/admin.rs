//! The admin listener: `/healthz` (the process answers), `/readyz` (the
//! secret cache is loaded), `/metrics` (Prometheus text), the admin API
//! (`/api/v1/…`, `crate::admin_api`), the admin console (`/admin/`; `/`
//! redirects there) and the playground (`/playground/`). Keep it off the
//! public network.

use std::convert::Infallible;
use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

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
        "/readyz" => {
            // Fleet mode with PostgreSQL unreachable: still 200 (the cache
            // keeps verifying, so the load balancer should keep sending
            // traffic), but the body says degraded, why, and how stale.
            if let (true, Some(reason)) = (
                state.cache.is_loaded(),
                state.cache.sync_health().degraded(),
            ) {
                let body = serde_json::json!({
                    "status": "degraded",
                    "reason": reason,
                    "staleness_seconds": state.cache.sync_health().staleness_secs(),
                });
                text(StatusCode::OK, format!("{body}\n"), "application/json")
            } else if state.cache.is_loaded() {
                text(StatusCode::OK, "ready\n".into(), "text/plain")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "secret cache not loaded\n".into(),
                    "text/plain",
                )
            }
        }
        "/metrics" => text(
            StatusCode::OK,
            state.metrics.render(&state.cache, state.replay.entries())
                + &super::change_feed::render_metrics(state.cache.sync_health()),
            "text/plain; version=0.0.4",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
    }
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

/// Serves the admin endpoints until `stop` flips.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    api: Option<Arc<AdminApi>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = Arc::clone(&state);
        let api = api.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = Arc::clone(&state);
                let api = api.clone();
                async move { Ok::<_, Infallible>(dispatch(req, &state, api.as_deref()).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
