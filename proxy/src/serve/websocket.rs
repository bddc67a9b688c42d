//! WebSocket pass-through: once the session is valid the upgrade request
//! goes upstream like any other; if the backend answers 101 both upgraded
//! connections are joined and bytes copied both ways until either closes,
//! or until the session ends (`revocation.rs`).
//!
//! When the session ends the tunnel stops taking bytes from the viewer,
//! closes the upstream connection, and tells the viewer why with a close
//! frame (code 1008, reason `session_revoked` or `session_expired`), then
//! closes the connection. A close frame may only go between frames: the
//! upstream-to-viewer direction follows the frame boundaries of what it
//! copies (RFC 6455 §5.2, headers only; payloads are not looked at), and
//! on the session's end passes the rest of the frame in flight, for at
//! most [`GRACE`], before the close frame. If that frame does not end in
//! time the connection is closed without a close frame, which the viewer
//! sees as an abnormal closure (1006), never as a corrupted frame.

use std::io;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::revocation::{Ended, SessionWatch};

/// How long an ended tunnel may take to pass the rest of the frame in
/// flight and its close frame.
const GRACE: Duration = Duration::from_millis(500);

/// How long the viewer then has to answer the close frame before the
/// socket is dropped (dropping it with the answer unread would make the
/// kernel reset the connection, which can destroy the close frame).
const LINGER: Duration = Duration::from_secs(1);

/// Copy buffer of each direction.
const BUF: usize = 8 * 1024;

/// Close code 1008, policy violation (RFC 6455 §7.4.1).
const POLICY_VIOLATION: u16 = 1008;

/// Joins the client's and the upstream's upgraded connections, for as long
/// as `session` holds.
pub fn splice(client: OnUpgrade, upstream: OnUpgrade, session: SessionWatch) {
    tokio::spawn(async move {
        let (c, u) = tokio::join!(client, upstream);
        match (c, u) {
            (Ok(c), Ok(u)) => tunnel(TokioIo::new(c), TokioIo::new(u), session).await,
            (c, u) => {
                tracing::warn!(
                    client_ok = c.is_ok(),
                    upstream_ok = u.is_ok(),
                    "websocket upgrade did not complete"
                );
            }
        }
    });
}

async fn tunnel<C, U>(client: C, upstream: U, session: SessionWatch)
where
    C: AsyncRead + AsyncWrite + Send,
    U: AsyncRead + AsyncWrite + Send,
{
    let kid = session.kid().to_owned();
    let (client_read, client_write) = tokio::io::split(client);
    let (upstream_read, upstream_write) = tokio::io::split(upstream);
    let mut up = Pump::new(client_read, upstream_write, None);
    let mut down = Pump::new(upstream_read, client_write, Some(Frames::default()));
    let ended = session.ended();
    tokio::pin!(ended);
    let (mut up_open, mut down_open) = (true, true);
    let why = loop {
        if !up_open && !down_open {
            tracing::debug!("websocket closed");
            return;
        }
        tokio::select! {
            why = &mut ended => break why,
            r = up.step(), if up_open => match r {
                Ok(true) => {}
                Ok(false) => {
                    up_open = false;
                    let _ = up.to.shutdown().await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "websocket ended");
                    return;
                }
            },
            r = down.step(), if down_open => match r {
                Ok(true) => {}
                Ok(false) => {
                    down_open = false;
                    let _ = down.to.shutdown().await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "websocket ended");
                    return;
                }
            },
        }
    };
    tracing::info!(kid = %kid, reason = why.code(), "websocket closed: its session ended");
    // Nothing more goes upstream; the upstream connection closes once its
    // read half is dropped below too.
    let Pump {
        from: client_read,
        to: upstream_write,
        ..
    } = up;
    drop(upstream_write);
    let at_boundary = down_open
        && matches!(
            tokio::time::timeout(GRACE, down.finish_frame()).await,
            Ok(Ok(true))
        );
    let Pump {
        from: upstream_read,
        to: mut client_write,
        ..
    } = down;
    drop(upstream_read);
    if !at_boundary {
        // Inside a frame (or the viewer's side already shut): no close
        // frame can be sent; dropping both halves closes the connection.
        tracing::debug!("websocket closed inside a frame: no close frame sent");
        return;
    }
    let closing = async {
        client_write.write_all(&close_frame(why)).await?;
        client_write.flush().await?;
        client_write.shutdown().await
    };
    if let Ok(Ok(())) = tokio::time::timeout(GRACE, closing).await {
        let _ = tokio::time::timeout(LINGER, drain(client_read)).await;
    }
}

