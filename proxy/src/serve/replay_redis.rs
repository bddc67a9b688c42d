//! The replay cache in Redis, shared by a fleet of proxies: a nonce is
//! claimed with `SET <prefix><kid>:<nonce> 1 NX EX <ttl>`, where the expiry
//! is `eg_exp + skew - now` (after which the URL fails as `expired`
//! anyway). The first proxy to set the key wins; every other one sees the
//! URL as replayed.
//!
//! Every command has a short timeout. Redis being down is reported as
//! [`Claim::Unavailable`]; the caller applies `[replay] on_unavailable`.
//! The connection (a `ConnectionManager`, which reconnects by itself) is
//! made lazily, in the background, so a proxy starts and serves sessions
//! even while Redis is away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::replay_cache::Claim;

/// Nonces claimed in Redis.
pub struct RedisReplay {
    client: redis::Client,
    manager: Arc<RwLock<Option<ConnectionManager>>>,
    connecting: Arc<AtomicBool>,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplay")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplay {
    /// A replay cache at `url` (not connected yet: see [`Self::connect`]).
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("config key `replay.url`: {e}"))?;
        Ok(RedisReplay {
            client,
            manager: Arc::new(RwLock::new(None)),
            connecting: Arc::new(AtomicBool::new(false)),
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    /// Tries to connect now (at start); failure is logged, not fatal.
    pub async fn connect(&self) -> bool {
        try_connect(self.client.clone(), Arc::clone(&self.manager), self.timeout).await
    }

    fn manager(&self) -> Option<ConnectionManager> {
        let m = self
            .manager
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if m.is_none() && !self.connecting.swap(true, Ordering::AcqRel) {
            let client = self.client.clone();
            let slot = Arc::clone(&self.manager);
            let connecting = Arc::clone(&self.connecting);
            let timeout = self.timeout;
            tokio::spawn(async move {
                try_connect(client, slot, timeout).await;
                // Do not hammer a dead server from the request path.
                tokio::time::sleep(Duration::from_millis(200)).await;
                connecting.store(false, Ordering::Release);
            });
        }
        m
    }

    /// Claims `(kid, nonce)` until `until` (Unix seconds) at `now`.
    pub async fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        let Some(mut conn) = self.manager() else {
            return Claim::Unavailable;
        };
        let ttl = until.saturating_sub(now).max(1);
        let mut key = String::with_capacity(self.prefix.len() + kid.len() + nonce.len() + 1);
        key.push_str(&self.prefix);
        key.push_str(kid);
        key.push(':');
        key.push_str(nonce);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(1).arg("NX").arg("EX").arg(ttl);
        let set = cmd.query_async::<Option<String>>(&mut conn);
        match tokio::time::timeout(self.timeout, set).await {
            Ok(Ok(Some(_))) => Claim::Fresh,
            Ok(Ok(None)) => Claim::Replayed,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "replay check in Redis failed");
                Claim::Unavailable
            }
            Err(_) => {
                tracing::warn!("replay check in Redis timed out");
                Claim::Unavailable
            }
        }
    }
}

async fn try_connect(
    client: redis::Client,
    slot: Arc<RwLock<Option<ConnectionManager>>>,
    timeout: Duration,
) -> bool {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(timeout.max(Duration::from_millis(500)))
        .set_response_timeout(timeout)
        .set_number_of_retries(1)
        .set_max_delay(500);
    match tokio::time::timeout(
        Duration::from_secs(2),
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(Ok(m)) => {
            *slot.write().unwrap_or_else(PoisonError::into_inner) = Some(m);
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot connect to Redis for the replay cache");
            false
        }
        Err(_) => {
            tracing::warn!("connecting to Redis for the replay cache timed out");
            false
        }
    }
}
