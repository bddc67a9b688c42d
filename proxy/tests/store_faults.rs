//! A damaged row in the store fails closed on its own and never freezes
//! the proxy (SQLite; `fleet.rs` does the same on PostgreSQL): one row's
//! ciphertext copied over another's while the proxy runs, then changes
//! made with the real `embedgate` CLI keep applying within 1 s; the
//! damaged secret is refused as `key_inactive`; `/readyz` and `/metrics`
//! name it; after a restart the proxy starts and serves the others. A
//! damaged credential withholds only its route.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use http::StatusCode;
use support::{config_toml, get, sign, within, Backend, Proxy, TestStore};

/// Copies row `from`'s sealed value over row `to`'s, behind the store's
/// back (it fails to decrypt there: the value is bound to its row).
fn copy_sealed(store: &TestStore, from: &str, to: &str) {
    let path = store.url.strip_prefix("sqlite://").unwrap();
    let c = rusqlite::Connection::open(Path::new(path)).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    let n = c
        .execute(
            "UPDATE secrets SET (nonce, ciphertext) = \
             (SELECT nonce, ciphertext FROM secrets WHERE id = ?1) WHERE id = ?2",
            [from, to],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn row_id(store: &TestStore, kid_or_name: &str) -> String {
    let path = store.url.strip_prefix("sqlite://").unwrap();
    rusqlite::Connection::open(Path::new(path))
        .unwrap()
        .query_row(
            "SELECT id FROM secrets WHERE client_id = ?1 OR name = ?1",
            [kid_or_name],
            |r| r.get(0),
        )
        .unwrap()
}

/// Runs the real CLI on the store; asserts it succeeded.
fn cli(store: &TestStore, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(args)
        .arg("--master-key-file")
        .arg(&store.key_file)
        .env_remove("EMBEDGATE_MASTER_KEY")
        .env("EMBEDGATE_STORE", &store.url)
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

async fn outcome(
    addr: std::net::SocketAddr,
    kid: &str,
    secret: &str,
) -> (StatusCode, Option<String>) {
    let got = get(addr, &sign(kid, secret, "/d/x", "viewer", &[]), &[]).await;
    (got.status, got.reason())
}

async fn readyz(admin: std::net::SocketAddr) -> (StatusCode, serde_json::Value) {
    let got = get(admin, "/readyz", &[]).await;
    (got.status, got.json())
}

async fn metric(admin: std::net::SocketAddr, line_prefix: &str) -> Option<f64> {
    let text = String::from_utf8_lossy(&get(admin, "/metrics", &[]).await.body).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
}

const OK: (StatusCode, Option<String>) = (StatusCode::OK, None);

fn refused(reason: &str) -> (StatusCode, Option<String>) {
    (StatusCode::FORBIDDEN, Some(reason.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_row_is_refused_alone_and_changes_keep_applying() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let (kid_a, secret_a) = store.create_secret("alpha", &[]);
    let (kid_b, secret_b) = store.create_secret("bravo", &[]);
    let (kid_c, secret_c) = store.create_secret("charlie", &[]);
    let toml = config_toml(&store, &backend, "");
    let proxy = Proxy::start(&toml).await;
    for (k, s) in [
        (&kid_a, &secret_a),
        (&kid_b, &secret_b),
        (&kid_c, &secret_c),
    ] {
        assert_eq!(outcome(proxy.public, k, s).await, OK);
    }
    let (id_a, id_b) = (row_id(&store, &kid_a), row_id(&store, &kid_b));

    // While the proxy runs: b's row gets a's ciphertext.
    copy_sealed(&store, &id_a, &id_b);
    // A change made afterwards with the CLI applies within 1 s.
    cli(&store, &["secrets", "delete", "charlie", "--yes"]);
    let deleted = Instant::now();
    let took = within(Duration::from_secs(5), || async {
        outcome(proxy.public, &kid_c, &secret_c).await == refused("unknown_key")
    })
    .await
    .expect("the deletion after the damage never applied: the proxy froze");
    println!(
        "deletion refused after {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert!(
        deleted.elapsed() < Duration::from_secs(1),
        "the deletion took {:?} to apply",
        deleted.elapsed()
    );
    // So does a new secret (not `unknown_key`).
    let created = cli(&store, &["secrets", "create", "--name", "delta", "--json"]);
    let created: serde_json::Value = serde_json::from_str(created.trim()).unwrap();
    let (kid_d, secret_d) = (
        created["secret"]["client_id"].as_str().unwrap().to_owned(),
        created["value"].as_str().unwrap().to_owned(),
    );
    let created_at = Instant::now();
    within(Duration::from_secs(5), || async {
        outcome(proxy.public, &kid_d, &secret_d).await == OK
    })
    .await
    .expect("a secret created after the damage is never accepted");
    assert!(created_at.elapsed() < Duration::from_secs(1));

    // When the proxy next reads the damaged row, it refuses that secret
    // alone: key_inactive (known, not unknown_key), and says so.
    cli(
        &store,
        &["secrets", "describe", "bravo", "--description", "touched"],
    );
    let touched = Instant::now();
    within(Duration::from_secs(5), || async {
        outcome(proxy.public, &kid_b, &secret_b).await == refused("key_inactive")
    })
    .await
    .expect("the damaged secret is still accepted");
    assert!(touched.elapsed() < Duration::from_secs(1));
    assert_eq!(outcome(proxy.public, &kid_a, &secret_a).await, OK);
    assert_eq!(outcome(proxy.public, &kid_d, &secret_d).await, OK);
    let (status, body) = readyz(proxy.admin).await;
    assert_eq!(status, StatusCode::OK, "degraded, not down: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["reason"], "unreadable_rows", "{body}");
    assert_eq!(body["unreadable_rows"][0]["id"], id_b.as_str(), "{body}");
    assert_eq!(body["unreadable_rows"][0]["kind"], "embed_secret", "{body}");
    assert_eq!(body["unreadable_rows"][0]["name"], "bravo", "{body}");
    assert!(!body.to_string().contains(&secret_a) && !body.to_string().contains(&secret_b));
    assert_eq!(
        metric(
            proxy.admin,
            "embedgate_store_row_errors{kind=\"embed_secret\"} "
        )
        .await,
        Some(1.0)
    );

    // Restart: the proxy starts and serves the healthy secrets.
    proxy.stop().await;
    let proxy = Proxy::start(&toml).await;
    assert_eq!(outcome(proxy.public, &kid_a, &secret_a).await, OK);
    assert_eq!(outcome(proxy.public, &kid_d, &secret_d).await, OK);
    assert_eq!(
        outcome(proxy.public, &kid_b, &secret_b).await,
        refused("key_inactive")
    );
    assert_eq!(
        outcome(proxy.public, &kid_c, &secret_c).await,
        refused("unknown_key")
    );
    let (_, body) = readyz(proxy.admin).await;
    assert_eq!(body["unreadable_rows"][0]["id"], id_b.as_str(), "{body}");

    // Deleting the damaged row clears the alarm.
    cli(&store, &["secrets", "delete", "bravo", "--yes"]);
    within(Duration::from_secs(5), || async {
        get(proxy.admin, "/readyz", &[]).await.body.as_ref() == b"ready\n"
    })
    .await
    .expect("readyz never became ready again");
    assert_eq!(
        metric(
            proxy.admin,
            "embedgate_store_row_errors{kind=\"embed_secret\"} "
        )
        .await,
        Some(0.0)
    );
    assert_eq!(
        outcome(proxy.public, &kid_b, &secret_b).await,
        refused("unknown_key")
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_credential_withholds_only_its_route() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    store.put_credential("backend-token", "tok-123");
    let (kid, secret) = store.create_secret("main", &[]);
    let extra = format!(
        "upstream_auth = {{ header = \"Authorization\", credential = \"backend-token\", prefix = \"Bearer \" }}\n\
         \n[[routes]]\nname = \"reports\"\nprefix = \"/r/\"\nupstream = \"http://{}\"\non_success = \"forward\"\n",
        backend.addr
    );
    let toml = config_toml(&store, &backend, &extra);
    let cred_id = row_id(&store, "backend-token");
    copy_sealed(&store, &row_id(&store, &kid), &cred_id);

    // The proxy starts anyway; the route that injects the credential
    // answers 502 (as when a credential is unavailable), the other serves.
    let proxy = Proxy::start(&toml).await;
    let injected = get(
        proxy.public,
        &sign(&kid, &secret, "/d/x", "viewer", &[]),
        &[],
    )
    .await;
    assert_eq!(injected.status, StatusCode::BAD_GATEWAY);
    let plain = get(
        proxy.public,
        &sign(&kid, &secret, "/r/x", "viewer", &[]),
        &[],
    )
    .await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.backend_header("authorization"), None);
    let (status, body) = readyz(proxy.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["unreadable_rows"][0]["id"], cred_id.as_str(), "{body}");
    assert_eq!(body["unreadable_rows"][0]["kind"], "credential", "{body}");
    assert_eq!(
        body["unreadable_rows"][0]["name"], "backend-token",
        "{body}"
    );
    assert_eq!(
        metric(
            proxy.admin,
            "embedgate_store_row_errors{kind=\"credential\"} "
        )
        .await,
        Some(1.0)
    );

    // Putting a new value fixes the row: the route injects it again.
    let mut put = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    put.args([
        "credentials",
        "put",
        "--name",
        "backend-token",
        "--master-key-file",
    ])
    .arg(&store.key_file)
    .env_remove("EMBEDGATE_MASTER_KEY")
    .env("EMBEDGATE_STORE", &store.url)
    .env("USER", "tester")
    .stdin(std::process::Stdio::piped());
    let mut child = put.spawn().unwrap();
    {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(b"tok-456").unwrap();
    }
    assert!(child.wait().unwrap().success());
    within(Duration::from_secs(5), || async {
        let got = get(
            proxy.public,
            &sign(&kid, &secret, "/d/x", "viewer", &[]),
            &[],
        )
        .await;
        got.status == StatusCode::OK
            && got.backend_header("authorization") == Some(vec!["Bearer tok-456".to_owned()])
    })
    .await
    .expect("the replaced credential is never injected");
    assert_eq!(
        get(proxy.admin, "/readyz", &[]).await.body.as_ref(),
        b"ready\n"
    );
    proxy.stop().await;
}
