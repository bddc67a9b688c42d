//! The live demo behind `cargo xtask demo` (`embedgate-dev demo`): three
//! servers on loopback.
//!
//! - a content backend (`content_backend.rs`): a dashboard page with a
//!   chart, assets and an API call, showing the identity headers it got;
//! - the proxy in front of it, on a SQLite store in a directory the caller
//!   owns, with plain-http dev cookies;
//! - a host app (`host_app.rs`) whose page embeds the dashboard in an
//!   iframe through a URL it signs afresh on every load.
//!
//! [`DemoStack::start`] starts all three in the current tokio runtime.

pub mod content_backend;
pub mod host_app;
pub mod instructions;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use embedgate_core::Signer;
use embedgate_store::{MasterKey, NewEmbedSecret, Store};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::unix_now;
use content_backend::{SeenLog, SeenRequest, API_PREFIX, ASSETS_PREFIX, DASHBOARD_PREFIX};
use embedgate::serve::{Config, ReloadHandle, Server};
use host_app::HostApp;

/// The name of the embed secret the demo creates.
pub const SECRET_NAME: &str = "demo-host-app";

/// The three demo servers, running.
#[derive(Debug)]
pub struct DemoStack {
    /// The host app's page, `http://localhost:PORT/`: open it in a browser.
    pub host_page: String,
    /// The host app's listener.
    pub host_app: SocketAddr,
    /// The proxy's public listener.
    pub proxy: SocketAddr,
    /// The proxy's admin listener.
    pub admin: Option<SocketAddr>,
    /// The content backend (reachable directly only from this machine).
    pub backend: SocketAddr,
    /// The store, `sqlite://…`.
    pub store_url: String,
    /// The master key file of the store.
    pub master_key_file: PathBuf,
    /// The client id of the demo's embed secret (not its value).
    pub client_id: String,
    /// Reloads the proxy's secret cache at once.
    pub reload: ReloadHandle,
    seen: SeenLog,
    host: Arc<HostApp>,
    stop: watch::Sender<bool>,
    proxy_task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl DemoStack {
    /// Creates a store (master key file and SQLite database) in `dir`, an
    /// embed secret in it, and starts the backend, the proxy and the host
    /// app on ephemeral loopback ports.
    pub async fn start(dir: &Path) -> anyhow::Result<DemoStack> {
        let master_key_file = dir.join("master.key");
        let key = MasterKey::generate_to_file(&master_key_file)
            .context("cannot create the demo master key")?;
        let store_url = format!("sqlite://{}", dir.join("store.db").display());
        let store = Store::open(&store_url, key).context("cannot open the demo store")?;
        let created = store
            .create_embed_secret(
                &NewEmbedSecret {
                    name: SECRET_NAME.to_owned(),
                    description: "created by cargo xtask demo".to_owned(),
                    environment: "demo".to_owned(),
                    ..NewEmbedSecret::default()
                },
                "demo",
                i64::try_from(unix_now()).unwrap_or(i64::MAX),
            )
            .context("cannot create the demo embed secret")?;
        let client_id = created.secret.client_id.clone();
        let signer = Signer::new(&client_id, created.value.as_str().as_bytes())
            .context("cannot key the demo signer")?;
        drop(created);
        drop(store);

        let (stop, stop_rx) = watch::channel(false);

        let seen: SeenLog = Arc::default();
        let backend_listener = TcpListener::bind("127.0.0.1:0").await?;
        let backend = backend_listener.local_addr()?;
        {
            let seen = Arc::clone(&seen);
            tokio::spawn(serve_http1(
                backend_listener,
                move |req| content_backend::handle(&req, &seen),
                stop_rx.clone(),
            ));
        }

        let toml = format!(
            r#"
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[store]
url = "{store_url}"
master_key_file = "{key_file}"

[shutdown]
drain_timeout = "2s"

[session]
# Plain http on localhost: no Secure/__Host- cookies (development only).
insecure_dev_cookies = true

[[routes]]
name = "dashboards"
prefix = "{DASHBOARD_PREFIX}"
upstream = "http://{backend}"
session_paths = ["{ASSETS_PREFIX}", "{API_PREFIX}"]
# The demo shows the verified request reaching the backend (and its printed
# curl example answers 200 the first time): forward rather than redirect.
on_success = "forward"
"#,
            key_file = master_key_file.display(),
        );
        let config = Config::from_toml(&toml, &Default::default())
            .context("the demo proxy configuration")?;
        let server = Server::bind(config)
            .await?
            .with_admin_api(embedgate::admin_api::router);
        let proxy = server.public_addr();
        let admin = server.admin_addr();
        let reload = server.reload_handle();
        let proxy_task = {
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(server.run(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            }))
        };

        let host = Arc::new(HostApp::new(signer, proxy, admin));
        let host_listener = TcpListener::bind("127.0.0.1:0").await?;
        let host_app = host_listener.local_addr()?;
        {
            let host = Arc::clone(&host);
            tokio::spawn(serve_http1(
                host_listener,
                move |req| host.handle(&req),
                stop_rx,
            ));
        }

        Ok(DemoStack {
            host_page: format!("http://localhost:{}/", host_app.port()),
            host_app,
            proxy,
            admin,
            backend,
            store_url,
            master_key_file,
            client_id,
            reload,
            seen,
            host,
            stop,
            proxy_task,
        })
    }

    /// A freshly signed dashboard URL, as the host page would embed it
    /// (valid [`host_app::URL_TTL_SECS`]).
    pub fn signed_url(&self, user: &str, tenant: &str) -> anyhow::Result<String> {
        self.host
            .signed_url(user, tenant, unix_now(), host_app::URL_TTL_SECS)
    }

    /// A freshly signed dashboard URL for the terminal, to try with curl
    /// (valid [`host_app::EXAMPLE_URL_TTL_SECS`]).
    pub fn example_url(&self, user: &str, tenant: &str) -> anyhow::Result<String> {
        self.host
            .signed_url(user, tenant, unix_now(), host_app::EXAMPLE_URL_TTL_SECS)
    }

    /// What the content backend has seen so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stops the three servers (the proxy drains first).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.proxy_task.await.context("the demo proxy task")?
    }
}

/// Serves HTTP/1.1 on `listener` with a synchronous handler until `stop`.
fn serve_http1<F>(
    listener: TcpListener,
    handler: F,
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send
where
    F: Fn(Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    async move {
        loop {
            let stream = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                a = listener.accept() => match a {
                    Ok((s, _)) => s,
                    Err(_) => continue,
                },
            };
            let _ = stream.set_nodelay(true);
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let r = handler(req);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }
}