/// Reads and discards until the end of the stream or an error.
async fn drain<R: AsyncRead + Unpin>(mut r: R) {
    let mut sink = [0u8; 512];
    while let Ok(n) = r.read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}

/// A server's close frame (unmasked, RFC 6455 §5.5.1): 1008 and the reason.
fn close_frame(why: Ended) -> Vec<u8> {
    let reason = why.code().as_bytes();
    // Reasons are short words: the 7-bit length always fits.
    let len = u8::try_from(2 + reason.len()).unwrap_or(2);
    let mut f = Vec::with_capacity(4 + reason.len());
    f.extend_from_slice(&[0x88, len]);
    f.extend_from_slice(&POLICY_VIOLATION.to_be_bytes());
    f.extend_from_slice(&reason[..usize::from(len) - 2]);
    f
}

/// One direction of the tunnel. Each [`Pump::step`] is a single read, a
/// single write or a flush, so a step dropped when the session ends loses
/// nothing: bytes count as passed (and as seen by `frames`) once written.
struct Pump<R, W> {
    from: R,
    to: W,
    buf: Box<[u8]>,
    /// `buf[start..end]` is read and not yet written.
    start: usize,
    end: usize,
    flushed: bool,
    /// The frame boundaries of what passed (the upstream-to-viewer side).
    frames: Option<Frames>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Pump<R, W> {
    fn new(from: R, to: W, frames: Option<Frames>) -> Self {
        Pump {
            from,
            to,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            flushed: true,
            frames,
        }
    }

    /// Writes what is pending, else flushes, else reads; `Ok(false)` at
    /// the end of `from` once everything was passed on.
    async fn step(&mut self) -> io::Result<bool> {
        self.step_bounded(BUF).await
    }

    /// As [`Pump::step`], reading at most `limit` bytes.
    async fn step_bounded(&mut self, limit: usize) -> io::Result<bool> {
        if self.start < self.end {
            let n = self.to.write(&self.buf[self.start..self.end]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            if let Some(frames) = &mut self.frames {
                frames.advance(&self.buf[self.start..self.start + n], false);
            }
            self.start += n;
            self.flushed = false;
            return Ok(true);
        }
        if !self.flushed {
            self.to.flush().await?;
            self.flushed = true;
            return Ok(true);
        }
        let limit = limit.min(self.buf.len());
        let n = self.from.read(&mut self.buf[..limit]).await?;
        if n == 0 {
            return Ok(false);
        }
        (self.start, self.end) = (0, n);
        Ok(true)
    }

    /// Passes the rest of the frame in flight and nothing after it;
    /// `Ok(true)` once at a frame boundary with everything flushed.
    async fn finish_frame(&mut self) -> io::Result<bool> {
        let Some(frames) = &self.frames else {
            return Ok(false);
        };
        // What was read beyond the frame's end is not passed on.
        let mut ahead = frames.clone();
        let keep = ahead.advance(&self.buf[self.start..self.end], true);
        self.end = self.start + keep;
        loop {
            let Some(frames) = &self.frames else {
                return Ok(false);
            };
            let left = frames.left_in_part();
            if self.start == self.end && self.flushed && left == 0 {
                return Ok(true);
            }
            if !self.step_bounded(left.max(1)).await? {
                return Ok(false);
            }
        }
    }
}

/// Where a byte stream of WebSocket frames stands (RFC 6455 §5.2): inside
/// a frame's header (`have` bytes of it seen), inside its payload
/// (`payload_left` bytes to go), or between frames.
#[derive(Clone, Debug, Default)]
struct Frames {
    /// The header of the current frame: at most 2 + 8 + 4 bytes.
    head: [u8; 14],
    have: usize,
    payload_left: u64,
}

impl Frames {
    fn at_boundary(&self) -> bool {
        self.have == 0 && self.payload_left == 0
    }

    /// The header's length, once its first two bytes are in.
    fn head_len(&self) -> usize {
        let extended = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        2 + extended + mask
    }

    fn payload_len(&self) -> u64 {
        match self.head[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.head[2..10]);
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        }
    }

    /// Bytes to the end of the current header or payload (0 between
    /// frames): reading no more than this never crosses a frame's end.
    fn left_in_part(&self) -> usize {
        if self.payload_left > 0 {
            usize::try_from(self.payload_left).unwrap_or(usize::MAX)
        } else if self.have == 0 {
            0
        } else if self.have < 2 {
            2 - self.have
        } else {
            self.head_len() - self.have
        }
    }

    /// Follows `bytes`; with `stop_at_end`, stops where a frame ends (at
    /// once if between frames). Returns how many bytes it took.
    fn advance(&mut self, bytes: &[u8], stop_at_end: bool) -> usize {
        let mut i = 0;
        loop {
            if (stop_at_end && self.at_boundary()) || i == bytes.len() {
                return i;
            }
            if self.payload_left > 0 {
                let rest = bytes.len() - i;
                let take = usize::try_from(self.payload_left).map_or(rest, |p| p.min(rest));
                i += take;
                self.payload_left -= take as u64;
                continue;
            }
            self.head[self.have] = bytes[i];
            self.have += 1;
            i += 1;
            if self.have >= 2 && self.have == self.head_len() {
                self.payload_left = self.payload_len();
                self.have = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame: FIN, `opcode`, unmasked, with `payload`.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n if n <= 0xffff => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn boundaries_are_found_whatever_the_chunks() {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for (op, len) in [(1, 5), (2, 300), (9, 0), (2, 70_000), (1, 125), (1, 126)] {
            stream.extend(frame(op, &vec![b'x'; len]));
            ends.push(stream.len());
        }
        // A masked client frame too.
        stream.extend_from_slice(&[0x81, 0x83, 1, 2, 3, 4, b'a', b'b', b'c']);
        ends.push(stream.len());
        for chunk in [1, 2, 3, 7, 100, 4096, stream.len()] {
            let mut f = Frames::default();
            let mut seen = Vec::new();
            let mut pos = 0;
            while pos < stream.len() {
                // Stop at each frame's end, as the tunnel does on revocation.
                let end = (pos + chunk).min(stream.len());
                let took = f.advance(&stream[pos..end], false);
                assert_eq!(took, end - pos);
                pos = end;
                if f.at_boundary() {
                    seen.push(pos);
                }
            }
            assert!(f.at_boundary());
            // Every boundary reached at a chunk's end is a frame's end.
            assert!(seen.iter().all(|p| ends.contains(p)), "{chunk}: {seen:?}");
            // And advancing with stop_at_end lands on each end in turn.
            let mut f = Frames::default();
            let mut pos = 0;
            for &e in &ends {
                let took = f.advance(&stream[pos..], true);
                // At a boundary already: nothing taken; step one byte in.
                let took = if took == 0 {
                    f.advance(&stream[pos..pos + 1], false) + f.advance(&stream[pos + 1..], true)
                } else {
                    took
                };
                pos += took;
                assert_eq!(pos, e);
                assert!(f.at_boundary());
            }
        }
    }

    #[test]
    fn left_in_part_never_crosses_a_frame() {
        let stream = [frame(2, &[7u8; 1000]), frame(1, b"hi")].concat();
        let mut f = Frames::default();
        f.advance(&stream[..1], false);
        assert_eq!(f.left_in_part(), 1);
        f.advance(&stream[1..3], false);
        assert_eq!(f.left_in_part(), 1);
        f.advance(&stream[3..4], false);
        assert_eq!(f.left_in_part(), 1000);
        f.advance(&stream[4..1004], false);
        assert!(f.at_boundary());
        assert_eq!(f.left_in_part(), 0);
    }

    #[test]
    fn the_close_frame_says_1008_and_why() {
        let f = close_frame(Ended::Revoked);
        assert_eq!(&f[..4], &[0x88, 17, 0x03, 0xf0]);
        assert_eq!(&f[4..], b"session_revoked");
        let f = close_frame(Ended::Expired);
        assert_eq!(f[1] as usize, f.len() - 2);
        assert_eq!(&f[4..], b"session_expired");
    }
}
