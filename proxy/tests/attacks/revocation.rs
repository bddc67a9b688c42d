//! Revocation and expiry reach open connections: a WebSocket tunnel or a
//! long response stream lives no longer than its session. Deleting or
//! deactivating the secret from another process (the real CLI) closes
//! the WebSocket within a second with close code 1008 and the reason
//! `session_revoked`; the session's own expiry closes it with
//! `session_expired`; a stream in progress is cut; a keep-alive
//! connection carries no authority of its own.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use http_body_util::BodyExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::raw::SLOW_FRAME_LEN;
use crate::support::*;
use crate::{Lab, Setup};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_ws(addr: std::net::SocketAddr, path: &str, cookie: &str) -> Ws {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut().insert("host", HOST.parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

/// How a WebSocket ended, and when.
#[derive(Debug)]
enum End {
    /// A close frame: code, reason.
    Closed(CloseCode, String),
    /// The connection ended without one.
    Dropped,
}

/// Reads (answering nothing) until the socket ends; returns every data
/// message seen, how it ended and when.
async fn read_to_end(
    mut ws: Ws,
    limit: Duration,
) -> (Vec<Message>, Option<(End, Instant, SystemTime)>) {
    let mut data = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return (data, None),
            Ok(Some(Ok(Message::Close(frame)))) => {
                let (code, reason) = frame
                    .map(|f| (f.code, f.reason.to_string()))
                    .unwrap_or((CloseCode::Status, String::new()));
                return (
                    data,
                    Some((End::Closed(code, reason), Instant::now(), SystemTime::now())),
                );
            }
            Ok(Some(Ok(m))) => data.push(m),
            Ok(Some(Err(_)) | None) => {
                return (
                    data,
                    Some((End::Dropped, Instant::now(), SystemTime::now())),
                )
            }
        }
    }
}

/// Runs the real `embedgate` binary against the lab's store, in another
/// process; returns when it exited.
async fn cli(lab: &Lab, args: &[&str]) -> Instant {
    let url = lab.store.url.clone();
    let key = lab.store.master_key_b64();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
            .args(&args)
            .env("EMBEDGATE_STORE", url)
            .env("USER", "attack-test")
            .env("EMBEDGATE_MASTER_KEY", key)
            .output()
            .unwrap();
        let done = Instant::now();
        assert!(
            out.status.success(),
            "embedgate {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        done
    })
    .await
    .unwrap()
}

fn assert_policy_close(end: &End, reason: &str) {
    match end {
        End::Closed(code, r) => {
            assert_eq!(*code, CloseCode::Policy, "close code 1008 expected");
            assert_eq!(r, reason);
        }
        End::Dropped => panic!("closed without a close frame"),
    }
}

