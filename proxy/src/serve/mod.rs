//! `embedgate serve`: the edge verification proxy.
//!
//! A request with `eg_` parameters is a signed embed URL: it is verified
//! (`verify_request.rs`, keys from `secret_cache.rs`, nonces in
//! `replay_cache.rs`), opens a session (`session_cookie.rs`) and goes
//! upstream (`upstream.rs`, headers cleaned in `headers.rs`). Any other
//! request needs a session cookie covering its path. WebSockets
//! (`websocket.rs`) and streaming responses end with their session
//! (`revocation.rs`). Everything around it: configuration (`config/`),
//! TLS (`tls.rs`), client connection limits (`connection_deadline.rs`, the
//! accept loop here), the admin and metrics listeners (`admin.rs`; metrics
//! in `metrics.rs`, `process_metrics.rs`), `last_used_at` (`usage.rs`),
//! graceful shutdown (`shutdown.rs`), the start-time checks of `serve
//! --check` (`preflight.rs`). The embed SDK's session paths under
//! `/.embedgate/` are `renewal.rs`; a refused page load is answered as a
//! page (`refusal_page.rs`, pages built by `html_page.rs`).
//!
//! Start it in-process with [`Server::bind`] (or [`Server::bind_with_source`]
//! for another secret source) and [`Server::run`], or in one call with [`run`].
//! This module never depends on the admin API: the admin listener serves
//! the probes plus whatever `axum::Router` the caller adds with
//! [`Server::with_admin_api`], built from an [`AdminContext`] (the CLI's
//! `serve` command passes `crate::admin_api::router`).

mod access;
mod admin;
mod change_feed;
pub mod config;
mod connection_deadline;
mod expiry_purge;
mod headers;
mod html_page;
mod metrics;
pub mod preflight;
mod process_metrics;
mod refusal;
mod refusal_page;
mod renewal;
mod replay;
mod replay_cache;
mod replay_redis;
mod revocation;
pub mod secret_cache;
pub mod secret_source;
mod service;
mod session_cookie;
pub mod shutdown;
mod store_health;
mod store_source;
mod tls;
mod upstream;
mod usage;
pub mod verification_counts;
mod verify_request;
mod websocket;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use embedgate_core::VerifyPolicy;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

pub use config::Config;
use config::LimitsConfig;
use connection_deadline::{Deadline, GuardedBody};
pub use metrics::AdminMetrics;
pub use renewal::scoped_path;
use secret_cache::{CredentialSpec, SecretCache};
pub use secret_source::{SecretRecord, SecretSource};
use service::{Route, State};

/// A proxy with its listeners bound and its cache loaded, not yet serving.
pub struct Server {
    state: Arc<State>,
    source: Arc<dyn SecretSource>,
    public: TcpListener,
    admin: Option<TcpListener>,
    metrics: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    config: Config,
    /// The store itself, for the admin API (`None` with another source).
    admin_store: Option<embedgate_store::Store>,
    /// Served on the admin listener next to the probes.
    admin_routes: Option<axum::Router>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("public", &self.public.local_addr().ok())
            .field(
                "admin",
                &self.admin.as_ref().and_then(|a| a.local_addr().ok()),
            )
            .field(
                "metrics",
                &self.metrics.as_ref().and_then(|a| a.local_addr().ok()),
            )
            .finish_non_exhaustive()
    }
}

/// Reloads the secret cache at once: call it after changing secrets through
/// this process, so the change applies now instead of at the next poll.
#[derive(Clone)]
pub struct ReloadHandle {
    cache: Arc<SecretCache>,
    source: Arc<dyn SecretSource>,
}

impl std::fmt::Debug for ReloadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadHandle").finish_non_exhaustive()
    }
}

impl ReloadHandle {
    /// Reloads from the store; returns once the cache reflects it.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let cache = Arc::clone(&self.cache);
        let source = Arc::clone(&self.source);
        tokio::task::spawn_blocking(move || cache.reload_blocking(source.as_ref()))
            .await
            .context("reload task")?
    }

    /// Applies only what changed in the store since the cache's revision
    /// (see `SecretCache::catch_up_blocking`); returns once the cache
    /// reflects it. What to call after a write of this process: it costs
    /// the rows written, not the store.
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        let cache = Arc::clone(&self.cache);
        let source = Arc::clone(&self.source);
        tokio::task::spawn_blocking(move || cache.catch_up_blocking(source.as_ref()))
            .await
            .context("catch-up task")?
            .map(|_| ())
    }

    /// This proxy's counts of verified uses of embed secret `client_id`
    /// (`None` before its first use).
    pub fn verification_counts(
        &self,
        client_id: &str,
    ) -> Option<Arc<verification_counts::VerificationCounts>> {
        self.cache.verification_counts(client_id)
    }
}

