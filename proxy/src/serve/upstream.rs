//! The keep-alive connections to the content backends, and the error
//! mapping of spec'd gateway failures (502 unreachable, 504 too slow).
//! Bodies stream through in both directions: the client's `Incoming` body
//! goes upstream as it arrives, the upstream's body comes back the same way.
//!
//! The pool is the proxy's own, over `hyper::client::conn::http1`: one
//! request in flight per connection; a connection goes back to its pool
//! when the response body has been read to its end, straight from the
//! request path (no task per request, no hashing of a pool key: each route
//! knows its pool). Idle connections are taken newest first; a broken one
//! is dropped; an idle one is closed after `pool_idle_timeout`. Each
//! connection keeps its own response timer, moved forward for each request
//! (an atomic update while the deadline only grows) rather than a timer
//! entry made and dropped per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::{Instant, Sleep};
use tower_service::Service as _;

use super::config::UpstreamConfig;

/// Errors a body may carry on its way through.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the proxy sends.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// Why the upstream gave no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// Refused, reset, unreachable: 502.
    Unavailable,
    /// Connect or response headers took too long: 504.
    Timeout,
    /// The client's own request body broke off or was malformed (a bad
    /// chunk size, say) while it was sent on: 400, not the upstream's fault.
    ClientBody,
}

/// The connections of every route.
#[derive(Debug)]
pub struct Upstream {
    /// One pool per route (routes with the same upstream share one).
    pools: Vec<Arc<HostPool>>,
    connector: HttpConnector,
    response_timeout: Duration,
}

/// The connections to one upstream (`http://host:port`).
#[derive(Debug)]
struct HostPool {
    /// What the connector dials.
    dst: Uri,
    /// `Host` of every request: the authority, without a default port.
    host: HeaderValue,
    idle: Mutex<Idle>,
    max_idle: usize,
    idle_timeout: Duration,
}

/// One upstream connection (its task does the I/O) and its timer.
#[derive(Debug)]
struct Conn {
    send: SendRequest<Incoming>,
    timer: Pin<Box<Sleep>>,
}

/// Idle connections, newest last. Expiry counts reaper ticks instead of
/// reading the clock on every check-in: a connection idle for a whole tick
/// (`pool_idle_timeout`) is closed at the next one.
#[derive(Debug, Default)]
struct Idle {
    conns: Vec<(Conn, u64)>,
    /// The current tick.
    tick: u64,
    /// Whether the reaper task runs.
    reaping: bool,
}

impl Upstream {
    /// Pools for the routes' upstreams (in route order), with the
    /// configured limits and timeouts.
    pub fn new(cfg: &UpstreamConfig, routes: &[Uri]) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let mut pools: Vec<Arc<HostPool>> = Vec::with_capacity(routes.len());
        for uri in routes {
            let shared = pools
                .iter()
                .find(|p| p.dst.authority() == uri.authority())
                .cloned();
            pools.push(shared.unwrap_or_else(|| {
                Arc::new(HostPool {
                    dst: uri.clone(),
                    host: host_header(uri),
                    idle: Mutex::new(Idle::default()),
                    max_idle: cfg.pool_max_idle_per_host,
                    idle_timeout: cfg.pool_idle_timeout,
                })
            }));
        }
        Upstream {
            pools,
            connector,
            response_timeout: cfg.response_timeout,
        }
    }

    /// Sends `req` (origin-form URI) to the upstream of route `route` and
    /// waits for the response headers; returns the response, its body
    /// streaming, and the time the headers took.
    pub async fn send(
        &self,
        route: usize,
        mut req: Request<Incoming>,
    ) -> Result<(Response<ProxyBody>, Duration), UpstreamError> {
        let pool = &self.pools[route];
        *req.version_mut() = Version::HTTP_11;
        req.headers_mut().insert(header::HOST, pool.host.clone());
        let started = Instant::now();
        // One deadline for connect, send and response headers together:
        // the connector's own timeout only bounds the TCP connect.
        match self
            .exchange(pool, req, started + self.response_timeout)
            .await
        {
            Err(Failure::Timeout) => Err(UpstreamError::Timeout),
            Ok(resp) => Ok((resp, started.elapsed())),
            Err(Failure::Error(e)) if is_client_body_error(e.as_ref()) => {
                tracing::debug!(error = %e, "the client's request body failed on its way upstream");
                Err(UpstreamError::ClientBody)
            }
            Err(Failure::Error(e)) => {
                let timed_out = is_timeout(e.as_ref());
                tracing::warn!(error = %e, timed_out, "upstream request failed");
                Err(if timed_out {
                    UpstreamError::Timeout
                } else {
                    UpstreamError::Unavailable
                })
            }
        }
    }

    async fn exchange(
        &self,
        pool: &Arc<HostPool>,
        mut req: Request<Incoming>,
        deadline: Instant,
    ) -> Result<Response<ProxyBody>, Failure> {
        loop {
            let (mut conn, reused) = match pool.checkout() {
                Some(mut c) => {
                    c.timer.as_mut().reset(deadline);
                    (c, true)
                }
                None => {
                    let mut timer = Box::pin(tokio::time::sleep_until(deadline));
                    let send = before(timer.as_mut(), self.connect(pool))
                        .await
                        .ok_or(Failure::Timeout)?
                        .map_err(Failure::Error)?;
                    (Conn { send, timer }, false)
                }
            };
            // Too late: dropping the exchange closes the connection.
            let sent = before(conn.timer.as_mut(), conn.send.try_send_request(req))
                .await
                .ok_or(Failure::Timeout)?;
            match sent {
                Ok(resp) => return Ok(pooled_response(resp, conn, pool)),
                Err(mut e) => match e.take_message() {
                    // An idle connection the upstream had closed: nothing
                    // was sent, so try again (another idle one, or a new
                    // one, which is not retried).
                    Some(r) if reused => {
                        tracing::debug!(error = %e.error(), "stale upstream connection; retrying");
                        req = r;
                    }
                    _ => return Err(Failure::Error(e.into_error().into())),
                },
            }
        }
    }

    async fn connect(&self, pool: &HostPool) -> Result<SendRequest<Incoming>, BoxError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
        let io = connector.call(pool.dst.clone()).await?;
        let (send, conn) = http1::Builder::new().handshake(io).await?;
        // The connection's own task reads and writes; upgrades (WebSocket)
        // hand its socket over when it ends.
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(send)
    }
}

