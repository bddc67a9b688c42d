//! WebSocket pass-through: once the session is valid the upgrade request
//! goes upstream like any other; if the backend answers 101 both upgraded
//! connections are joined and bytes copied both ways until either closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Joins the client's and the upstream's upgraded connections.
pub fn splice(client: OnUpgrade, upstream: OnUpgrade) {
    tokio::spawn(async move {
        let (c, u) = tokio::join!(client, upstream);
        match (c, u) {
            (Ok(c), Ok(u)) => {
                let mut c = TokioIo::new(c);
                let mut u = TokioIo::new(u);
                match tokio::io::copy_bidirectional(&mut c, &mut u).await {
                    Ok((up, down)) => tracing::debug!(up, down, "websocket closed"),
                    Err(e) => tracing::debug!(error = %e, "websocket ended"),
                }
            }
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
