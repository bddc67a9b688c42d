//! Sessions that outlive their request: a WebSocket tunnel or a long
//! response body (server-sent events, a chunked stream, anything over
//! 64 KB: `service.rs` decides) holds the session
//! it was opened under ([`SessionWatch`]: its kid, issue time and expiry)
//! and ends when the session does: its secret deleted, deactivated,
//! expired or reactivated since, or the session's own expiry passed.
//!
//! The secret cache counts its changes (`SecretCache::subscribe`): a
//! watch wakes on each change and on a timer at the session's (or the
//! secret's) expiry, then checks the session as a request would
//! (`session_cookie::open`). A body that never waits checks on each frame,
//! at the cost of an atomic load and a clock read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::watch;

use super::secret_cache::SecretCache;
use super::service::unix_now;
use super::upstream::{BoxError, ProxyBody};

/// Why a session ended under an open connection; the code is the close
/// reason of a WebSocket and the word in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The secret was deleted, deactivated, expired, or reactivated after
    /// the session was opened.
    Revoked,
    /// The session's own expiry passed.
    Expired,
}

impl Ended {
    /// `session_revoked` or `session_expired`, as the refusals of requests.
    pub fn code(self) -> &'static str {
        match self {
            Ended::Revoked => "session_revoked",
            Ended::Expired => "session_expired",
        }
    }
}

/// The session an open connection was authorised by.
#[derive(Debug)]
pub struct SessionWatch {
    cache: Arc<SecretCache>,
    kid: String,
    /// When the session was opened (Unix seconds).
    issued: u64,
    /// The session's expiry (Unix seconds): ended from this second on.
    exp: u64,
    changes: watch::Receiver<u64>,
    /// The next second at which the session may end by time alone: its
    /// expiry, or the second after its secret's expiry (0 until checked).
    deadline: u64,
}

/// Makes the watches of one cache.
#[derive(Debug)]
pub struct Revocations {
    cache: Arc<SecretCache>,
    /// Held for the server's life, so a connection's receiver is never the
    /// last one (whose drop wakes the sender's waiters, on every response).
    changes: watch::Receiver<u64>,
}

impl Revocations {
    /// Watches sessions of the secrets in `cache`.
    pub fn new(cache: &Arc<SecretCache>) -> Self {
        Revocations {
            cache: Arc::clone(cache),
            changes: cache.subscribe(),
        }
    }

    /// Watches the session of `kid` opened at `issued`, expiring at `exp`.
    /// Its first check is a full one: the secret may have changed since
    /// the request was checked (while the upstream answered).
    pub fn watch(&self, kid: String, issued: u64, exp: u64) -> SessionWatch {
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        SessionWatch {
            cache: Arc::clone(&self.cache),
            kid,
            issued,
            exp,
            changes,
            deadline: 0,
        }
    }
}

impl SessionWatch {
    /// The key id of the session (public; for logs).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Checks the session at `now` against the cache, as a request would;
    /// on success notes when time alone may end it.
    fn check(&mut self, now: u64) -> Result<(), Ended> {
        let secret = self.cache.get(&self.kid).ok_or(Ended::Revoked)?;
        let key = secret.key();
        if !key.usable_at(now) || self.issued < secret.sessions_valid_from() {
            return Err(Ended::Revoked);
        }
        if now >= self.exp {
            return Err(Ended::Expired);
        }
        // `usable_at` holds through the secret's expiry second.
        self.deadline = key
            .expires_at()
            .map_or(self.exp, |e| self.exp.min(e.saturating_add(1)));
        Ok(())
    }

    /// Whether the session still holds now: a full check the first time
    /// (and when the cache changed or a deadline came), else an atomic load
    /// and a clock read. Cheap enough for each frame of a body.
    pub fn check_now(&mut self) -> Result<(), Ended> {
        let changed = self.changes.has_changed().unwrap_or(false);
        if changed {
            self.changes.borrow_and_update();
        }
        let now = unix_now();
        if changed || now >= self.deadline {
            self.check(now)?;
        }
        Ok(())
    }

    /// Resolves when the session ends; checks at once, then after each
    /// change of the cache and at each deadline.
    pub async fn ended(mut self) -> Ended {
        loop {
            self.changes.borrow_and_update();
            if let Err(e) = self.check(unix_now()) {
                return e;
            }
            let sleep = tokio::time::sleep_until(instant_of(self.deadline));
            tokio::select! {
                () = sleep => {}
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        // The cache is gone (the server is stopping): only
                        // time can end the session now.
                        tokio::time::sleep_until(instant_of(self.deadline)).await;
                    }
                }
            }
        }
    }
}

/// The monotonic instant of Unix second `t` (now, if it has passed).
fn instant_of(t: u64) -> tokio::time::Instant {
    let at = UNIX_EPOCH + Duration::from_secs(t);
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// A response body that ends in an error (the connection is cut, not the
/// body completed) when its session ends.
pub struct Revocable {
    inner: ProxyBody,
    /// Until the body first waits.
    session: Option<SessionWatch>,
    /// From then on: resolves when the session ends.
    alarm: Option<Pin<Box<dyn Future<Output = Ended> + Send>>>,
}

impl std::fmt::Debug for Revocable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocable").finish_non_exhaustive()
    }
}

impl Revocable {
    /// `inner`, for as long as `session` holds.
    pub fn new(inner: ProxyBody, session: SessionWatch) -> Self {
        Revocable {
            inner,
            session: Some(session),
            alarm: None,
        }
    }

    fn end(&mut self, why: Ended) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        tracing::info!(
            reason = why.code(),
            "response stream cut: its session ended"
        );
        self.session = None;
        self.alarm = None;
        Poll::Ready(Some(Err(why.code().into())))
    }
}

impl Body for Revocable {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(alarm) = &mut this.alarm {
            if let Poll::Ready(why) = alarm.as_mut().poll(cx) {
                return this.end(why);
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(session) = &mut this.session {
                    if let Err(why) = session.check_now() {
                        return this.end(why);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                // The body waits (a stream between events): from now on
                // the session's end wakes it.
                if let Some(session) = this.session.take() {
                    let mut alarm = Box::pin(session.ended());
                    if let Poll::Ready(why) = alarm.as_mut().poll(cx) {
                        return this.end(why);
                    }
                    this.alarm = Some(alarm);
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
