//! An admin API write costs the rows it touches, not the store: creating
//! secrets through `POST /api/v1/secrets` is as fast with 20,000 secrets in
//! the store as with none, and the proxy accepts each at once. A
//! benchmark, ignored by default (it creates 21,000 secrets):
//!
//! ```sh
//! cargo test -p embedgate --release --test admin_scale -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use embedgate_store::{NewAdminToken, NewEmbedSecret, Role};
use http::{Request, StatusCode};
use support::{config_toml, full, get, now, read, send, sign, Backend, Proxy, TestStore};

const PRELOADED: usize = 20_000;
const CREATES: usize = 500;

/// Creates `n` secrets through the admin API; returns the mean time per
/// create and the last one's client id and value.
async fn create_through_api(
    proxy: &Proxy,
    token: &str,
    prefix: &str,
    n: usize,
) -> (Duration, (String, String)) {
    let started = Instant::now();
    let mut last = None;
    for i in 0..n {
        let req = Request::post("/api/v1/secrets")
            .header("host", "admin.test")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(full(format!("{{\"name\":\"{prefix}-{i}\"}}")))
            .unwrap();
        let got = read(send(proxy.admin, req).await).await;
        assert_eq!(got.status, StatusCode::CREATED);
        let v = got.json();
        last = Some((
            v["secret"]["client_id"].as_str().unwrap().to_owned(),
            v["value"].as_str().unwrap().to_owned(),
        ));
    }
    (started.elapsed() / n as u32, last.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 21,000 creates"]
async fn admin_api_creates_cost_the_same_with_20000_secrets() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let token = store
        .store
        .create_admin_token(
            &NewAdminToken {
                name: "bench".into(),
                role: Role::Admin,
            },
            "test",
            now() as i64,
        )
        .unwrap()
        .value
        .as_str()
        .to_owned();
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let (empty, _) = create_through_api(&proxy, &token, "early", CREATES).await;

    let s = store.store.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..PRELOADED {
            s.create_embed_secret(
                &NewEmbedSecret {
                    name: format!("bulk-{i}"),
                    ..NewEmbedSecret::default()
                },
                "bench",
                now() as i64,
            )
            .unwrap();
        }
    })
    .await
    .unwrap();
    // Let the poll take the bulk in (one full reload: more changes than
    // the change log is read for).
    proxy.reload.reload().await.unwrap();

    let (full_store, (kid, secret)) = create_through_api(&proxy, &token, "late", CREATES).await;
    // The last one is accepted at once: the API answered after the cache had it.
    let got = get(
        proxy.public,
        &sign(&kid, &secret, "/d/x", "viewer", &[]),
        &[],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "POST /api/v1/secrets, mean of {CREATES}: {:.2} ms into an empty store, {:.2} ms into a store of {} secrets",
        ms(empty),
        ms(full_store),
        PRELOADED + CREATES
    );
    assert!(
        full_store <= empty * 12 / 10 + Duration::from_millis(2),
        "{:.2} ms with {PRELOADED} secrets against {:.2} ms",
        ms(full_store),
        ms(empty)
    );
    proxy.stop().await;
}

/// Issue 15: 20,000 secrets created through the API at a steady rate (the
/// last thousand no slower than the first by more than 20 %), and the
/// list of all of them read a page at a time.
///
/// ```sh
/// cargo test -p embedgate --release --test admin_scale -- --ignored --nocapture twenty_thousand
/// ```
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 20,000 creates through the API"]
async fn twenty_thousand_creates_through_the_api_at_a_steady_rate() {
    const TOTAL: usize = 20_000;
    const BLOCK: usize = 1_000;
    let store = TestStore::new();
    let backend = Backend::start().await;
    let token = store
        .store
        .create_admin_token(
            &NewAdminToken {
                name: "bench".into(),
                role: Role::Admin,
            },
            "test",
            now() as i64,
        )
        .unwrap()
        .value
        .as_str()
        .to_owned();
    let proxy = Proxy::start(&config_toml(&store, &backend, "")).await;
    let mut blocks = Vec::new();
    let mut last = None;
    for b in 0..TOTAL / BLOCK {
        let (mean, made) = create_through_api(&proxy, &token, &format!("s{b:02}"), BLOCK).await;
        blocks.push(mean * BLOCK as u32);
        last = Some(made);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "POST /api/v1/secrets, per block of {BLOCK} (ms): {}",
        blocks
            .iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (first, final_) = (blocks[0], blocks[blocks.len() - 1]);
    println!(
        "first {BLOCK}: {:.0} ms, last {BLOCK}: {:.0} ms ({:+.1} %)",
        ms(first),
        ms(final_),
        (final_.as_secs_f64() / first.as_secs_f64() - 1.0) * 100.0
    );
    // The newest is accepted at once.
    let (kid, secret) = last.unwrap();
    let got = get(proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    assert_eq!(got.status, StatusCode::OK);

    // The list: a default page, then all of it in pages of 1000.
    let list = |q: String| {
        Request::get(format!("/api/v1/secrets{q}"))
            .header("host", "admin.test")
            .header("authorization", format!("Bearer {token}"))
            .body(full(""))
            .unwrap()
    };
    let started = Instant::now();
    let page = read(send(proxy.admin, list(String::new())).await).await;
    println!(
        "GET /api/v1/secrets (default page): {} items, {} bytes, {:.1} ms",
        page.json()["items"].as_array().unwrap().len(),
        page.body.len(),
        ms(started.elapsed())
    );
    let started = Instant::now();
    let (mut items, mut bytes, mut pages) = (0, 0, 0);
    let mut cursor = String::new();
    loop {
        let got = read(send(proxy.admin, list(format!("?limit=1000{cursor}"))).await).await;
        assert_eq!(got.status, StatusCode::OK);
        let v = got.json();
        items += v["items"].as_array().unwrap().len();
        bytes += got.body.len();
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    println!(
        "all {items} in {pages} pages of 1000: {bytes} bytes, {:.0} ms",
        ms(started.elapsed())
    );
    assert_eq!(items, TOTAL);
    assert!(
        final_ <= first * 12 / 10,
        "the last {BLOCK} took {:.0} ms, the first {:.0} ms",
        ms(final_),
        ms(first)
    );
    proxy.stop().await;
}