/// What an admin API needs of a proxy: its store, its cache (to apply a
/// change before answering, and to read usage counts) and a handle to
/// count its requests in `/metrics`. See [`Server::with_admin_api`].
#[derive(Clone, Debug)]
pub struct AdminContext {
    /// The store the proxy serves from.
    pub store: embedgate_store::Store,
    /// The proxy's secret cache.
    pub cache: ReloadHandle,
    /// Counts admin API requests (`embedgate_admin_requests_total`).
    pub metrics: AdminMetrics,
}

/// Binds, loads and serves until `shutdown` resolves, then drains. The
/// admin listener serves only the probes: for the admin API use
/// [`Server::with_admin_api`].
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    Server::bind(config).await?.run(shutdown).await
}

impl Server {
    /// Opens the store named by the config, loads the cache, binds.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let store = store_source::open_store(&config).await?;
        let mut server = Server::bind_with_source(config, Arc::new(store.clone())).await?;
        server.admin_store = Some(store);
        Ok(server)
    }

    /// Adds the router `build` makes to the admin listener, next to the
    /// probes (`/healthz`, `/readyz`, `/metrics`). Called only when there
    /// is an admin listener and a store (a server made by
    /// [`Server::bind`]); otherwise nothing is added.
    pub fn with_admin_api(mut self, build: impl FnOnce(AdminContext) -> axum::Router) -> Server {
        if let (Some(store), Some(_)) = (self.admin_store.clone(), &self.admin) {
            self.admin_routes = Some(build(AdminContext {
                store,
                cache: self.reload_handle(),
                metrics: self.state.metrics.admin(),
            }));
        }
        self
    }

    /// The store behind the admin API (`/api/v1` on the admin listener),
    /// when the server was bound with [`Server::bind`].
    pub fn admin_store(&self) -> Option<&embedgate_store::Store> {
        self.admin_store.as_ref()
    }

    /// As [`Server::bind`], with the secrets from `source`.
    pub async fn bind_with_source(
        config: Config,
        source: Arc<dyn SecretSource>,
    ) -> anyhow::Result<Server> {
        let specs = config
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.upstream_auth.as_ref().map(|a| CredentialSpec {
                    route: i,
                    name: a.credential.clone(),
                    prefix: a.prefix.clone(),
                })
            })
            .collect();
        let cache = Arc::new(SecretCache::new(specs));
        {
            let cache = Arc::clone(&cache);
            let source = Arc::clone(&source);
            tokio::task::spawn_blocking(move || cache.reload_blocking(source.as_ref()))
                .await
                .context("loading secrets")?
                .context("cannot load the embed secrets from the store")?;
        }
        for r in &config.routes {
            if let Some(a) = &r.upstream_auth {
                let idx = config
                    .routes
                    .iter()
                    .position(|x| x.name == r.name)
                    .unwrap_or(0);
                // A credential whose stored value cannot be decrypted does
                // not stop the proxy: its routes answer 502 and `/readyz`
                // names the row, while every other route serves.
                if cache.credential(idx).is_none() && !cache.credential_unreadable(idx) {
                    anyhow::bail!(
                        "config key `routes[{idx}].upstream_auth.credential`: no usable credential {:?} in the store (`embedgate credentials put --name {}`)",
                        a.credential,
                        a.credential
                    );
                }
            }
        }
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let public = TcpListener::bind(config.public_addr)
            .await
            .with_context(|| {
                format!(
                    "{}: cannot listen on {}",
                    config.key("listen.public"),
                    config.public_addr
                )
            })?;
        let admin = match config.admin_addr {
            Some(a) => Some(TcpListener::bind(a).await.with_context(|| {
                format!("{}: cannot listen on {a}", config.key("listen.admin"))
            })?),
            None => None,
        };
        let metrics_listener = match config.metrics_addr {
            Some(a) => Some(TcpListener::bind(a).await.with_context(|| {
                format!("{}: cannot listen on {a}", config.key("listen.metrics"))
            })?),
            None => None,
        };
        let insecure = config.session.insecure_dev_cookies;
        if insecure {
            tracing::warn!("session.insecure_dev_cookies is on: session cookies lack Secure and __Host-; development only");
        }
        let routes: Vec<Route> = config
            .routes
            .iter()
            .map(|r| Route {
                cookie_name: session_cookie::cookie_name(
                    &config.session.cookie_name,
                    &r.name,
                    insecure,
                ),
                scope: std::iter::once(r.prefix.clone())
                    .chain(r.session_paths.iter().cloned())
                    .collect(),
                cfg: r.clone(),
            })
            .collect();
        let names: Vec<String> = config.routes.iter().map(|r| r.name.clone()).collect();
        let replay =
            replay::Replay::from_config(&config.replay, config.verify.replay_cache_entries).await?;
        let metrics = metrics::Metrics::new(
            &names,
            metrics::Sources {
                cache: Arc::clone(&cache),
                replay: replay.observer(),
            },
        );
        let state = Arc::new(State {
            cookie_prefix: session_cookie::cookie_name(&config.session.cookie_name, "", insecure),
            routes,
            cache: Arc::clone(&cache),
            replay,
            policy: VerifyPolicy {
                skew: config.verify.skew,
                max_url_ttl: config.verify.max_url_ttl,
                max_session: config.verify.max_session,
            },
            public_host: config.verify.public_host.clone(),
            upstream: upstream::Upstream::new(
                &config.upstream,
                &config
                    .routes
                    .iter()
                    .map(|r| r.upstream.clone())
                    .collect::<Vec<_>>(),
            ),
            metrics,
            https: tls.is_some(),
            insecure_dev_cookies: insecure,
            hygiene: headers::Hygiene::new(&config.routes, &config.headers),
            revocations: revocation::Revocations::new(&cache),
            access_log: config.log.access,
        });
        Ok(Server {
            state,
            source,
            public,
            admin,
            metrics: metrics_listener,
            tls,
            config,
            admin_store: None,
            admin_routes: None,
        })
    }

    /// The bound public address (useful with port 0).
    pub fn public_addr(&self) -> SocketAddr {
        self.public.local_addr().unwrap_or(self.config.public_addr)
    }

    /// The bound admin address, if the admin listener is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|a| a.local_addr().ok())
    }

    /// The bound metrics address, if `listen.metrics` is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|a| a.local_addr().ok())
    }

    /// A handle to reload the secret cache at once.
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            cache: Arc::clone(&self.state.cache),
            source: Arc::clone(&self.source),
        }
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets
    /// in-flight requests finish (up to `shutdown.drain_timeout`), records
    /// the last uses and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        // Fleet mode: a PostgreSQL store is followed by LISTEN
        // (`change_feed.rs`) instead of polling.
        let fleet_store = self
            .admin_store
            .clone()
            .filter(|s| s.postgres_schema().is_some());
        let store_for_purge = self.admin_store.clone();
        let Server {
            state,
            source,
            public,
            admin,
            metrics,
            tls,
            config,
            admin_store: _,
            admin_routes,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);

        let poller = match fleet_store {
            Some(store) => tokio::spawn(change_feed::run(
                Arc::clone(&state.cache),
                store,
                config.store_url.clone(),
                config.resync_interval,
                stop_rx.clone(),
            )),
            None => tokio::spawn(poll_store(
                Arc::clone(&state.cache),
                Arc::clone(&source),
                config.poll_interval,
                stop_rx.clone(),
            )),
        };
        if let Some(store) = &store_for_purge {
            tokio::spawn(expiry_purge::run(
                store.clone(),
                config.purge_interval,
                stop_rx.clone(),
            ));
        }
        let usage_task = tokio::spawn(flush_usage(
            Arc::clone(&state.cache),
            Arc::clone(&source),
            config.usage_flush_interval,
            stop_rx.clone(),
        ));
        if let Some(admin) = admin {
            tokio::spawn(admin::serve(
                admin,
                admin::admin_router(Arc::clone(&state), admin_routes),
                config.limits.clone(),
                stop_rx.clone(),
            ));
        }
        if let Some(metrics) = metrics {
            tokio::spawn(admin::serve(
                metrics,
                admin::metrics_router(Arc::clone(&state)),
                config.limits.clone(),
                stop_rx.clone(),
            ));
        }
        tracing::info!(
            public = %public.local_addr().map_or_else(|_| "?".into(), |a| a.to_string()),
            tls = tls.is_some(),
            routes = state.routes.len(),
            "embedgate serve listening"
        );

        let drain = shutdown::Drain::new();
        let conns = Arc::new(Connections::new(config.limits.clone()));
        // Beyond `max_connections` the loop stops accepting: new connections
        // wait in the kernel's listen backlog until one closes.
        let slots = Arc::new(Semaphore::new(conns.limits.max_connections));
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                _ = &mut shutdown => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(s) => s,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = public.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&state);
            let guard = drain.guard();
            let conns = Arc::clone(&conns);
            match &tls {
                None => {
                    tokio::spawn(async move {
                        serve_connection(&conns, stream, peer, state, guard).await;
                        drop(slot);
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let handshake = conns.limits.tls_handshake_timeout;
                        match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                            Ok(Ok(tls_stream)) => {
                                serve_connection(&conns, tls_stream, peer, state, guard).await
                            }
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                        drop(slot);
                    });
                }
            }
        }
        drop(public);
        tracing::info!("shutting down: no new connections, draining in-flight requests");
        if !drain.drain(config.drain_timeout).await {
            tracing::warn!("drain timeout reached; closing remaining connections");
        }
        let _ = stop_tx.send(true);
        let _ = poller.await;
        let _ = usage_task.await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// What every public connection is served with: the HTTP/1 and HTTP/2
