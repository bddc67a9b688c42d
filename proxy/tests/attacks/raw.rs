//! The attack suite's two raw ends: a content backend that records each
//! request head byte for byte as the proxy sent it, and a client that
//! writes whatever bytes a test wants on a fresh TCP connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One request as the backend received it.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// The request line and headers, exactly as received (CRLFs included).
    pub head: Vec<u8>,
    /// `GET /d/x HTTP/1.1`.
    pub request_line: String,
    /// Every header line, name as sent, value as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RawRequest {
    /// The target of the request line (`/d/x?a=1`).
    pub fn target(&self) -> &str {
        self.request_line.split(' ').nth(1).unwrap_or_default()
    }

    /// Values of the headers a CGI or WSGI server would read as `name`:
    /// names compared in lower case with `_` read as `-`.
    pub fn cgi_values(&self, name: &str) -> Vec<String> {
        let want = cgi_name(name);
        self.headers
            .iter()
            .filter(|(n, _)| cgi_name(n) == want)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The head as text (lossy), for messages and searches.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }
}

/// A header name as CGI sees it: lower case, `_` and `-` alike.
pub fn cgi_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// A backend speaking HTTP/1.1 by hand over loopback.
#[derive(Clone)]
pub struct RawBackend {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<RawRequest>>>,
    /// Lets the rest of a `…/ws-slowframe` frame go, or the answer to a
    /// `…/sse-late`.
    pub release: Arc<Notify>,
}

impl RawBackend {
    pub async fn start() -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = RawBackend {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            release: Arc::new(Notify::new()),
        };
        let backend = b.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let backend = backend.clone();
                tokio::spawn(async move { backend.serve(stream).await });
            }
        });
        b
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> RawRequest {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the backend saw a request")
    }

    async fn serve(&self, mut s: TcpStream) {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(end) = read_head(&mut s, &mut buf).await else {
                return;
            };
            let head: Vec<u8> = buf.drain(..end).collect();
            let req = parse_head(&head);
            self.requests.lock().unwrap().push(req.clone());
            if !skip_body(&mut s, &mut buf, &req).await {
                return;
            }
            let path = req
                .target()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let upgrade = req
                .cgi_values("upgrade")
                .iter()
                .any(|v| v.eq_ignore_ascii_case("websocket"));
            if upgrade {
                websocket(s, std::mem::take(&mut buf), &req, &path, &self.release).await;
                return;
            }
            if path.ends_with("/sse") {
                sse(s).await;
                return;
            }
            if path.ends_with("/sse-late") {
                // The answer only once the test says so.
                self.release.notified().await;
                sse(s).await;
                return;
            }
            let extra = if path.ends_with("/cache") {
                "cache-control: public, max-age=3600\r\nset-cookie: backend=1; Path=/\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n{extra}\r\nok"
            );
            if s.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// Reads until a full head is in `buf`; returns its length.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf.len() > 4 << 20 {
            return None;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_head(head: &[u8]) -> RawRequest {
    let text = &head[..head.len() - 4];
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let headers = lines
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).into_owned();
            Some((name, l[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    RawRequest {
        head: head.to_vec(),
        request_line,
        headers,
    }
}

/// Reads past the request body (the proxy frames it with `Content-Length`
/// or chunked); false if the connection broke.
async fn skip_body(s: &mut TcpStream, buf: &mut Vec<u8>, req: &RawRequest) -> bool {
    let mut chunk = [0u8; 8192];
    let chunked = req
        .cgi_values("transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // Until the last chunk and the empty trailer line.
        loop {
            if let Some(i) = buf.windows(5).position(|w| w == b"0\r\n\r\n") {
                buf.drain(..i + 5);
                return true;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
    let len: usize = req
        .cgi_values("content-length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..len);
    true
}

/// Server-sent events: a tick every 100 ms, chunked, until the reader goes.
async fn sse(mut s: TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for i in 0u64.. {
        let event = format!("data: tick {i}\n\n");
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        if s.write_all(chunk.as_bytes()).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The size of the frame `…/ws-slowframe` sends in two parts.
pub const SLOW_FRAME_LEN: usize = 65_536;

async fn websocket(
    mut s: TcpStream,
    leftover: Vec<u8>,
    req: &RawRequest,
    path: &str,
    release: &Notify,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let key = req
        .cgi_values("sec-websocket-key")
        .into_iter()
        .next()
        .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if s.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    if path.ends_with("/ws-slowframe") {
        // A binary frame whose head and first kilobyte go now, the rest
        // only when the test says so: a proxy that cut in with its own
        // frame now would corrupt the stream.
        let mut frame = vec![0x82, 127];
        frame.extend_from_slice(&(SLOW_FRAME_LEN as u64).to_be_bytes());
        frame.extend_from_slice(&[b'a'; 1024]);
        if s.write_all(&frame).await.is_err() {
            return;
        }
        release.notified().await;
        let _ = s.write_all(&vec![b'b'; SLOW_FRAME_LEN - 1024]).await;
        // Then hold the connection open until the other side closes it.
        let mut sink = [0u8; 1024];
        while let Ok(n) = s.read(&mut sink).await {
            if n == 0 {
                return;
            }
        }
        return;
    }
    let mut ws =
        tokio_tungstenite::WebSocketStream::from_partially_read(s, leftover, Role::Server, None)
            .await;
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_text() || msg.is_binary() {
            if ws.send(msg).await.is_err() {
                return;
            }
        } else if msg.is_close() {
            return;
        }
    }
}

// ---------------------------------------------------------------- client

/// What came back on a raw connection.
#[derive(Debug)]
pub struct RawResponses {
    /// Everything read until the proxy closed or went quiet.
    pub bytes: Vec<u8>,
}

impl RawResponses {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status codes of the responses, in order.
    pub fn statuses(&self) -> Vec<u16> {
        let text = self.text();
        text.match_indices("HTTP/1.1 ")
            .filter_map(|(i, _)| text[i + 9..].get(..3)?.parse().ok())
            .collect()
    }
}

/// Writes `request` on a fresh connection, then reads until the proxy
/// closes it or nothing comes for `quiet`.
pub async fn exchange(addr: SocketAddr, request: &[u8], quiet: Duration) -> RawResponses {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The proxy may answer and close before all of it is written.
    let _ = s.write_all(request).await;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    RawResponses { bytes }
}
