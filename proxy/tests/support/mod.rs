//! Shared pieces of the proxy's end-to-end tests: a real backend (a hyper
//! server task on loopback), a real SQLite store, the proxy in-process, and
//! a small HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use embedgate::serve::{Config, ReloadHandle, Server};
use embedgate_core::{SignRequest, Signer};
use embedgate_store::{MasterKey, NewEmbedSecret, PutCredential, Store};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

pub const HOST: &str = "embed.test";
pub const FIVE_MB: usize = 5 * 1024 * 1024;
pub const CHUNK: usize = 64 * 1024;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn full(b: impl Into<Bytes>) -> TestBody {
    Full::new(b.into()).map_err(|n| match n {}).boxed()
}

// ---------------------------------------------------------------- backend

/// What the backend saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path_and_query: String,
    pub headers: HeaderMap,
}

/// A content backend on loopback.
#[derive(Clone)]
pub struct Backend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Released by the test: lets `/…/download` and `/…/slow` go on.
    pub release: Arc<Notify>,
    /// Notified when a `/…/slow` request arrived.
    pub slow_started: Arc<Notify>,
}

impl Backend {
    pub async fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = Backend {
            addr: listener.local_addr().unwrap(),
            seen: Arc::default(),
            release: Arc::new(Notify::new()),
            slow_started: Arc::new(Notify::new()),
        };
        let backend = b.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let backend = backend.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let backend = backend.clone();
                        async move { Ok::<_, Infallible>(backend.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        b
    }

    pub fn last_seen(&self) -> Option<Seen> {
        self.seen.lock().unwrap().last().cloned()
    }

    pub fn seen_count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn handle(&self, mut req: Request<Incoming>) -> Response<TestBody> {
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Seen {
            path_and_query: pq.clone(),
            headers: req.headers().clone(),
        });
        let path = req.uri().path().to_owned();
        if path.ends_with("/ws") {
            return websocket_echo(&mut req);
        }
        if path.ends_with("/upload") {
            // Answer at once, then count the upload as it arrives.
            let (tx, rx) =
                mpsc::channel::<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>>(4);
            tokio::spawn(async move {
                let mut body = req.into_body();
                let mut total = 0usize;
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b"receiving\n"))))
                    .await;
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(f) => {
                            if let Some(d) = f.data_ref() {
                                total += d.len();
                            }
                        }
                        Err(_) => return,
                    }
                }
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from(format!("total={total}\n")))))
                    .await;
            });
            let stream = tokio_stream_from(rx);
            return Response::new(BodyExt::boxed(StreamBody::new(stream)));
        }
        if path.ends_with("/download") {
            let release = Arc::clone(&self.release);
            let (tx, rx) =
                mpsc::channel::<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>>(2);
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; CHUNK]);
                let _ = tx.send(Ok(Frame::data(chunk.clone()))).await;
                // The rest only once the test saw the first chunk arrive.
                release.notified().await;
                for _ in 1..(FIVE_MB / CHUNK) {
                    if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                        return;
                    }
                }
            });
            return Response::new(BodyExt::boxed(StreamBody::new(tokio_stream_from(rx))));
        }
        if path.ends_with("/slow") {
            self.slow_started.notify_one();
            self.release.notified().await;
            return Response::new(full("slow done"));
        }
        let mut headers = BTreeMap::<String, Vec<String>>::new();
        for (k, v) in req.headers() {
            headers
                .entry(k.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
        }
        let body = serde_json::json!({ "path": pq, "headers": headers });
        let mut resp = Response::new(full(body.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        resp
    }
}

/// An mpsc receiver as a `Stream` (without pulling in tokio-stream).
fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + Sync + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn websocket_echo(req: &mut Request<Incoming>) -> Response<TestBody> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let Some(key) = req.headers().get("sec-websocket-key") else {
        let mut r = Response::new(full("not a websocket request"));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        use futures_util::{SinkExt, StreamExt};
        let upgraded = on_upgrade.await.unwrap();
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                if ws.send(msg).await.is_err() {
                    return;
                }
            } else if msg.is_close() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(full(""))
        .unwrap()
}

// ---------------------------------------------------------------- store

/// A real SQLite store in a temporary directory.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub key_file: PathBuf,
    pub store: Store,
}

impl TestStore {
    pub fn new() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.key");
        let key = MasterKey::generate_to_file(&key_file).unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, key).unwrap();
        TestStore {
            dir,
            url,
            key_file,
            store,
        }
    }

    /// Creates an embed secret; returns `(client id, value)`.
    pub fn create_secret(&self, name: &str, scopes: &[&str]) -> (String, String) {
        let created = self
            .store
            .create_embed_secret(
                &NewEmbedSecret {
                    name: name.to_owned(),
                    scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                    ..NewEmbedSecret::default()
                },
                "test",
                now() as i64,
            )
            .unwrap();
        (
            created.secret.client_id.clone(),
            created.value.as_str().to_owned(),
        )
    }

    pub fn put_credential(&self, name: &str, value: &str) {
        self.store
            .put_credential(
                &PutCredential {
                    name: name.to_owned(),
                    ..PutCredential::default()
                },
                value,
                "test",
                now() as i64,
            )
            .unwrap();
    }

    /// The base64 master key, for CLI processes.
    pub fn master_key_b64(&self) -> String {
        MasterKey::from_file(&self.key_file)
            .unwrap()
            .to_base64()
            .as_str()
            .to_owned()
    }
}