/// settings and `[limits]`.
struct Connections {
    http: auto::Builder<TokioExecutor>,
    limits: LimitsConfig,
}

impl Connections {
    fn new(limits: LimitsConfig) -> Connections {
        let mut http = auto::Builder::new(TokioExecutor::new());
        // hyper's header timeout also runs while a keep-alive connection is
        // idle, so it would cut keep-alive short; `connection_deadline.rs`
        // enforces both deadlines, for HTTP/1 and HTTP/2 alike.
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None);
        http.http2().timer(TokioTimer::new());
        Connections { http, limits }
    }
}

async fn serve_connection<IO>(
    conns: &Connections,
    io: IO,
    peer: SocketAddr,
    state: Arc<State>,
    guard: shutdown::DrainGuard,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Formatted once per connection, not per request.
    let client_ip = headers::forwarded_for(peer.ip());
    // From here (after any TLS handshake) the first request head is due.
    let deadline = Deadline::new(
        conns.limits.header_read_timeout,
        conns.limits.keepalive_idle_timeout,
    );
    let io = deadline.watch(io);
    let requests = deadline.clone();
    let svc = service_fn(move |req| {
        let state = Arc::clone(&state);
        let client_ip = client_ip.clone();
        let in_flight = requests.request_started();
        async move {
            let resp = service::handle(state, req, client_ip).await;
            Ok::<_, Infallible>(resp.map(|b| GuardedBody::new(b, in_flight)))
        }
    });
    let conn = conns
        .http
        .serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut shutting_down = guard.shutting_down.clone();
    let overstayed = tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = deadline.passed() => true,
        _ = shutting_down.wait_for(|s| *s) => false,
    };
    if overstayed {
        tracing::debug!(peer = %peer, "connection closed: header or idle timeout");
        // HTTP/1: nothing is in flight, so just close. HTTP/2: GOAWAY
        // first, briefly.
        if deadline.is_h2() {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
        return;
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
    drop(guard);
}

async fn poll_store(
    cache: Arc<SecretCache>,
    source: Arc<dyn SecretSource>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let c = Arc::clone(&cache);
        let s = Arc::clone(&source);
        match tokio::task::spawn_blocking(move || c.poll_blocking(s.as_ref())).await {
            Ok(Ok(_)) => {
                if failing {
                    tracing::info!("store reachable again");
                    failing = false;
                }
            }
            Ok(Err(e)) => {
                // Keep serving from the cache; say so once.
                if !failing {
                    tracing::error!(error = %e, "cannot read the store; serving from the cache");
                    failing = true;
                }
            }
            Err(e) => tracing::error!(error = %e, "store poll task failed"),
        }
    }
}

async fn flush_usage(
    cache: Arc<SecretCache>,
    source: Arc<dyn SecretSource>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut flusher = usage::UsageFlusher::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => flusher.flush(&cache, &source).await,
            _ = stop.changed() => {
                flusher.flush(&cache, &source).await;
                return;
            }
        }
    }
}
