//! The access log and request ids, read from a real `embedgate serve`
//! process: one line per request on `embedgate::access`, in text and in
//! JSON, with the request id that the backend received and the client got
//! back; and the answer's HTTP version is the client's whatever the
//! upstream spoke.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use http::StatusCode;
use support::*;

/// A running `embedgate serve`; killed if the test fails before
/// [`Serve::stop`].
struct Serve {
    child: Option<std::process::Child>,
    addr: SocketAddr,
    log: Option<std::thread::JoinHandle<String>>,
}

impl Serve {
    fn start(store: &TestStore, config_toml: &str) -> Serve {
        let config = store.dir.path().join("embedgate.toml");
        std::fs::write(&config, config_toml).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("EMBEDGATE_LOG")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let listening = lines
            .by_ref()
            .map(|l| l.unwrap())
            .find(|l| l.starts_with("embedgate serve: listening on "))
            .expect("a listening line on stdout");
        std::thread::spawn(move || for _ in lines {});
        let addr = listening.rsplit(' ').next().unwrap().parse().unwrap();
        Serve {
            child: Some(child),
            addr,
            log: Some(log),
        }
    }

    /// Stops the proxy (SIGTERM) and returns its whole log.
    async fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status:?}");
        self.log.take().unwrap().join().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The access lines of a log (text format).
fn access_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(" request ")).collect()
}

