//! `embedgate bench-helper` (hidden; run by `cargo xtask bench-proxy`): the
//! pieces of the proxy benchmark that need a release build of this crate:
//! the fixed-answer backend, the store with one secret, and lists of
//! pre-signed URLs (each used once, so replay checking stays on).

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Args, Subcommand};
use embedgate_core::{SignRequest, Signer};
use embedgate_store::{MasterKey, NewEmbedSecret, Store};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::clock::unix_now;

/// The backend's whole answer: a fixed small JSON document.
const BACKEND_JSON: &[u8] = br#"{"ok":true,"series":[12,19,7,23,15,9]}"#;

/// Arguments of `embedgate bench-helper`.
#[derive(Debug, Args)]
pub struct BenchHelperArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Serve a fixed small JSON answer on every path (HTTP/1.1 keep-alive,
    /// one thread).
    Backend {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Create a store with one embed secret in DIR; print its client id.
    /// The value goes to DIR/secret (mode 0600), for `presign`.
    Setup {
        /// An empty directory of the benchmark.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Write COUNT freshly signed URLs (origin-form, one per line).
    Presign {
        /// The client id.
        #[arg(long)]
        kid: String,
        /// File holding the secret value.
        #[arg(long)]
        secret_file: PathBuf,
        /// The absolute URL to sign, e.g. https://bench.local/d/data.json.
        #[arg(long)]
        url: String,
        /// How many URLs.
        #[arg(long)]
        count: usize,
        /// Where to write them.
        #[arg(long)]
        out: PathBuf,
        /// Seconds until the URLs expire.
        #[arg(long, default_value_t = 600)]
        ttl: u64,
    },
}

pub fn run(args: BenchHelperArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Backend { listen } => backend(listen)?,
        BenchCommand::Setup { dir } => setup(&dir)?,
        BenchCommand::Presign {
            kid,
            secret_file,
            url,
            count,
            out,
            ttl,
        } => presign(&kid, &secret_file, &url, count, &out, ttl)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn backend(listen: SocketAddr) -> anyhow::Result<()> {
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

fn setup(dir: &std::path::Path) -> anyhow::Result<()> {
    let key = MasterKey::generate_to_file(&dir.join("master.key"))?;
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let store = Store::open(&url, key)?;
    let created = store.create_embed_secret(
        &NewEmbedSecret {
            name: "bench".to_owned(),
            ..NewEmbedSecret::default()
        },
        "bench",
        i64::try_from(unix_now()).unwrap_or(i64::MAX),
    )?;
    let path = dir.join("secret");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&path)
        .and_then(|mut f| f.write_all(created.value.as_str().as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", created.secret.client_id);
    Ok(())
}

fn presign(
    kid: &str,
    secret_file: &std::path::Path,
    url: &str,
    count: usize,
    out: &std::path::Path,
    ttl: u64,
) -> anyhow::Result<()> {
    let secret = zeroize::Zeroizing::new(
        std::fs::read(secret_file)
            .with_context(|| format!("cannot read {}", secret_file.display()))?,
    );
    let signer = Signer::new(kid, &secret)?;
    let origin_end = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
        .context("--url must be absolute with a path")?;
    let exp = unix_now() + ttl;
    let mut rng = rand::rngs::OsRng;
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    for _ in 0..count {
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
