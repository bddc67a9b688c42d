//! Slow clients: a request head dribbled in a byte at a time (slowloris)
//! must not hold a connection past `[limits] header_read_timeout`, and
//! must not keep other viewers out meanwhile.

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;
use crate::{Lab, Setup};

/// Sends a head one byte every 200 ms, never finishing it; returns how
/// long after the first byte the proxy closed the connection (`None`: still
/// open after `limit`).
async fn slowloris(addr: std::net::SocketAddr, limit: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /d/slow HTTP/1.1\r\nHost: {HOST}\r\nX-Padding: ");
    let started = Instant::now();
    let mut bytes = head.bytes().chain(std::iter::repeat(b'a'));
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        let b = bytes.next().unwrap_or(b'a');
        if s.write_all(&[b]).await.is_err() {
            return Some(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            // Closed (possibly after a 408).
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    None
}

#[tokio::test]
async fn slowloris_connections_are_closed_at_the_header_timeout() {
    let lab = Lab::start(Setup {
        tail: "[limits]\nheader_read_timeout = \"2s\"\nkeepalive_idle_timeout = \"30s\"\n",
        ..Setup::default()
    })
    .await;
    let addr = lab.proxy.public;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let attackers: Vec<_> = (0..50)
        .map(|_| tokio::spawn(slowloris(addr, Duration::from_secs(10))))
        .collect();
    // Meanwhile a viewer is served as usual.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = get(addr, "/d/y", &[("cookie", &cookie)]).await;
    assert_eq!(got.status, StatusCode::OK);
    for a in attackers {
        let closed = a.await.unwrap();
        let closed = closed.expect("a slowloris connection outlived the header timeout");
        // 2 s, plus slack for a loaded machine; never long before it.
        assert!(
            closed >= Duration::from_millis(1800) && closed < Duration::from_millis(4500),
            "{closed:?}"
        );
    }
    assert!(
        lab.backend
            .requests()
            .iter()
            .all(|r| r.target() != "/d/slow"),
        "an unfinished head reached the backend"
    );
    lab.proxy.stop().await;
}