/// `key=value` of a text log line (values unquoted, as tracing writes
/// numbers and `%`-formatted strings; quoted strings keep their quotes).
fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_text_line_per_request_with_the_id_the_backend_and_client_saw() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let proxy = Serve::start(&store, &config_toml(&store, &backend, ""));
    let addr = proxy.addr;

    // A signed URL with the client's own request id and a traceparent.
    let url = sign(&kid, &secret, "/d/x?region=emea", "alice", &[]);
    let signed = get(
        addr,
        &url,
        &[
            ("x-request-id", "client-id-1"),
            ("traceparent", TRACEPARENT),
        ],
    )
    .await;
    assert_eq!(signed.status, StatusCode::OK);
    assert_eq!(signed.headers["x-request-id"], "client-id-1");
    assert_eq!(
        signed.backend_header("x-request-id").unwrap(),
        ["client-id-1"]
    );
    assert_eq!(signed.backend_header("traceparent").unwrap(), [TRACEPARENT]);
    let cookie = signed.cookie().unwrap();

    // A session request without an id: one is made, sent up and back.
    let session = get(addr, "/d/y?page=2", &[("cookie", &cookie)]).await;
    assert_eq!(session.status, StatusCode::OK);
    let made = session.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "{made}");
    assert_eq!(
        session.backend_header("x-request-id").unwrap(),
        [made.as_str()]
    );

    // An id that could break a log line is replaced.
    let odd = get(
        addr,
        "/d/y",
        &[("cookie", &cookie), ("x-request-id", "a b\"c")],
    )
    .await;
    let replaced = odd.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(replaced, "a b\"c");
    assert_eq!(
        odd.backend_header("x-request-id").unwrap(),
        [replaced.as_str()]
    );

    // Refusals: a replayed URL and no route; they carry an id too.
    let replayed = get(addr, &url, &[("x-request-id", "client-id-2")]).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN);
    assert_eq!(replayed.headers["x-request-id"], "client-id-2");
    let nowhere = get(addr, "/elsewhere?q=1", &[]).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.headers.contains_key("x-request-id"));

    let log = proxy.stop().await;
    let lines = access_lines(&log);
    assert_eq!(lines.len(), 5, "one line per request:\n{log}");
    let by_id = |id: &str| {
        *lines
            .iter()
            .find(|l| field(l, "request_id") == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{log}"))
    };
    let first = by_id("client-id-1");
    for (k, v) in [
        ("route", "d"),
        ("method", "GET"),
        ("path", "/d/x"),
        ("status", "200"),
        ("outcome", "ok"),
        ("kid", kid.as_str()),
        ("auth", "signed"),
        ("upstream_status", "200"),
        ("client", "127.0.0.1"),
        ("traceparent", TRACEPARENT),
    ] {
        assert_eq!(field(first, k), Some(v), "{k} in {first}");
    }
    for k in ["upstream_us", "duration_us"] {
        let us: u64 = field(first, k).unwrap().parse().unwrap();
        assert!(us > 0 && us < 10_000_000, "{k} in {first}");
    }
    let second = by_id(&made);
    assert_eq!(field(second, "auth"), Some("session"));
    assert_eq!(field(second, "kid"), Some(kid.as_str()));
    assert_eq!(field(second, "path"), Some("/d/y"));
    by_id(&replaced);
    let refused = by_id("client-id-2");
    assert_eq!(field(refused, "status"), Some("403"));
    assert_eq!(field(refused, "outcome"), Some("replayed"));
    assert_eq!(field(refused, "kid"), Some(kid.as_str()), "{refused}");
    assert_eq!(field(refused, "upstream_status"), Some("0"));
    let none = lines
        .iter()
        .find(|l| field(l, "outcome") == Some("no_route"))
        .unwrap();
    assert_eq!(field(none, "route"), Some("none"));
    // No query value, signature or nonce anywhere in the log.
    for needle in [
        "emea",
        "page=2",
        "q=1",
        "eg_sig",
        "eg_nonce",
        secret.as_str(),
    ] {
        assert!(!log.contains(needle), "{needle:?} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_and_the_switch_to_turn_them_off() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let json = config_toml(&store, &backend, "\n[log]\nformat = \"json\"\n");
    let proxy = Serve::start(&store, &json);
    let url = sign(&kid, &secret, "/d/x", "alice", &[]);
    let got = get(proxy.addr, &url, &[("x-request-id", "json-1")]).await;
    assert_eq!(got.status, StatusCode::OK);
    let log = proxy.stop().await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &serde_json::Value| v["target"] == "embedgate::access")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let f = &lines[0]["fields"];
    assert_eq!(f["message"], "request");
    assert_eq!(f["request_id"], "json-1");
    assert_eq!(f["status"], 200);
    assert_eq!(f["upstream_status"], 200);
    assert_eq!(f["outcome"], "ok");
    assert_eq!(f["kid"], kid.as_str());
    assert_eq!(f["path"], "/d/x");
    assert!(f["duration_us"].as_u64().unwrap() > 0);
    assert_eq!(lines[0]["level"], "INFO");

    // `[log] access = false`: no line, the id still goes both ways.
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let off = config_toml(&store, &backend, "\n[log]\naccess = false\n");
    let proxy = Serve::start(&store, &off);
    let url = sign(&kid, &secret, "/d/x", "alice", &[]);
    let got = get(proxy.addr, &url, &[("x-request-id", "quiet-1")]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers["x-request-id"], "quiet-1");
    assert_eq!(got.backend_header("x-request-id").unwrap(), ["quiet-1"]);
    let log = proxy.stop().await;
    assert!(access_lines(&log).is_empty(), "{log}");
    assert!(!log.contains("quiet-1"), "{log}");
}

/// An upstream that speaks HTTP/1.0: reads one request, answers, closes.
fn http10_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfrom 1.0");
        }
    });
    addr
}

/// Sends `request` raw and returns the whole answer (the proxy closes
/// the connection: `Connection: close`).
fn raw(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gets_its_own_http_version_whatever_the_upstream_spoke() {
    let upstream = http10_upstream();
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let proxy = Serve::start(&store, &config_toml_for(&store, upstream, ""));
    let url = sign(&kid, &secret, "/d/x", "alice", &[]);
    let answer = raw(
        proxy.addr,
        &format!("GET {url} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("from 1.0"), "{answer}");
    // An HTTP/1.0 client gets 1.0.
    let url = sign(&kid, &secret, "/d/x", "alice", &[]);
    let answer = raw(
        proxy.addr,
        &format!("GET {url} HTTP/1.0\r\nHost: {HOST}\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
    proxy.stop().await;
}
