//! `[limits]` on the public listener (and the admin listener's timeouts),
//! over real loopback TCP with short timeouts: slow clients are closed,
//! idle keep-alive connections are closed after the idle timeout (not the
//! header timeout), a TLS handshake that never comes is cut off, and
//! beyond `max_connections` new connections wait.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until the peer closes `stream` (EOF or reset), up to `limit`;
/// returns when, or `None`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Instant> {
    let mut buf = [0u8; 1024];
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(Instant::now()),
            Ok(Ok(_)) => {}
        }
    }
}

/// One slowloris client: the request line, then a header line every
/// 300 ms, never the blank line. Returns how long after its first byte the
/// proxy closed it (or `None` within `limit`).
async fn slowloris(addr: SocketAddr, limit: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Before the write: the proxy cannot see the first byte earlier.
    let started = Instant::now();
    s.write_all(b"GET /d/slow HTTP/1.1\r\nHost: embed.test\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    tick.tick().await;
    while started.elapsed() < limit {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => {}
            },
            _ = tick.tick() => {
                if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_slowloris_clients_are_closed_and_others_are_served() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let header_timeout = Duration::from_secs(2);
    let proxy = Proxy::start(&config_toml(
        &store,
        &backend,
        "[limits]\nheader_read_timeout = \"2s\"\nkeepalive_idle_timeout = \"30s\"\n",
    ))
    .await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();

    let slow: Vec<_> = (0..200)
        .map(|_| tokio::spawn(slowloris(proxy.public, Duration::from_secs(20))))
        .collect();
    // The admin listener has the same header deadline.
    let admin_slow = tokio::spawn(slowloris(proxy.admin, Duration::from_secs(20)));
    // A connection that never sends a byte: the header timeout from accept.
    let silent = tokio::spawn(async move {
        let mut s = TcpStream::connect(proxy.public).await.unwrap();
        let opened = Instant::now();
        closed_within(&mut s, Duration::from_secs(20))
            .await
            .map(|closed| closed - opened)
    });
    // While they trickle, a normal client is served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let served_at = Instant::now();
    let got = get(proxy.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    let health = get(proxy.admin, "/healthz", &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    println!(
        "normal request served in {:?} beside 200 slow clients",
        served_at.elapsed()
    );

    let mut times = Vec::new();
    for t in slow {
        let closed = t
            .await
            .unwrap()
            .expect("a slowloris connection stayed open for 20 s");
        times.push(closed);
    }
    times.sort();
    println!(
        "200 slowloris connections closed after {:?} .. {:?} (header_read_timeout 2 s)",
        times[0],
        times[times.len() - 1]
    );
    // Not before the timeout (measured from the first byte, which the
    // proxy saw no earlier than we sent it)...
    assert!(
        times[0] >= header_timeout - Duration::from_millis(50),
        "{times:?}"
    );
    // ...and every one of them, although each kept sending.
    assert!(
        times[times.len() - 1] < Duration::from_secs(15),
        "{times:?}"
    );
    let admin_closed = admin_slow
        .await
        .unwrap()
        .expect("admin connection stayed open");
    assert!(admin_closed >= header_timeout - Duration::from_millis(50));
    let silent = silent
        .await
        .unwrap()
        .expect("a silent connection stayed open");
    assert!(
        silent >= header_timeout - Duration::from_millis(100),
        "{silent:?}"
    );
    assert!(silent < Duration::from_secs(15), "{silent:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let proxy = Proxy::start(&config_toml(
        &store,
        &backend,
        "[limits]\nheader_read_timeout = \"1s\"\nkeepalive_idle_timeout = \"3s\"\n",
    ))
    .await;
    let (kid, secret) = store.create_secret("main", &[]);
    proxy.reload.reload().await.unwrap();

    let mut s = TcpStream::connect(proxy.public).await.unwrap();
    // Two requests on one connection, the second after more than the
    // header timeout of idleness: keep-alive is not cut at 1 s.
    let mut sent = Instant::now();
    for (i, pause) in [Duration::ZERO, Duration::from_millis(1500)]
        .into_iter()
        .enumerate()
    {
        tokio::time::sleep(pause).await;
        let url = sign(&kid, &secret, &format!("/d/{i}"), "u", &[]);
        // The connection turns idle after this, never before.
        sent = Instant::now();
        s.write_all(format!("GET {url} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        read_one_response(&mut s).await;
    }
    let closed = closed_within(&mut s, Duration::from_secs(15))
        .await
        .expect("the idle connection stayed open for 15 s");
    let idle = closed - sent;
    println!(
        "idle keep-alive connection closed {idle:?} after its last request (keepalive_idle_timeout 3 s)"
    );
    assert!(
        idle >= Duration::from_millis(2950),
        "closed early: {idle:?}"
    );
    assert!(idle < Duration::from_secs(12), "{idle:?}");
    proxy.stop().await;
}

/// Reads one `Content-Length` response off a raw HTTP/1.1 connection.
async fn read_one_response(s: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if got.len() >= end + 4 + len {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_off() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = store.dir.path().join("cert.pem");
    let key_file = store.dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
    let toml = format!(
        "{}\n[limits]\ntls_handshake_timeout = \"1s\"\nheader_read_timeout = \"20s\"\n\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        config_toml(&store, &backend, ""),
        cert_file.display(),
        key_file.display()
    );
    let proxy = Proxy::start(&toml).await;

    // Connects and sends nothing.
    let mut silent = TcpStream::connect(proxy.public).await.unwrap();
    let opened = Instant::now();
    // Sends half a ClientHello's record header, then nothing.
    let mut partial = TcpStream::connect(proxy.public).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    for s in [&mut silent, &mut partial] {
        let closed = closed_within(s, Duration::from_secs(15))
            .await
            .expect("the connection stayed open");
        let waited = closed - opened;
        println!("stalled TLS handshake closed after {waited:?} (tls_handshake_timeout 1 s)");
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn beyond_max_connections_new_connections_wait() {
    let store = TestStore::new();
    let backend = Backend::start().await;
    let proxy = Proxy::start(&config_toml(
        &store,
        &backend,
        "[limits]\nmax_connections = 2\nheader_read_timeout = \"30s\"\nkeepalive_idle_timeout = \"30s\"\n",
    ))
    .await;
    // Two kept-alive connections, each proven accepted by an answer.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(proxy.public).await.unwrap();
        s.write_all(format!("GET /healthz-nope HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 404"));
        held.push(s);
    }
    // A third connects (the kernel's backlog takes it) but is not served...
    let third = tokio::spawn({
        let addr = proxy.public;
        async move {
            let req = Request::get("/healthz-nope")
                .header("host", HOST)
                .body(full(""))
                .unwrap();
            read(send(addr, req).await).await
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!third.is_finished(), "served beyond max_connections");
    // ...until a slot frees.
    drop(held.pop());
    let got = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    proxy.stop().await;
}
