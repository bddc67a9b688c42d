//! Fleet mode, end to end: three real `embedgate serve` processes sharing
//! one PostgreSQL store (a fresh schema per test) and one Redis, on
//! loopback. Needs `EMBEDGATE_TEST_POSTGRES_URL` (set by `cargo xtask
//! test`) and Redis at `EMBEDGATE_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); without them the tests fail, they do not
//! skip.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use embedgate_store::{Lookup, MasterKey, NewAdminToken, NewEmbedSecret, Role, Store};
use http::StatusCode;
use support::{get, now, sign, Backend};

const POSTGRES_ENV: &str = "EMBEDGATE_TEST_POSTGRES_URL";
const REDIS_ENV: &str = "EMBEDGATE_TEST_REDIS_URL";

fn postgres_base() -> String {
    std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        panic!("{POSTGRES_ENV} is not set: the fleet tests need PostgreSQL (run `cargo xtask test`, which sets it to postgres://postgres@127.0.0.1:5432/test)")
    })
}

fn redis_url() -> String {
    std::env::var(REDIS_ENV).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// A fresh schema with a store in it; dropped at the end.
struct Fleet {
    base: String,
    schema: String,
    url: String,
    dir: tempfile::TempDir,
    key_file: PathBuf,
    store: Option<Store>,
    procs: Vec<Proc>,
}

struct Proc {
    child: Child,
    public: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs blocking store code off the async runtime (the sync `postgres`
/// client runs its own).
fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

impl Fleet {
    async fn new() -> Fleet {
        let base = postgres_base();
        let schema = format!("eg_fleet_{:016x}", rand::random::<u64>());
        pg(&base)
            .await
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        // The proxies' connections carry the schema in their name, so a
        // test kills only its own (tests run side by side).
        let url = format!(
            "{base}{sep}options=-csearch_path%3D{schema}&application_name=embedgate-{schema}"
        );
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.key");
        let key = MasterKey::generate_to_file(&key_file).unwrap();
        let store = blocking(|| Store::open(&url, key).unwrap());
        Fleet {
            base,
            schema,
            url,
            dir,
            key_file,
            store: Some(store),
            procs: Vec::new(),
        }
    }

    fn create_secret(&self, name: &str) -> (String, String) {
        let store = self.store();
        let c = blocking(|| {
            store
                .create_embed_secret(
                    &NewEmbedSecret {
                        name: name.to_owned(),
                        ..NewEmbedSecret::default()
                    },
                    "test",
                    now() as i64,
                )
                .unwrap()
        });
        (c.secret.client_id.clone(), c.value.as_str().to_owned())
    }

    /// Starts `n` proxies in front of `backend`, waits until all are ready.
    async fn start(&mut self, n: usize, backend: &Backend, replay: &str) {
        for i in 0..n {
            let public = free_port();
            let admin = free_port();
            let toml = format!(
                r#"
[listen]
public = "{public}"
admin = "{admin}"

[store]
url = "{url}"
master_key_file = "{key}"
resync_interval = "2s"

[verify]
public_host = "{host}"

{replay}

[[routes]]
prefix = "/d/"
upstream = "http://{backend}"
on_success = "forward"
"#,
                url = self.url,
                key = self.key_file.display(),
                host = support::HOST,
                backend = backend.addr,
            );
            let cfg = self.dir.path().join(format!("proxy{i}.toml"));
            std::fs::write(&cfg, toml).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_embedgate"))
                .arg("serve")
                .arg("--config")
                .arg(&cfg)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            self.procs.push(Proc {
                child,
                public,
                admin,
            });
        }
        for p in &self.procs {
            let ready = support::within(Duration::from_secs(20), || async {
                match tokio::net::TcpStream::connect(p.admin).await {
                    Ok(_) => get(p.admin, "/readyz", &[]).await.status == StatusCode::OK,
                    Err(_) => false,
                }
            })
            .await;
            assert!(ready.is_some(), "proxy on {} never became ready", p.public);
        }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn delete(&self, kid: &str) {
        let store = self.store();
        blocking(|| {
            store
                .delete_embed_secret(&Lookup::client_id(kid), "test", now() as i64)
                .unwrap()
        });
    }

    /// An admin API token (role admin), for the proxies' `/api/v1`.
    fn admin_token(&self) -> String {
        let store = self.store();
        blocking(|| {
            store
                .create_admin_token(
                    &NewAdminToken {
                        name: "fleet-test".into(),
                        role: Role::Admin,
                    },
                    "test",
                    now() as i64,
                )
                .unwrap()
                .value
                .as_str()
                .to_owned()
        })
    }

    fn publics(&self) -> Vec<SocketAddr> {
        self.procs.iter().map(|p| p.public).collect()
    }

    /// Kills every PostgreSQL connection of this fleet's proxies and store.
    async fn kill_connections(&self) -> u64 {
        let admin = pg(&self.base).await;
        let rows = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name LIKE $1 AND pid <> pg_backend_pid() \
                 AND datname = current_database()",
                &[&format!("embedgate-{}%", self.schema)],
            )
            .await
            .unwrap();
        rows.len() as u64
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.procs.clear();
        let store = self.store.take();
        let base = self.base.clone();
        let schema = self.schema.clone();
        // A plain thread: Drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            drop(store);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

async fn status_of(addr: SocketAddr, kid: &str, secret: &str) -> (StatusCode, Option<String>) {
    let url = sign(kid, secret, "/d/x", "viewer", &[]);
    let got = get(addr, &url, &[]).await;
    (got.status, got.reason())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_secret_is_refused_by_every_proxy() {
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid, secret) = f.create_secret("fleet-delete");
    let token = f.admin_token();
    f.start(3, &backend, "").await;
    for p in f.publics() {
        assert_eq!(status_of(p, &kid, &secret).await.0, StatusCode::OK);
    }
    // Deleted through the admin API of the first proxy.
    let req = http::Request::delete(format!("/api/v1/secrets/{kid}"))
        .header("host", "admin.local")
        .header("authorization", format!("Bearer {token}"))
        .body(support::full(""))
        .unwrap();
    let deleted_at = Instant::now();
    let answer = support::read(support::send(f.procs[0].admin, req).await).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let mut last = Duration::ZERO;
    for p in f.publics() {
        let took = support::within(Duration::from_secs(5), || async {
            status_of(p, &kid, &secret).await == (StatusCode::FORBIDDEN, Some("unknown_key".into()))
        })
        .await
        .unwrap_or_else(|| panic!("proxy {p} still accepts a deleted secret after 5 s"));
        last = last.max(took);
    }
    let total = deleted_at.elapsed();
    println!(
        "deletion propagated to the last of 3 proxies in {:.1} ms (commit to last 403, upper bound)",
        total.as_secs_f64() * 1000.0
    );
    assert!(total < Duration::from_secs(2), "propagation took {total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_used_on_one_proxy_is_replayed_on_another() {
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid, secret) = f.create_secret("fleet-replay");
    let prefix = format!("eg_test:{:016x}:", rand::random::<u64>());
    let replay = format!(
        "[replay]\nbackend = \"redis\"\nurl = \"{}\"\nkey_prefix = \"{prefix}\"",
        redis_url()
    );
    f.start(2, &backend, &replay).await;
    let [a, b] = [f.procs[0].public, f.procs[1].public];
    let url = sign(&kid, &secret, "/d/once", "viewer", &[]);
    let first = get(a, &url, &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.reason());
    let again = get(b, &url, &[]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.reason().as_deref(), Some("replayed"));
    // And on A itself.
    assert_eq!(
        get(a, &url, &[]).await.reason().as_deref(),
        Some("replayed")
    );
    // A fresh URL still works on B: the key is per nonce.
    let fresh = sign(&kid, &secret, "/d/once", "viewer", &[]);
    assert_eq!(get(b, &fresh, &[]).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_postgres_connections_fail_no_request_and_changes_resume() {
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid, secret) = f.create_secret("fleet-steady");
    f.start(3, &backend, "").await;
    let publics = f.publics();
    // Traffic on all three while the connections are killed, repeatedly.
    let traffic = {
        let (kid, secret, publics) = (kid.clone(), secret.clone(), publics.clone());
        tokio::spawn(async move {
            let mut sent = 0u32;
            let mut failed = Vec::new();
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                for p in &publics {
                    let (s, r) = status_of(*p, &kid, &secret).await;
                    sent += 1;
                    if s != StatusCode::OK {
                        failed.push((s, r));
                    }
                }
            }
            (sent, failed)
        })
    };
    let mut killed = 0;
    for _ in 0..5 {
        killed += f.kill_connections().await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (sent, failed) = traffic.await.unwrap();
    assert!(
        killed >= 3,
        "expected to kill the proxies' connections, killed {killed}"
    );
    assert!(sent > 30, "too little traffic to mean anything: {sent}");
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {failed:?}",
        failed.len()
    );
    // After recovery a change reaches every proxy: a new secret works
    // everywhere, and deleting the old one is seen everywhere.
    let (kid2, secret2) = f.create_secret("fleet-after");
    f.delete(&kid);
    for p in &publics {
        let ok = support::within(Duration::from_secs(15), || async {
            status_of(*p, &kid2, &secret2).await.0 == StatusCode::OK
                && status_of(*p, &kid, &secret).await.0 == StatusCode::FORBIDDEN
        })
        .await;
        assert!(
            ok.is_some(),
            "proxy {p} did not catch up after the connections came back"
        );
    }
    // And the feed is healthy again.
    for proc in &f.procs {
        let body = get(proc.admin, "/readyz", &[]).await.body;
        assert!(!String::from_utf8_lossy(&body).contains("degraded"));
        let metrics =
            String::from_utf8_lossy(&get(proc.admin, "/metrics", &[]).await.body).into_owned();
        assert!(metrics.contains("embedgate_store_connected 1"), "{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_follows_on_unavailable() {
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid, secret) = f.create_secret("fleet-no-redis");
    // Nothing listens there.
    let dead = free_port();
    let replay = |policy: &str| {
        format!(
            "[replay]\nbackend = \"redis\"\nurl = \"redis://{dead}\"\non_unavailable = \"{policy}\"\ntimeout = \"100ms\""
        )
    };
    f.start(1, &backend, &replay("reject")).await;
    f.start(1, &backend, &replay("allow")).await;
    let url = sign(&kid, &secret, "/d/x", "viewer", &[]);
    let rejected = get(f.procs[0].public, &url, &[]).await;
    assert_eq!(rejected.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(rejected.reason().as_deref(), Some("replay_unavailable"));
    let allowed = get(f.procs[1].public, &url, &[]).await;
    assert_eq!(allowed.status, StatusCode::OK, "{:?}", allowed.reason());
}

/// Runs the real CLI against the fleet's store; asserts it succeeded.
fn cli(f: &Fleet, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(args)
        .arg("--master-key-file")
        .arg(&f.key_file)
        .env_remove("EMBEDGATE_MASTER_KEY")
        .env("EMBEDGATE_STORE", &f.url)
        .env("USER", "tester")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "embedgate {args:?} failed: {text}");
    text
}

async fn row_id(f: &Fleet, client_id: &str) -> String {
    pg(&f.url)
        .await
        .query_one("SELECT id FROM secrets WHERE client_id = $1", &[&client_id])
        .await
        .unwrap()
        .get(0)
}

/// Waits until every proxy answers `want` for the secret; returns the time
/// from `since` to the last one.
async fn everywhere(
    f: &Fleet,
    kid: &str,
    secret: &str,
    want: (StatusCode, Option<&str>),
    since: Instant,
) -> Duration {
    for p in f.publics() {
        support::within(Duration::from_secs(10), || async {
            let (s, r) = status_of(p, kid, secret).await;
            (s, r.as_deref()) == want
        })
        .await
        .unwrap_or_else(|| panic!("proxy {p} never answered {want:?} for {kid}"));
    }
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_row_is_refused_alone_and_never_freezes_the_fleet() {
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid_a, secret_a) = f.create_secret("fleet-a");
    let (kid_b, secret_b) = f.create_secret("fleet-b");
    let (kid_c, secret_c) = f.create_secret("fleet-c");
    f.start(2, &backend, "").await;
    let (id_a, id_b) = (row_id(&f, &kid_a).await, row_id(&f, &kid_b).await);
    // While the proxies run: b's row gets a's ciphertext.
    let n = pg(&f.url)
        .await
        .execute(
            "UPDATE secrets SET (nonce, ciphertext) = \
             (SELECT nonce, ciphertext FROM secrets WHERE id = $1) WHERE id = $2",
            &[&id_a, &id_b],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Then a third secret is deleted with the CLI: refused within 1 s.
    cli(&f, &["secrets", "delete", "fleet-c", "--yes"]);
    let took = everywhere(
        &f,
        &kid_c,
        &secret_c,
        (StatusCode::FORBIDDEN, Some("unknown_key")),
        Instant::now(),
    )
    .await;
    println!(
        "deletion after the damage refused by both proxies in {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // When the damaged row is read (it changes), it is refused alone.
    cli(
        &f,
        &["secrets", "describe", "fleet-b", "--description", "touched"],
    );
    let took = everywhere(
        &f,
        &kid_b,
        &secret_b,
        (StatusCode::FORBIDDEN, Some("key_inactive")),
        Instant::now(),
    )
    .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    for p in &f.procs {
        assert_eq!(
            status_of(p.public, &kid_a, &secret_a).await.0,
            StatusCode::OK
        );
        let ready = get(p.admin, "/readyz", &[]).await;
        assert_eq!(ready.status, StatusCode::OK);
        let body = ready.json();
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["unreadable_rows"][0]["id"], id_b.as_str(), "{body}");
    }
    // A restarted proxy starts and serves the healthy secrets.
    f.procs.remove(0);
    f.start(1, &backend, "").await;
    let fresh = f.procs.last().unwrap();
    assert_eq!(
        status_of(fresh.public, &kid_a, &secret_a).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_of(fresh.public, &kid_b, &secret_b).await,
        (StatusCode::FORBIDDEN, Some("key_inactive".into()))
    );
    let body = get(fresh.admin, "/readyz", &[]).await.json();
    assert_eq!(body["unreadable_rows"][0]["id"], id_b.as_str(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_notification_is_lost_applies_within_one_resync_interval() {
    const RESYNC: Duration = Duration::from_secs(2); // `Fleet::start`'s resync_interval
    let backend = Backend::start().await;
    let mut f = Fleet::new().await;
    let (kid, secret) = f.create_secret("fleet-silent");
    f.start(2, &backend, "").await;
    let id = row_id(&f, &kid).await;
    // A deletion committed without NOTIFY, as if the notification were lost.
    let mut client = pg(&f.url).await;
    let tx = client.transaction().await.unwrap();
    let revision: i64 = tx
        .query_one(
            "UPDATE store_meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tx.execute("DELETE FROM secrets WHERE id = $1", &[&id])
        .await
        .unwrap();
    tx.execute(
        "INSERT INTO change_log (at, actor, action, kind, subject_id, subject_name, changes, revision) \
         VALUES ($1, 'test', 'delete', 'embed_secret', $2, 'fleet-silent', '[]', $3)",
        &[&(now() as i64), &id, &revision],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let took = everywhere(
        &f,
        &kid,
        &secret,
        (StatusCode::FORBIDDEN, Some("unknown_key")),
        Instant::now(),
    )
    .await;
    println!(
        "a change without notification applied on both proxies after {:.0} ms (resync_interval {RESYNC:?})",
        took.as_secs_f64() * 1000.0
    );
    // One interval, plus the time to read one row and answer.
    assert!(took < RESYNC + Duration::from_millis(750), "took {took:?}");
}
