//! The automatic purge of expired secrets (issue 3: "an expired secret is
//! purged automatically 30 days after it expired").
//!
//! Every `store.purge_interval` the proxy asks the store to delete what
//! expired at least `store.purge_expired_after` ago. The store logs each
//! deletion in the change log; the cache learns of it like of any other
//! change. In a fleet every proxy runs it: the store's transactions make a
//! second, concurrent purge find nothing left to do.

use std::time::Duration;

use embedgate_store::Store;
use tokio::sync::watch;

/// Who the change log names for purges made by the proxy.
const ACTOR: &str = "embedgate serve (automatic purge)";

/// Purges at start and then every `every`, until `stop` changes.
pub async fn run(store: Store, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let s = store.clone();
        let now = i64::try_from(super::service::unix_now()).unwrap_or(i64::MAX);
        match tokio::task::spawn_blocking(move || s.purge_expired(ACTOR, now)).await {
            Ok(Ok(purged)) if purged.is_empty() => {}
            Ok(Ok(purged)) => {
                for p in &purged {
                    tracing::info!(id = %p.id, name = %p.name, "purged an expired secret");
                }
            }
            // The store may be briefly unreachable (fleet mode); try next time.
            Ok(Err(e)) => tracing::warn!(code = e.code(), "automatic purge failed; retrying later"),
            Err(e) => tracing::error!(error = %e, "automatic purge task failed"),
        }
    }
}
