//! The pieces of the proxy benchmark around `embedgate serve` (`cargo xtask
//! bench-proxy`, `crates/xtask/perf/measure-proxy.sh`): the fixed-answer
//! backend, a store with one embed secret, and lists of pre-signed URLs
//! (each used once, so replay checking stays on).
//!
//! They come from this build even when the proxy measured is another
//! `embedgate` binary (`--baseline`): [`setup_via_cli`] then creates that
//! binary's store through its own command line, so the store is in the
//! format it reads.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;
use bytes::Bytes;
use embedgate_core::{SignRequest, Signer};
use embedgate_store::{MasterKey, NewEmbedSecret, Store};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::clock::unix_now;

/// The backend's whole answer: a fixed small JSON document.
pub const BACKEND_JSON: &[u8] = br#"{"ok":true,"series":[12,19,7,23,15,9]}"#;

/// The name of the embed secret [`setup`] creates.
pub const SECRET_NAME: &str = "bench";

/// Serves [`BACKEND_JSON`] on every path (HTTP/1.1 keep-alive, one
/// thread) until the process is stopped.
pub fn serve_backend(listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!("bench backend: listening on {}", listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    let mut r = http::Response::new(Full::new(Bytes::from_static(BACKEND_JSON)));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// Creates a store (`DIR/store.db`, `DIR/master.key`) with one embed
/// secret, with this build's store; writes the value to `DIR/secret` (mode
/// 0600) and returns the client id.
pub fn setup(dir: &Path) -> anyhow::Result<String> {
    let key = MasterKey::generate_to_file(&dir.join("master.key"))?;
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let store = Store::open(&url, key)?;
    let created = store.create_embed_secret(
        &NewEmbedSecret {
            name: SECRET_NAME.to_owned(),
            ..NewEmbedSecret::default()
        },
        "bench",
        i64::try_from(unix_now()).unwrap_or(i64::MAX),
    )?;
    write_secret(dir, created.value.as_str())?;
    Ok(created.secret.client_id)
}

/// What [`setup`] does, through `embedgate secrets create --json` of the
/// binary `embedgate`: for a proxy of another build, whose store format
/// may differ from this one's.
pub fn setup_via_cli(embedgate: &Path, dir: &Path) -> anyhow::Result<String> {
    let out = Command::new(embedgate)
        .args(["secrets", "create", "--name", SECRET_NAME, "--store"])
        .arg(format!("sqlite://{}", dir.join("store.db").display()))
        .arg("--master-key-file")
        .arg(dir.join("master.key"))
        .args(["--create-key-file", "--actor", "bench", "--json"])
        .env_remove("EMBEDGATE_MASTER_KEY")
        .output()
        .with_context(|| format!("cannot run {}", embedgate.display()))?;
    // stdout holds the value: never shown, only stderr is.
    anyhow::ensure!(
        out.status.success(),
        "{} secrets create failed ({}): {}",
        embedgate.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} secrets create --json printed no JSON",
            embedgate.display()
        )
    })?;
    let client_id = created["secret"]["client_id"]
        .as_str()
        .context("no secret.client_id in the output of secrets create --json")?;
    let value = zeroize::Zeroizing::new(
        created["value"]
            .as_str()
            .context("no value in the output of secrets create --json")?
            .to_owned(),
    );
    write_secret(dir, &value)?;
    Ok(client_id.to_owned())
}

/// `DIR/secret`, mode 0600, created anew.
fn write_secret(dir: &Path, value: &str) -> anyhow::Result<()> {
    let path = dir.join("secret");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What [`presign`] signs.
#[derive(Debug)]
pub struct Presign<'a> {
    /// The client id (`eg_kid`).
    pub kid: &'a str,
    /// The file holding the secret value.
    pub secret_file: &'a Path,
    /// The absolute URL to sign, e.g. `https://bench.local/d/data.json`.
    pub url: &'a str,
    /// How many URLs.
    pub count: usize,
    /// Seconds until they expire.
    pub ttl: u64,
}

/// Writes `p.count` freshly signed URLs (origin-form, one per line) to `out`.
pub fn presign(p: &Presign<'_>, out: &Path) -> anyhow::Result<()> {
    let secret = zeroize::Zeroizing::new(
        std::fs::read(p.secret_file)
            .with_context(|| format!("cannot read {}", p.secret_file.display()))?,
    );
    let signer = Signer::new(p.kid, &secret)?;
    let url = p.url;
    let origin_end = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
        .context("--url must be absolute with a path")?;
    let exp = unix_now() + p.ttl;
    let mut rng = rand::rngs::OsRng;
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    for _ in 0..p.count {
        let nonce = embedgate_core::generate_nonce(&mut rng);
        let signed = signer.sign(&SignRequest {
            url,
            sub: "bench-user",
            exp,
            nonce: &nonce,
            session: None,
            attrs: &[("tenant", "bench")],
        })?;
        writeln!(w, "{}", &signed[origin_end..])?;
    }
    w.flush()?;
    Ok(())
}