#[tokio::test]
async fn deleting_or_deactivating_the_secret_closes_an_open_websocket_within_a_second() {
    for action in [
        &["secrets", "delete", "main", "--yes"][..],
        &["secrets", "deactivate", "main"],
    ] {
        let lab = Lab::start(Setup::default()).await;
        let cookie = lab.session("/d/x", "viewer", &[]).await;
        let mut ws = open_ws(lab.proxy.public, "/d/live/ws", &cookie).await;
        ws.send(Message::text("before")).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), "before");
        let reader = tokio::spawn(read_to_end(ws, Duration::from_secs(10)));

        let done = cli(&lab, action).await;
        let (data, end) = reader.await.unwrap();
        let (end, at, _) = end.expect("the WebSocket outlived its revoked secret");
        assert!(data.is_empty(), "{data:?}");
        assert_policy_close(&end, "session_revoked");
        let took = at.saturating_duration_since(done);
        assert!(
            took < Duration::from_secs(1),
            "{action:?}: closed {took:?} after the CLI returned"
        );
        eprintln!("{action:?}: the WebSocket closed {took:?} after the CLI returned");
        lab.proxy.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closes_at_its_session_expiry() {
    let lab = Lab::start(Setup::default()).await;
    let t = now();
    let url = sign_session(
        &lab.kid,
        &lab.secret,
        "/d/x",
        "viewer",
        &[],
        t + 300,
        &nonce(),
        Some(2),
    );
    let got = get(lab.proxy.public, &url, &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    let cookie = got.cookie().unwrap();
    // The session's expiry, as the proxy computed it (opened at `t` or a
    // second later).
    let mut ws = open_ws(lab.proxy.public, "/d/live/ws", &cookie).await;
    ws.send(Message::text("hi")).await.unwrap();
    assert!(ws.next().await.unwrap().unwrap().is_text());
    let (_, end) = read_to_end(ws, Duration::from_secs(6)).await;
    let (end, _, at) = end.expect("the WebSocket outlived its session");
    assert_policy_close(&end, "session_expired");
    let at = at.duration_since(UNIX_EPOCH).unwrap();
    // Not before the earliest expiry, and within a second of the latest.
    assert!(
        at >= Duration::from_secs(t + 2),
        "closed early: {at:?} vs {}",
        t + 2
    );
    assert!(
        at < Duration::from_secs(t + 1 + 2 + 1),
        "closed late: {at:?} vs {}",
        t + 3
    );
    lab.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_changes_do_not_close_a_websocket() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let mut ws = open_ws(lab.proxy.public, "/d/live/ws", &cookie).await;
    // Other secrets come and go; this one stays.
    let (other, _) = lab.store.create_secret("other", &[]);
    lab.proxy.reload.reload().await.unwrap();
    lab.store
        .store
        .delete_embed_secret(
            &embedgate_store::Lookup::client_id(other),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..3 {
        ws.send(Message::text(format!("still {i}"))).await.unwrap();
        let back = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), format!("still {i}"));
    }
    ws.close(None).await.unwrap();
    lab.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_close_frame_waits_for_the_frame_in_flight() {
    // The backend has sent the head and 1 KB of a 64 KB frame when the
    // secret is deleted; the rest follows right after. The viewer must get
    // the whole frame, then the close frame: never a close frame inside
    // the frame's payload.
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let ws = open_ws(lab.proxy.public, "/d/live/ws-slowframe", &cookie).await;
    let reader = tokio::spawn(read_to_end(ws, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    lab.store
        .store
        .delete_embed_secret(
            &embedgate_store::Lookup::client_id(lab.kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    lab.backend.release.notify_one();
    let (data, end) = reader.await.unwrap();
    let (end, _, _) = end.expect("the WebSocket outlived its revoked secret");
    assert_eq!(data.len(), 1, "{} messages", data.len());
    match &data[0] {
        Message::Binary(b) => {
            assert_eq!(b.len(), SLOW_FRAME_LEN);
            assert!(b[..1024].iter().all(|&x| x == b'a') && b[1024..].iter().all(|&x| x == b'b'));
        }
        other => panic!("{other:?}"),
    }
    assert_policy_close(&end, "session_revoked");
    lab.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_never_ends_is_cut_without_a_close_frame() {
    // As above, but the rest of the frame never comes: the proxy may not
    // wait for it for ever, and a close frame now would land inside the
    // payload. It closes the connection instead, within a second.
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let ws = open_ws(lab.proxy.public, "/d/live/ws-slowframe", &cookie).await;
    let reader = tokio::spawn(read_to_end(ws, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    lab.store
        .store
        .delete_embed_secret(
            &embedgate_store::Lookup::client_id(lab.kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    let revoked = Instant::now();
    let (data, end) = reader.await.unwrap();
    let (end, at, _) = end.expect("the WebSocket outlived its revoked secret");
    assert!(data.is_empty(), "{data:?}");
    assert!(matches!(end, End::Dropped), "{end:?}");
    assert!(
        at.duration_since(revoked) < Duration::from_secs(1),
        "{:?}",
        at.duration_since(revoked)
    );
    lab.backend.release.notify_one();
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_long_response_stream_is_cut_when_its_secret_is_deleted() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let req = http::Request::get("/d/live/sse")
        .header("host", HOST)
        .header("cookie", &cookie)
        .body(full(""))
        .unwrap();
    let resp = send(lab.proxy.public, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    // Events flow.
    for _ in 0..2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(frame
            .data_ref()
            .is_some_and(|d| d.starts_with(b"data: tick")));
    }
    let done = cli(&lab, &["secrets", "delete", "main", "--yes"]).await;
    // Then the stream ends (an error: it was cut, not completed).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let ended = loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => panic!("the stream outlived its revoked secret"),
            Ok(None) => panic!("the stream ended as if complete"),
            Ok(Some(Err(_))) => break Instant::now(),
            Ok(Some(Ok(_))) => {}
        }
    };
    let took = ended.saturating_duration_since(done);
    assert!(
        took < Duration::from_secs(1),
        "cut {took:?} after the CLI returned"
    );
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_stream_whose_secret_went_while_the_backend_answered_is_refused() {
    // The session was checked when the request came in; the secret is
    // deleted before the backend's answer starts: the stream must not run
    // on the strength of that earlier check (a WebSocket's 101 neither).
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let req = http::Request::get("/d/live/sse-late")
        .header("host", HOST)
        .header("cookie", &cookie)
        .body(full(""))
        .unwrap();
    let addr = lab.proxy.public;
    let pending = tokio::spawn(async move { send(addr, req).await });
    let arrived = within(Duration::from_secs(5), || async {
        lab.backend
            .requests()
            .iter()
            .any(|r| r.target() == "/d/live/sse-late")
    })
    .await;
    assert!(arrived.is_some());
    lab.store
        .store
        .delete_embed_secret(
            &embedgate_store::Lookup::client_id(lab.kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    lab.backend.release.notify_one();
    // Refused as any request of the session now is; nothing of the stream
    // passes.
    let got = read(pending.await.unwrap()).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(got.reason().as_deref(), Some("session_revoked"));
    assert!(!got.body.windows(4).any(|w| w == b"tick"));
    lab.proxy.stop().await;
}

#[tokio::test]
async fn a_keep_alive_connection_carries_no_authority() {
    let lab = Lab::start(Setup::default()).await;
    let cookie = lab.session("/d/x", "viewer", &[]).await;
    let stream = tokio::net::TcpStream::connect(lab.proxy.public)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut one = |with_cookie: bool| {
        let mut b = http::Request::get("/d/y").header("host", HOST);
        if with_cookie {
            b = b.header("cookie", &cookie);
        }
        let req = b.body(full("")).unwrap();
        let fut = sender.send_request(req);
        async move { read(fut.await.unwrap()).await }
    };
    assert_eq!(one(true).await.status, StatusCode::OK);
    // The same connection, without the cookie: no session.
    assert_eq!(one(false).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(one(true).await.status, StatusCode::OK);
    lab.store
        .store
        .deactivate_embed_secret(
            &embedgate_store::Lookup::client_id(lab.kid.clone()),
            "test",
            now() as i64,
        )
        .unwrap();
    lab.proxy.reload.reload().await.unwrap();
    let got = one(true).await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(got.reason().as_deref(), Some("session_revoked"));
    lab.proxy.stop().await;
}
