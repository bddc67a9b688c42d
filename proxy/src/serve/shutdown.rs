//! Graceful shutdown: the signal (SIGTERM or Ctrl-C), and the drain that
//! lets in-flight requests finish before the process exits.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: draining"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Tells connections to finish, and waits until they have.
///
/// Each connection task holds a [`DrainGuard`]; [`Drain::drain`] announces
/// shutdown, then waits until every guard is dropped (or the timeout).
#[derive(Debug)]
pub struct Drain {
    announce: watch::Sender<bool>,
    done_tx: mpsc::Sender<()>,
    done_rx: mpsc::Receiver<()>,
}

/// Held by a connection task while it runs.
#[derive(Clone, Debug)]
pub struct DrainGuard {
    /// Flips to `true` when shutdown starts.
    pub shutting_down: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain with no connections yet.
    pub fn new() -> Self {
        let (announce, _) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        Drain {
            announce,
            done_tx,
            done_rx,
        }
    }

    /// A guard for one more connection.
    pub fn guard(&self) -> DrainGuard {
        DrainGuard {
            shutting_down: self.announce.subscribe(),
            _alive: self.done_tx.clone(),
        }
    }

    /// Announces shutdown and waits for every guard; `false` on timeout.
    pub async fn drain(self, timeout: Duration) -> bool {
        let Drain {
            announce,
            done_tx,
            mut done_rx,
        } = self;
        let _ = announce.send(true);
        drop(done_tx);
        tokio::time::timeout(timeout, done_rx.recv()).await.is_ok()
    }
}