/// Why an exchange gave no response.
enum Failure {
    /// The deadline passed.
    Timeout,
    /// Connecting or the exchange failed.
    Error(BoxError),
}

/// `fut`'s output, or `None` if `timer` fires first (polled after `fut`,
/// as `tokio::time::timeout` does).
async fn before<F: Future>(mut timer: Pin<&mut Sleep>, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The `Host` header the upstream gets: its authority, minus port 80.
fn host_header(uri: &Uri) -> HeaderValue {
    let host = uri.host().unwrap_or_default();
    let text = match uri.port_u16() {
        Some(p) if p != 80 => format!("{host}:{p}"),
        _ => host.to_owned(),
    };
    // The config accepted the URI, so its host is a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

impl HostPool {
    /// The newest idle connection that can take a request now.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((conn, _)) = idle.conns.pop() {
            if conn.send.is_ready() {
                return Some(conn);
            }
            // Closed (or, in theory, still busy): drop it.
        }
        None
    }

    /// Returns a connection whose exchange is over.
    fn checkin(self: &Arc<Self>, mut conn: Conn) {
        if self.max_idle == 0 || conn.send.is_closed() {
            return;
        }
        if !conn.send.is_ready() {
            // The response ended before the request body was sent (an
            // early answer to an upload): pool it once the connection is
            // free again. (Outside a runtime, shutting down: let it go.)
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let pool = Arc::clone(self);
            rt.spawn(async move {
                if std::future::poll_fn(|cx| conn.send.poll_ready(cx))
                    .await
                    .is_ok()
                {
                    pool.checkin(conn);
                }
            });
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.conns.len() >= self.max_idle {
            return;
        }
        let tick = idle.tick;
        idle.conns.push((conn, tick));
        if !idle.reaping {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                idle.reaping = true;
                rt.spawn(reap(Arc::downgrade(self), self.idle_timeout));
            }
        }
    }
}

/// Closes connections left idle for a whole `every`; ends with the pool.
async fn reap(pool: Weak<HostPool>, every: Duration) {
    // As hyper-util's pool: never check more often than every 90 ms.
    let every = every.max(Duration::from_millis(90));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let closed: Vec<Conn> = {
            let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let current = idle.tick;
            idle.tick += 1;
            let (keep, old): (Vec<_>, Vec<_>) = std::mem::take(&mut idle.conns)
                .into_iter()
                .partition(|(c, t)| *t == current && !c.send.is_closed());
            idle.conns = keep;
            old.into_iter().map(|(c, _)| c).collect()
        };
        // Dropped outside the lock: each ends its connection.
        drop(closed);
    }
}

/// The response with a body that returns `conn` to `pool` at its end.
fn pooled_response(
    resp: Response<Incoming>,
    conn: Conn,
    pool: &Arc<HostPool>,
) -> Response<ProxyBody> {
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        // The connection becomes the upgraded stream: never pooled. Its
        // sender is kept until the connection ends, as hyper-util's pool
        // did, so the hand-over is not cut short.
        let mut send = conn.send;
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| send.poll_ready(cx)).await;
        });
        return resp.map(stream_body);
    }
    let pool = Arc::clone(pool);
    resp.map(|body| {
        UnsyncBoxBody::new(PooledBody {
            body,
            conn: Some((conn, pool)),
        })
    })
}

/// An upstream body that gives its connection back once read to the end.
/// Dropped before that (the client went away), the connection closes: it
/// still has a response in it.
struct PooledBody {
    body: Incoming,
    conn: Option<(Conn, Arc<HostPool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((conn, pool)) = self.conn.take() {
            pool.checkin(conn);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.conn = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // The server stops polling once `is_end_stream` says so: the body
        // is complete then, even without a final `None`.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

/// Whether the exchange failed on the body being sent: the client's.
fn is_client_body_error(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_user)
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// An origin-form URI for `path_and_query`.
pub fn origin_uri(path_and_query: String) -> Option<Uri> {
    if !path_and_query.starts_with('/') {
        return None;
    }
    // From `Bytes` the URI keeps the string's buffer; a `&str` is copied.
    Uri::from_maybe_shared(Bytes::from(path_and_query)).ok()
}

/// Turns an upstream body into the proxy's body type, unbuffered.
pub fn stream_body(b: Incoming) -> ProxyBody {
    b.map_err(BoxError::from).boxed_unsync()
}