// ---------------------------------------------------------------- proxy

/// A config for the proxy in front of `backend`, on ephemeral ports.
pub fn config_toml(store: &TestStore, backend: &Backend, extra: &str) -> String {
    config_toml_for(store, backend.addr, extra)
}

/// A config for the proxy in front of the backend at `upstream`, on
/// ephemeral ports. `extra` goes into the one route (`/d/`, with
/// `/public/` as a session path), or starts tables of its own. The route
/// forwards a verified signed URL (`on_success = "forward"`, which most
/// tests look through to the backend) unless `extra` sets `on_success`
/// for it; routes that `extra` adds set their own.
pub fn config_toml_for(store: &TestStore, upstream: SocketAddr, extra: &str) -> String {
    // Only the route's own keys count (not those of tables after it).
    let route_keys = extra.split("\n[").next().unwrap_or_default();
    let on_success = if route_keys.contains("on_success") {
        ""
    } else {
        "on_success = \"forward\""
    };
    format!(
        r#"
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[store]
url = "{url}"
master_key_file = "{key}"
poll_interval = "100ms"

[verify]
public_host = "{HOST}"

[upstream]
response_timeout = "10s"

[[routes]]
prefix = "/d/"
upstream = "http://{upstream}"
session_paths = ["/public/"]
{on_success}
{extra}
"#,
        url = store.url,
        key = store.key_file.display(),
    )
}

/// A running proxy.
pub struct Proxy {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub reload: ReloadHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Proxy {
    pub async fn start(toml: &str) -> Proxy {
        let config = Config::from_toml(toml, &Default::default()).unwrap();
        let server = Server::bind(config)
            .await
            .unwrap()
            .with_admin_api(embedgate::admin_api::router);
        let public = server.public_addr();
        let admin = server.admin_addr().unwrap();
        let reload = server.reload_handle();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Proxy {
            public,
            admin,
            reload,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

// ---------------------------------------------------------------- client

/// Signs `path_and_query` for [`HOST`].
pub fn sign(
    kid: &str,
    secret: &str,
    path_and_query: &str,
    sub: &str,
    attrs: &[(&str, &str)],
) -> String {
    sign_with(
        kid,
        secret,
        path_and_query,
        sub,
        attrs,
        now() + 300,
        &nonce(),
    )
}

pub fn nonce() -> String {
    embedgate_core::generate_nonce(&mut rand::rngs::OsRng)
}

pub fn sign_with(
    kid: &str,
    secret: &str,
    path_and_query: &str,
    sub: &str,
    attrs: &[(&str, &str)],
    exp: u64,
    nonce: &str,
) -> String {
    sign_session(kid, secret, path_and_query, sub, attrs, exp, nonce, None)
}

#[allow(clippy::too_many_arguments)]
pub fn sign_session(
    kid: &str,
    secret: &str,
    path_and_query: &str,
    sub: &str,
    attrs: &[(&str, &str)],
    exp: u64,
    nonce: &str,
    session: Option<u64>,
) -> String {
    let signer = Signer::new(kid, secret.as_bytes()).unwrap();
    let url = signer
        .sign(&SignRequest {
            url: &format!("https://{HOST}{path_and_query}"),
            sub,
            exp,
            nonce,
            session,
            attrs,
        })
        .unwrap();
    // Origin-form: what the browser puts on the request line.
    url.strip_prefix(&format!("https://{HOST}"))
        .unwrap()
        .to_owned()
}

/// A response, body read in full.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The header the backend saw, from the echo body.
    pub fn backend_header(&self, name: &str) -> Option<Vec<String>> {
        let v = self.json();
        v["headers"][name].as_array().map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect()
        })
    }
    pub fn reason(&self) -> Option<String> {
        self.headers
            .get("embedgate-reason")
            .map(|v| v.to_str().unwrap().to_owned())
    }
    /// `name=value` of the first Set-Cookie.
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
    }
}

/// Sends one request over a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, req: Request<TestBody>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender.send_request(req).await.unwrap()
}

pub async fn get(addr: SocketAddr, path_and_query: &str, headers: &[(&str, &str)]) -> Got {
    let mut b = Request::get(path_and_query).header("host", HOST);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = send(addr, b.body(full("")).unwrap()).await;
    read(resp).await
}

pub async fn read(resp: Response<Incoming>) -> Got {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Got {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Polls `f` until it returns true or `limit` passes; returns the time taken.
pub async fn within<F, Fut>(limit: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

pub fn executor() -> TokioExecutor {
    TokioExecutor::new()
}

// ---------------------------------------------------------------- faults

/// A TCP relay on a local port to `target` (a real Redis or PostgreSQL):
/// `cut` closes it and every connection through it (a server that went
/// away: new connections are refused), `restore` listens again on the
/// same port.
pub struct Relay {
    pub addr: SocketAddr,
    target: String,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    pub async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            target,
            tasks: Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = Arc::clone(&self.tasks);
        let target = self.target.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    pub async fn restore(&self) {
        // The port was ours a moment ago; the listener is gone.
        let listener = within(Duration::from_secs(5), || async {
            TcpListener::bind(self.addr).await.is_ok()
        })
        .await;
        assert!(listener.is_some(), "cannot listen on {} again", self.addr);
        self.serve(TcpListener::bind(self.addr).await.unwrap());
    }
}
