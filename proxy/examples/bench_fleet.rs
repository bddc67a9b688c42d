//! The fleet benchmark, run by `cargo xtask bench-fleet` (release build):
//! three real `embedgate serve` processes sharing one PostgreSQL store.
//!
//! 1. Seeds a fresh schema with `--secrets` embed secrets (100,000 by
//!    default) and measures each proxy's start-up (spawn to `/readyz` 200)
//!    and resident memory (`VmRSS`, `VmHWM` from `/proc`).
//! 2. Deletes `--deletions` secrets one by one (50 by default) and measures,
//!    for each, the time from just before the deleting call (so the commit
//!    is included) to the moment the last of the three proxies refuses a
//!    freshly signed URL with 403 `unknown_key`.
//!
//! Prints a Markdown report on stdout; progress on stderr. Environment:
//! `EMBEDGATE_BENCH_POSTGRES_URL` (server), `EMBEDGATE_BIN` (the release
//! `embedgate`).
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use embedgate_core::{SignRequest, Signer};
use embedgate_store::{Lookup, MasterKey, NewEmbedSecret, Store};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const HOST: &str = "bench.local";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn backend() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"{\"ok\":true}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// One GET over a fresh connection: (status, Embedgate-Reason).
async fn get(addr: SocketAddr, pq: &str) -> (u16, Option<String>) {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return (0, None);
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return (0, None);
    };
    tokio::spawn(conn);
    let req = hyper::Request::get(pq)
        .header("host", HOST)
        .body(Full::new(Bytes::new()))
        .unwrap();
    match sender.send_request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let reason = resp
                .headers()
                .get("embedgate-reason")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let _ = resp.into_body().collect().await;
            (status, reason)
        }
        Err(_) => (0, None),
    }
}

