//! The admin API with its PostgreSQL store unreachable (behind a TCP relay
//! the test cuts): a change is refused with 503 `store_unavailable` and a
//! message that says so, nothing is written, the proxy keeps verifying
//! from its cache, and the API works again once the database is back.
//! Needs `EMBEDGATE_TEST_POSTGRES_URL` (set by `cargo xtask test`); fails
//! without it.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use embedgate::serve::{Config, Server};
use embedgate_store::{MasterKey, NewAdminToken, NewEmbedSecret, Role, Store};
use http::{Request, StatusCode};
use support::*;

fn postgres_base() -> String {
    std::env::var("EMBEDGATE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!("EMBEDGATE_TEST_POSTGRES_URL is not set (run `cargo xtask test`)")
        })
}

/// Runs blocking store code off the async runtime (the sync `postgres`
/// client runs its own).
fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

async fn psql(url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_with_the_store_unreachable_is_503_store_unavailable() {
    let base = postgres_base();
    // postgres://user@host:port/db?… → the relay in front of host:port
    let (scheme_user, rest) = base.split_once('@').unwrap();
    let (server, path) = rest.split_once('/').unwrap();
    let relay = Relay::start(server.to_owned()).await;
    let schema = format!("eg_down_{:016x}", rand::random::<u64>());
    psql(&base, &format!("CREATE SCHEMA {schema}")).await;
    let sep = if path.contains('?') { '&' } else { '?' };
    let url = format!(
        "{scheme_user}@{}/{path}{sep}options=-csearch_path%3D{schema}&application_name=embedgate-{schema}",
        relay.addr
    );

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    let key = MasterKey::generate_to_file(&key_file).unwrap();
    let store: Store = blocking(|| Store::open(&url, key).unwrap());
    let (kid, secret, token) = blocking(|| {
        let made = store
            .create_embed_secret(
                &NewEmbedSecret {
                    name: "kept".into(),
                    ..NewEmbedSecret::default()
                },
                "test",
                now() as i64,
            )
            .unwrap();
        let token = store
            .create_admin_token(
                &NewAdminToken {
                    name: "adam".into(),
                    role: Role::Admin,
                },
                "test",
                now() as i64,
            )
            .unwrap();
        (
            made.secret.client_id.clone(),
            made.value.as_str().to_owned(),
            token.value.as_str().to_owned(),
        )
    });
    let backend = Backend::start().await;
    let toml = format!(
        r#"
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[store]
url = "{url}"
master_key_file = "{key}"

[verify]
public_host = "{HOST}"

[[routes]]
prefix = "/d/"
upstream = "http://{backend}"
on_success = "forward"
"#,
        key = key_file.display(),
        backend = backend.addr,
    );
    let config = Config::from_toml(&toml, &Default::default()).unwrap();
    let server = Server::bind(config)
        .await
        .unwrap()
        .with_admin_api(embedgate::admin_api::router);
    let (public, admin) = (server.public_addr(), server.admin_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let create = |name: &str| {
        Request::post("/api/v1/secrets")
            .header("host", "admin.test")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(full(format!("{{\"name\":\"{name}\"}}")))
            .unwrap()
    };
    let got = read(send(admin, create("before")).await).await;
    assert_eq!(got.status, StatusCode::CREATED, "{:?}", got.json());

    relay.cut();
    let started = Instant::now();
    let got = read(send(admin, create("while-down")).await).await;
    let took = started.elapsed();
    println!("POST /api/v1/secrets with the store unreachable: {took:?}");
    assert_eq!(
        got.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        got.json()
    );
    let body = got.json();
    assert_eq!(body["error"], "store_unavailable", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("unreachable"),
        "{body}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // The proxy keeps verifying from its cache.
    let url = sign(&kid, &secret, "/d/x", "viewer", &[]);
    assert_eq!(get(public, &url, &[]).await.status, StatusCode::OK);

    relay.restore().await;
    let back = within(Duration::from_secs(20), || async {
        read(send(admin, create("after")).await).await.status == StatusCode::CREATED
    })
    .await;
    assert!(back.is_some(), "the API never worked again");
    // Nothing of the refused call was written.
    let names: Vec<String> = blocking(|| {
        store
            .list_embed_secrets()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect()
    });
    assert!(!names.contains(&"while-down".to_owned()), "{names:?}");
    assert!(names.contains(&"after".to_owned()), "{names:?}");

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    drop(store);
    relay.cut();
    psql(&base, &format!("DROP SCHEMA {schema} CASCADE")).await;
}
