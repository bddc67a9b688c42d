//! Log canary: the real `embedgate serve` process at `RUST_LOG=debug`,
//! walked through every path (signed URLs accepted, replayed, tampered;
//! sessions accepted, tampered, refused; a refused URL served under its
//! session; an injected credential; a WebSocket), then its whole log
//! searched for every secret, signature, nonce, cookie value and
//! credential it handled (access lines included: the access log is on by
//! default).

use std::io::BufRead as _;
use std::time::Duration;

use http::StatusCode;

use crate::support::*;
use crate::{lab_toml, raw::RawBackend, Setup, GRAFANA_TOKEN};

fn param<'u>(url: &'u str, name: &str) -> &'u str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
}

/// The proxy process, killed if the test fails before it is stopped.
struct Reaped(Option<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test]
async fn the_debug_log_holds_no_secret_signature_nonce_or_cookie() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let store = TestStore::new();
    store.put_credential("grafana-token", GRAFANA_TOKEN);
    let (kid, secret) = store.create_secret("main", &[]);
    let backend = RawBackend::start().await;
    let config = store.dir.path().join("embedgate.toml");
    std::fs::write(&config, lab_toml(&store, backend.addr, Setup::default())).unwrap();
    let mut child = Reaped(Some(
        std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("EMBEDGATE_LOG")
            .env("RUST_LOG", "debug")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let child_ref = child.0.as_mut().unwrap();
    let mut stderr = child_ref.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        log
    });
    let stdout = child_ref.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let listening = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("embedgate serve: listening on "))
        .expect("a listening line on stdout");
    let addr: std::net::SocketAddr = listening.rsplit(' ').next().unwrap().parse().unwrap();
    // Drain stdout so the process never blocks on it.
    std::thread::spawn(move || for _ in lines {});

    let mut needles: Vec<(&str, String)> = vec![
        ("secret", secret.clone()),
        ("credential", GRAFANA_TOKEN.to_owned()),
        ("master key", store.master_key_b64()),
    ];
    let note_url = |needles: &mut Vec<(&str, String)>, url: &str| {
        needles.push(("signature", param(url, "eg_sig").to_owned()));
        needles.push(("nonce", param(url, "eg_nonce").to_owned()));
    };
    let note_cookie = |needles: &mut Vec<(&str, String)>, cookie: &str| {
        let value = cookie.split_once('=').unwrap().1.to_owned();
        let parts: Vec<&str> = value.split('.').collect();
        needles.push(("cookie payload", parts[2].to_owned()));
        needles.push(("cookie tag", parts[3].to_owned()));
        needles.push(("cookie", value));
    };

    // Signed URLs: accepted, replayed, tampered.
    let url = sign(
        &kid,
        &secret,
        "/d/x?a=1",
        "canary-user",
        &[("tenant", "acme")],
    );
    note_url(&mut needles, &url);
    let first = get(addr, &url, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let cookie = first.cookie().unwrap();
    note_cookie(&mut needles, &cookie);
    assert_eq!(get(addr, &url, &[]).await.status, StatusCode::FORBIDDEN);
    let tampered = url.replacen("a=1", "a=2", 1);
    assert_eq!(
        get(addr, &tampered, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // A refused URL served under the session (logged at debug).
    let got = get(addr, &url, &[("cookie", &cookie)]).await;
    assert_eq!(got.status, StatusCode::OK);
    // Sessions: accepted, tampered, out of route.
    assert_eq!(
        get(addr, "/d/y", &[("cookie", &cookie)]).await.status,
        StatusCode::OK
    );
    let bad = format!("{cookie}x");
    assert_eq!(
        get(addr, "/d/y", &[("cookie", &bad)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(addr, "/g/y", &[("cookie", &cookie)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The route with an injected credential.
    let g_url = sign(&kid, &secret, "/g/x", "canary-user", &[]);
    note_url(&mut needles, &g_url);
    let g = get(addr, &g_url, &[]).await;
    assert_eq!(g.status, StatusCode::OK);
    note_cookie(&mut needles, &g.cookie().unwrap());
    assert_eq!(
        backend.last().cgi_values("authorization"),
        [format!("Bearer {GRAFANA_TOKEN}")]
    );
    // A WebSocket on the session.
    let mut req = format!("ws://{addr}/d/live/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("host", HOST.parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert_eq!(
        echo.unwrap().unwrap().into_text().unwrap().as_str(),
        "hello"
    );
    ws.close(None).await.unwrap();

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.0.as_ref().unwrap().id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut proxy = child.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || proxy.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let log = log_reader.join().unwrap();
    // The log is the debug one, and it covered the paths walked, with
    // an access line for each request (`embedgate::access`).
    for expected in [
        "DEBUG",
        "signed URL verified",
        "refused",
        "outcome=\"replayed\"",
        "outcome=\"bad_signature\"",
        "outcome=\"no_session\"",
        "auth=\"session\"",
        "request_id=",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in the log:\n{log}"
        );
    }
    for (what, needle) in &needles {
        assert!(needle.len() >= 16, "{what} too short to search for");
        assert!(
            !log.contains(needle.as_str()),
            "the log holds a {what}:\n{log}"
        );
    }
}
