//! The pooled keep-alive client to the content backends, and the error
//! mapping of spec'd gateway failures (502 unreachable, 504 too slow).
//! Bodies stream through in both directions: the client's `Incoming` body
//! goes upstream as it arrives, the upstream's body comes back the same way.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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
}

/// The shared client.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, Incoming>,
    response_timeout: Duration,
}

impl Upstream {
    /// A client with the configured pool and timeouts.
    pub fn new(cfg: &UpstreamConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(cfg.pool_idle_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Upstream {
            client,
            response_timeout: cfg.response_timeout,
        }
    }

    /// Sends `req` (its URI already absolute) and waits for the response
    /// headers; returns them and the time they took.
    pub async fn send(
        &self,
        mut req: Request<Incoming>,
    ) -> Result<(Response<Incoming>, Duration), UpstreamError> {
        *req.version_mut() = Version::HTTP_11;
        let started = Instant::now();
        match tokio::time::timeout(self.response_timeout, self.client.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Ok(resp)) => Ok((resp, started.elapsed())),
            Ok(Err(e)) => {
                let timed_out = is_timeout(&e);
                tracing::warn!(error = %e, timed_out, "upstream request failed");
                Err(if timed_out {
                    UpstreamError::Timeout
                } else {
                    UpstreamError::Unavailable
                })
            }
        }
    }
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

/// `http://upstream-authority` + `path_and_query`.
pub fn upstream_uri(base: &Uri, path_and_query: &str) -> Option<Uri> {
    Uri::builder()
        .scheme("http")
        .authority(base.authority()?.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

/// Turns an upstream body into the proxy's body type, unbuffered.
pub fn stream_body(b: Incoming) -> ProxyBody {
    b.map_err(BoxError::from).boxed_unsync()
}
