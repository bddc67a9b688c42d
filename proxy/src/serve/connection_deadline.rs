//! The deadlines of one client connection (`[limits]`): a request head
//! must arrive within `header_read_timeout` of its first byte (and a new
//! connection must send one within it), and a connection with no request
//! in flight is closed after `keepalive_idle_timeout`.
//!
//! hyper's own `header_read_timeout` cannot express both: its timer starts
//! when the connection turns idle, so an idle keep-alive connection would
//! be closed after the header timeout, and it does nothing for HTTP/2. So
//! the connection's reads are watched ([`WatchedIo`]), each request holds
//! a guard until its response body is done ([`GuardedBody`]), and one task
//! per connection waits for the deadline ([`Deadline::passed`]). The hot
//! path pays one relaxed atomic load per read.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

const NONE: u64 = u64::MAX;

/// The deadlines of one connection, shared by its reads, its requests and
/// the task that enforces them.
#[derive(Clone, Debug)]
pub struct Deadline(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    start: Instant,
    header_read: Duration,
    keepalive_idle: Duration,
    in_flight: AtomicUsize,
    /// When (ms after `start`) the head of the next request began to
    /// arrive; `NONE` while no head is being read.
    head_since: AtomicU64,
    /// When (ms after `start`) the last request finished.
    idle_since: AtomicU64,
    /// Whether a request has finished: idle time is then keep-alive.
    served: AtomicBool,
    /// HTTP/2: reads while idle are control frames, not a request head.
    h2: AtomicBool,
    request_done: Notify,
}

impl Deadline {
    /// A new connection's deadlines, starting now.
    pub fn new(header_read: Duration, keepalive_idle: Duration) -> Deadline {
        Deadline(Arc::new(Shared {
            start: Instant::now(),
            header_read,
            keepalive_idle,
            in_flight: AtomicUsize::new(0),
            head_since: AtomicU64::new(NONE),
            idle_since: AtomicU64::new(0),
            served: AtomicBool::new(false),
            h2: AtomicBool::new(false),
            request_done: Notify::new(),
        }))
    }

    /// Wraps the connection's stream so its reads are seen.
    pub fn watch<T>(&self, io: T) -> WatchedIo<T> {
        WatchedIo {
            inner: io,
            deadline: Arc::clone(&self.0),
            first_read: true,
        }
    }

    /// A request's head arrived; the guard ends it (put it in the response
    /// body with [`GuardedBody`]).
    pub fn request_started(&self) -> RequestGuard {
        self.0.in_flight.fetch_add(1, Relaxed);
        self.0.head_since.store(NONE, Relaxed);
        RequestGuard(Arc::clone(&self.0))
    }

    /// Whether the connection speaks HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.0.h2.load(Relaxed)
    }

    /// Resolves once the connection has overstayed: no request in flight,
    /// and the head or idle deadline passed.
    pub async fn passed(&self) {
        let s = &self.0;
        loop {
            if s.in_flight.load(Relaxed) > 0 {
                // A request finishing wakes us (a permit is kept if it
                // finished before we wait).
                s.request_done.notified().await;
                continue;
            }
            let now = s.elapsed_ms();
            let due = s.due_ms();
            if now >= due {
                return;
            }
            // Never longer than the header timeout: a head may start
            // arriving meanwhile and bring the deadline forward.
            let wait = Duration::from_millis(due - now).min(s.header_read);
            tokio::time::sleep(wait).await;
        }
    }
}

impl Shared {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// The deadline while no request is in flight, in ms after `start`.
    fn due_ms(&self) -> u64 {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE - 1);
        let head = self.head_since.load(Relaxed);
        if head != NONE && !self.h2.load(Relaxed) {
            return head.saturating_add(ms(self.header_read));
        }
        let idle = self.idle_since.load(Relaxed);
        let allowed = if self.served.load(Relaxed) {
            self.keepalive_idle
        } else {
            self.header_read
        };
        idle.saturating_add(ms(allowed))
    }
}

/// Held while a request is in flight.
#[derive(Debug)]
pub struct RequestGuard(Arc<Shared>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let s = &self.0;
        s.idle_since.store(s.elapsed_ms(), Relaxed);
        s.served.store(true, Relaxed);
        s.in_flight.fetch_sub(1, Relaxed);
        s.request_done.notify_one();
    }
}

/// A response body that ends its request when it is done (or dropped).
#[derive(Debug)]
pub struct GuardedBody<B> {
    inner: B,
    _guard: RequestGuard,
}

impl<B> GuardedBody<B> {
    /// `inner`, ending `guard`'s request when dropped.
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        GuardedBody {
            inner,
            _guard: guard,
        }
    }
}

impl<B: Body + Unpin> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection stream whose reads start the head deadline.
#[derive(Debug)]
pub struct WatchedIo<T> {
    inner: T,
    deadline: Arc<Shared>,
    first_read: bool,
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            if self.first_read {
                self.first_read = false;
                // The HTTP/2 preface ("PRI * HTTP/2.0"); no HTTP/1 method
                // starts so.
                if buf.filled()[before..].starts_with(b"PRI") {
                    self.deadline.h2.store(true, Relaxed);
                }
            }
            let s = &self.deadline;
            if s.in_flight.load(Relaxed) == 0 && s.head_since.load(Relaxed) == NONE {
                s.head_since.store(s.elapsed_ms(), Relaxed);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
