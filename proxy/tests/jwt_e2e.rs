//! EGJ1 tokens signed by ordinary JWT libraries from outside the project,
//! PyJWT (PyPI) and `jose` (npm), through a real `embedgate serve` process
//! to a real backend over loopback: the backend sees the token's `params`
//! as its query and the identity headers; a token used twice is
//! `replayed` (in the same replay space as EG1 nonces), a token for another
//! path is `bad_signature`.
//!
//! Needs `target/py-venv` with PyJWT and `tests/jwt-interop/node_modules`
//! with jose; `cargo xtask test` installs both before the Rust tests. A
//! missing one fails the test, with the command that installs it.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A JWT library from outside the project.
#[derive(Clone, Copy, Debug)]
enum Library {
    PyJwt,
    Jose,
}

impl Library {
    /// Signs `claims` with HS256 under `secret`, header `kid`.
    fn sign(self, kid: &str, secret: &str, claims: &serde_json::Value) -> String {
        let request = json!({ "secret": secret, "kid": kid, "claims": claims }).to_string();
        let dir = root().join("tests/jwt-interop");
        let mut cmd = match self {
            Library::PyJwt => {
                let python = root().join("target/py-venv/bin/python");
                assert!(
                    python.is_file(),
                    "{} is missing: run `cargo xtask test`, or `python3 -m venv target/py-venv && \
                     target/py-venv/bin/pip install PyJWT`",
                    python.display()
                );
                let mut cmd = Command::new(python);
                cmd.arg("-W").arg("error").arg(dir.join("sign_pyjwt.py"));
                cmd
            }
            Library::Jose => {
                assert!(
                    dir.join("node_modules/jose/package.json").is_file(),
                    "jose is not installed: run `cargo xtask test`, or `npm ci` in tests/jwt-interop"
                );
                let mut cmd = Command::new("node");
                cmd.arg(dir.join("sign-jose.mjs"));
                cmd
            }
        };
        let out = cmd.arg(request).output().unwrap_or_else(|e| {
            panic!("cannot run the {self:?} signer: {e}");
        });
        assert!(
            out.status.success(),
            "{self:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(token.split('.').count(), 3, "{self:?}: {token}");
        token
    }
}

/// `embedgate serve` as a child process, stopped when dropped.
struct Serve {
    child: Child,
    public: std::net::SocketAddr,
}

impl Serve {
    fn start(config: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_embedgate"))
            .args(["serve", "--config"])
            .arg(config)
            .env("EMBEDGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // It prints "embedgate serve: listening on ADDR" once bound.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("embedgate serve: listening on ") {
                    let _ = tx.send(addr.parse::<std::net::SocketAddr>().unwrap());
                }
            }
        });
        let public = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("embedgate serve did not start listening within 30 s");
        Serve { child, public }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The claims of a token for `path` on the test host.
fn claims(path: &str, jti: &str) -> serde_json::Value {
    json!({
        "aud": HOST,
        "path": path,
        "params": { "orgId": "1", "var-region": ["emea", "apac"], "q": "a b+c/ü" },
        "sub": "user-42",
        "exp": now() + 300,
        "jti": jti,
        "attrs": { "tenant": "acme", "plan": "pro" },
        "session": 600,
    })
}

#[tokio::test]
async fn tokens_from_pyjwt_and_jose_go_through_embedgate_serve() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let (kid, secret) = store.create_secret("main", &[]);
    let config = store.dir.path().join("embedgate.toml");
    std::fs::write(&config, config_toml(&store, &backend, "")).unwrap();
    let serve = tokio::task::spawn_blocking(move || Serve::start(&config))
        .await
        .unwrap();

    for library in [Library::PyJwt, Library::Jose] {
        let jti = nonce();
        let token = library.sign(&kid, &secret, &claims("/d/sales", &jti));
        let url = format!("/d/sales?eg_jwt={token}");
        let before = backend.seen_count();
        let got = get(serve.public, &url, &[]).await;
        assert_eq!(got.status, StatusCode::OK, "{library:?}: {got:?}");
        assert!(got.cookie().is_some(), "{library:?}: no session cookie");
        assert_eq!(backend.seen_count(), before + 1);
        let seen = backend.last_seen().unwrap();
        assert_eq!(
            seen.path_and_query,
            "/d/sales?orgId=1&q=a%20b%2Bc%2F%C3%BC&var-region=apac&var-region=emea",
            "{library:?}: the backend sees the token's params as its query"
        );
        assert_eq!(seen.headers["x-embed-user"], "user-42", "{library:?}");
        assert_eq!(seen.headers["x-embed-attr-tenant"], "acme", "{library:?}");
        assert_eq!(seen.headers["x-embed-attr-plan"], "pro", "{library:?}");
        assert_eq!(seen.headers["x-embed-key"], kid.as_str(), "{library:?}");
        assert!(!seen.path_and_query.contains("eg_"));

        // The same token again: replayed, and the backend sees nothing.
        let again = get(serve.public, &url, &[]).await;
        assert_eq!(again.status, StatusCode::FORBIDDEN, "{library:?}");
        assert_eq!(again.reason().as_deref(), Some("replayed"), "{library:?}");
        assert_eq!(backend.seen_count(), before + 1);

        // A token signed for another path, presented on this one.
        let other = library.sign(&kid, &secret, &claims("/d/finance", &nonce()));
        let moved = get(serve.public, &format!("/d/sales?eg_jwt={other}"), &[]).await;
        assert_eq!(moved.status, StatusCode::FORBIDDEN, "{library:?}");
        assert_eq!(
            moved.reason().as_deref(),
            Some("bad_signature"),
            "{library:?}"
        );
        // Another secret, or a content parameter beside eg_jwt.
        let forged = library.sign(
            &kid,
            "another-secret-another-secret-00",
            &claims("/d/sales", &nonce()),
        );
        let got = get(serve.public, &format!("/d/sales?eg_jwt={forged}"), &[]).await;
        assert_eq!(
            got.reason().as_deref(),
            Some("bad_signature"),
            "{library:?}"
        );
        let fresh = library.sign(&kid, &secret, &claims("/d/sales", &nonce()));
        let got = get(
            serve.public,
            &format!("/d/sales?orgId=2&eg_jwt={fresh}"),
            &[],
        )
        .await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{library:?}");
        assert_eq!(got.reason().as_deref(), Some("malformed"), "{library:?}");
        assert_eq!(backend.seen_count(), before + 1);
    }

    // EG1 nonces and EGJ1 jtis share one replay space, per key.
    let shared = nonce();
    let eg1 = sign_with(
        &kid,
        &secret,
        "/d/sales?orgId=1",
        "user-42",
        &[],
        now() + 300,
        &shared,
    );
    assert_eq!(get(serve.public, &eg1, &[]).await.status, StatusCode::OK);
    let token = Library::PyJwt.sign(&kid, &secret, &claims("/d/sales", &shared));
    let got = get(serve.public, &format!("/d/sales?eg_jwt={token}"), &[]).await;
    assert_eq!(got.reason().as_deref(), Some("replayed"));
    drop(serve);
}