fn signed(kid: &str, secret: &str) -> String {
    let nonce = embedgate_core::generate_nonce(&mut rand::rngs::OsRng);
    let url = Signer::new(kid, secret.as_bytes())
        .unwrap()
        .sign(&SignRequest {
            url: &format!("https://{HOST}/d/x"),
            sub: "bench",
            exp: now() + 300,
            nonce: &nonce,
            session: None,
            attrs: &[],
        })
        .unwrap();
    url.strip_prefix(&format!("https://{HOST}"))
        .unwrap()
        .to_owned()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let n_secrets = arg("--secrets", 100_000);
    let n_deletions = arg("--deletions", 50);
    let base = std::env::var("EMBEDGATE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let bin = std::env::var("EMBEDGATE_BIN").unwrap_or_else(|_| "target/release/embedgate".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // ----- a fresh schema, seeded -----
    let schema = format!("eg_bench_{:016x}", rand::random::<u64>());
    let admin = postgres_admin(&base, &rt);
    rt.block_on(admin.batch_execute(&format!("CREATE SCHEMA {schema}")))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    let key = MasterKey::generate_to_file(&key_file).unwrap();
    // Seeding only: without waiting for each commit's fsync.
    let seed_url = format!("{url}%20-csynchronous_commit%3Doff");
    let seeded = Instant::now();
    let keep = std::thread::scope(|s| {
        let threads = 4;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (seed_url, key) = (seed_url.clone(), key.clone());
                s.spawn(move || {
                    let store = Store::open(&seed_url, key).unwrap();
                    let mut keep = Vec::new();
                    for i in (t..n_secrets).step_by(threads) {
                        let c = store
                            .create_embed_secret(
                                &NewEmbedSecret {
                                    name: format!("bench-{i:06}"),
                                    ..NewEmbedSecret::default()
                                },
                                "bench",
                                now() as i64,
                            )
                            .unwrap();
                        if keep.len() < n_deletions {
                            keep.push((c.secret.client_id.clone(), c.value.as_str().to_owned()));
                        }
                        if t == 0 && i % 10_000 == 0 {
                            eprintln!("seeded {i} / {n_secrets}");
                        }
                    }
                    keep
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .take(n_deletions)
            .collect::<Vec<_>>()
    });
    let seed_secs = seeded.elapsed().as_secs_f64();
    eprintln!("seeded {n_secrets} secrets in {seed_secs:.1} s");
    let store = Store::open(&url, key).unwrap();

    // ----- three proxies -----
    let backend = rt.block_on(backend());
    let mut procs = Vec::new();
    let mut publics = Vec::new();
    let mut startup = Vec::new();
    for i in 0..3 {
        let (public, admin_addr) = (free_port(), free_port());
        let cfg = dir.path().join(format!("proxy{i}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[listen]\npublic = \"{public}\"\nadmin = \"{admin_addr}\"\n\n[store]\nurl = \"{url}\"\nmaster_key_file = \"{}\"\n\n[verify]\npublic_host = \"{HOST}\"\n\n[[routes]]\nprefix = \"/d/\"\nupstream = \"http://{backend}\"\non_success = \"forward\"\n",
                key_file.display()
            ),
        )
        .unwrap();
        let started = Instant::now();
        let child = Command::new(&bin)
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        procs.push(Proc(child));
        let ready = rt.block_on(async {
            let limit = Instant::now() + Duration::from_secs(60);
            while Instant::now() < limit {
                if get(admin_addr, "/readyz").await.0 == 200 {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        });
        let ready = ready.expect("a proxy never became ready within 60 s");
        // Let the allocator settle after the load.
        std::thread::sleep(Duration::from_millis(300));
        let rss = proc_kib(pid, "VmRSS:");
        let hwm = proc_kib(pid, "VmHWM:");
        eprintln!(
            "proxy {i}: ready in {:.2} s, RSS {} MiB (peak {} MiB)",
            ready.as_secs_f64(),
            rss / 1024,
            hwm / 1024
        );
        startup.push((ready.as_secs_f64(), rss, hwm));
        publics.push(public);
    }

    // ----- propagation of deletions -----
    let mut delays = Vec::new();
    for (n, (kid, secret)) in keep.iter().enumerate() {
        for p in &publics {
            let (s, r) = rt.block_on(get(*p, &signed(kid, secret)));
            assert_eq!(s, 200, "secret {kid} not accepted before deletion: {r:?}");
        }
        let t0 = Instant::now();
        store
            .delete_embed_secret(&Lookup::client_id(kid), "bench", now() as i64)
            .unwrap();
        let delay = rt.block_on(async {
            let mut pending = publics.clone();
            let limit = t0 + Duration::from_secs(10);
            while !pending.is_empty() && Instant::now() < limit {
                let mut still = Vec::new();
                for p in pending {
                    if get(p, &signed(kid, secret)).await != (403, Some("unknown_key".into())) {
                        still.push(p);
                    }
                }
                pending = still;
            }
            assert!(pending.is_empty(), "deletion {n} not seen within 10 s");
            t0.elapsed()
        });
        delays.push(delay.as_secs_f64() * 1000.0);
    }
    delays.sort_by(f64::total_cmp);
    drop(procs);
    drop(store);
    let admin = postgres_admin(&base, &rt);
    let _ = rt.block_on(admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")));

    let p50 = percentile(&delays, 0.50);
    let p99 = percentile(&delays, 0.99);
    let max = delays.last().copied().unwrap_or(f64::NAN);
    let worst_ready = startup.iter().map(|s| s.0).fold(0.0, f64::max);
    let worst_rss = startup.iter().map(|s| s.1).max().unwrap_or(0) / 1024;
    let worst_hwm = startup.iter().map(|s| s.2).max().unwrap_or(0) / 1024;
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    println!("| measure | result | target | |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| propagation, commit → last of 3 proxies refusing ({} deletions) | p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms | p99 < 250 ms | {} |",
        delays.len(),
        verdict(p99 < 250.0)
    );
    println!(
        "| start-up with {n_secrets} secrets (spawn → `/readyz` 200), worst of 3 | {worst_ready:.2} s | < 3 s | {} |",
        verdict(worst_ready < 3.0)
    );
    println!(
        "| resident memory after start-up (VmRSS), worst of 3 | {worst_rss} MiB (peak VmHWM {worst_hwm} MiB) | < 200 MB | {} |",
        verdict((worst_rss * 1024 * 1024) < 200_000_000)
    );
    println!(
        "\nSeeding {n_secrets} secrets through the store API took {seed_secs:.0} s (not a target)."
    );
}

fn postgres_admin(base: &str, rt: &tokio::runtime::Runtime) -> tokio_postgres::Client {
    let (c, conn) = rt
        .block_on(tokio_postgres::connect(base, tokio_postgres::NoTls))
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base}: {e}"));
    rt.spawn(conn);
    c
}
