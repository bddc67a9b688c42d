//! TLS to PostgreSQL as `sslmode` asks (libpq's meanings), through rustls:
//! `disable` connects in plain text, `require` encrypts (checked in the
//! server's `pg_stat_ssl`), `verify-full` refuses a certificate no trusted
//! root vouches for, and `require` against a server that speaks no TLS
//! fails with a clear error, having written nothing.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use embedgate_store::{MasterKey, Store};
use support::{fresh_schema, named, postgres_admin, postgres_base_url, url_with_schema, NOW};

/// `url` with one more query option.
fn with_option(url: &str, option: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{option}")
}

struct Schema {
    base: String,
    name: String,
    url: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = postgres_admin(&self.base)
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

fn schema() -> Schema {
    let base = postgres_base_url();
    let name = fresh_schema(&base);
    let url = url_with_schema(&base, &name);
    Schema { base, name, url }
}

impl Schema {
    fn tables(&self) -> i64 {
        postgres_admin(&self.base)
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&self.name],
            )
            .expect("count")
            .get(0)
    }

    /// Whether the server's connections named `app` use TLS (one answer
    /// for all of them), `None` if there are none.
    fn encrypted(&self, app: &str) -> Option<bool> {
        let rows = postgres_admin(&self.base)
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
                 WHERE a.application_name = $1",
                &[&app],
            )
            .expect("pg_stat_ssl");
        let all: Vec<bool> = rows.iter().map(|r| r.get(0)).collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]), "mixed: {all:?}");
        all.first().copied()
    }

    /// Whether the test server has TLS turned on.
    fn server_has_tls(&self) -> bool {
        let on: String = postgres_admin(&self.base)
            .query_one("SHOW ssl", &[])
            .expect("show ssl")
            .get(0);
        on == "on"
    }
}

/// A store opened with `sslmode`, its connections named uniquely.
fn open(
    s: &Schema,
    mode: &str,
    key: &MasterKey,
) -> (Result<Store, embedgate_store::StoreError>, String) {
    let app = format!("embedgate-tls-{mode}-{:08x}", rand::random::<u32>());
    let url = with_option(
        &with_option(&s.url, &format!("sslmode={mode}")),
        &format!("application_name={app}"),
    );
    (Store::open(&url, key.clone()), app)
}

#[test]
fn sslmode_disable_connects_in_plain_text() {
    let s = schema();
    let key = MasterKey::generate();
    let (store, app) = open(&s, "disable", &key);
    let store = store.expect("sslmode=disable");
    store
        .create_embed_secret(&named("plain"), "tls-test", NOW)
        .expect("write");
    assert_eq!(
        s.encrypted(&app),
        Some(false),
        "a pooled connection stays open"
    );
    assert!(s.tables() >= 4);
}

#[test]
fn sslmode_require_encrypts_when_the_server_speaks_tls() {
    let s = schema();
    if !s.server_has_tls() {
        // Covered against a server without TLS below.
        let (store, _) = open(&s, "require", &MasterKey::generate());
        assert_eq!(store.expect_err("no TLS").code(), "unavailable");
        return;
    }
    let key = MasterKey::generate();
    for mode in ["require", "prefer"] {
        let (store, app) = open(&s, mode, &key);
        let store = store.unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        store
            .create_embed_secret(&named(mode), "tls-test", NOW)
            .expect("write");
        assert_eq!(s.encrypted(&app), Some(true), "sslmode={mode}");
    }
}

#[test]
fn sslmode_verify_full_refuses_a_certificate_no_root_vouches_for() {
    let s = schema();
    let (store, _) = open(&s, "verify-full", &MasterKey::generate());
    let err = store.expect_err("the test server's certificate is self-signed (or absent)");
    assert_eq!(err.code(), "unavailable", "{err}");
    let text = err.to_string();
    assert!(
        ["certificate", "TLS", "tls", "SSL"]
            .iter()
            .any(|w| text.contains(w)),
        "the error should say TLS is the problem: {text}"
    );
    assert_eq!(s.tables(), 0, "nothing was written");
}

/// A PostgreSQL server without TLS, as the client sees it: it answers
/// the client's SSLRequest with `N` and waits for a plain startup.
fn server_without_tls() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut request = [0u8; 8];
        conn.read_exact(&mut request).expect("SSLRequest");
        // Length 8, code 80877103: the SSLRequest.
        assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "an SSLRequest");
        conn.write_all(b"N").expect("answer");
        // The client must give up now; it never sends a plain startup.
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
        assert!(rest.is_empty(), "the client went on without TLS");
    });
    (
        format!("postgres://postgres@{}:{}/test", addr.ip(), addr.port()),
        server,
    )
}

#[test]
fn sslmode_require_fails_clearly_against_a_server_without_tls() {
    let (url, server) = server_without_tls();
    let err = Store::open(&with_option(&url, "sslmode=require"), MasterKey::generate())
        .expect_err("the server has no TLS");
    assert_eq!(err.code(), "unavailable", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("TLS") || text.contains("SSL"),
        "the error should say TLS is the problem: {text}"
    );
    server.join().expect("server");
}

#[test]
fn an_unknown_sslmode_or_root_file_is_refused_before_connecting() {
    let s = schema();
    for (option, mentions) in [
        ("sslmode=maybe", "sslmode"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/root.pem",
            "sslrootcert",
        ),
    ] {
        let err =
            Store::open(&with_option(&s.url, option), MasterKey::generate()).expect_err("refused");
        assert_eq!(err.code(), "invalid_input", "{option}: {err}");
        assert!(err.to_string().contains(mentions), "{err}");
    }
    assert_eq!(s.tables(), 0);
}
