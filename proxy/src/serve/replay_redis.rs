//! The replay cache in Redis, shared by a fleet of proxies: a nonce is
//! claimed with `SET <prefix><kid>:<nonce> 1 NX EX <ttl>`, where the expiry
//! is `eg_exp + skew - now` (after which the URL fails as `expired`
//! anyway). The first proxy to set the key wins; every other one sees the
//! URL as replayed.
//!
//! Redis being away is reported as [`Claim::Unavailable`]; the caller
//! applies `[replay] on_unavailable`. Whether Redis answers is tracked in
//! [`RedisHealth`] (for `/readyz` and `embedgate_replay_backend_up`): the
//! first failed command (an error, or no answer within `[replay] timeout`)
//! marks it down, and from then on a claim does not touch the network at
//! all (it fails at once instead of waiting for a dead server) while one
//! background task reconnects with backoff and marks it up again once a
//! `PING` answers. So a proxy starts and serves sessions while Redis is
//! away, and an outage costs each signed URL microseconds, not the
//! timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use super::replay_cache::Claim;

/// Whether Redis answers, and if not, why.
#[derive(Debug, Default)]
pub struct RedisHealth {
    up: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl RedisHealth {
    /// Whether the last command (or connection attempt) succeeded.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Why Redis is down (`None` while up). Never a key or a nonce.
    pub fn reason(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        Some(
            self.reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_else(|| "not connected yet".to_owned()),
        )
    }

    fn set_up(&self) {
        self.up.store(true, Ordering::Release);
    }

    /// Marks Redis down for `reason`; true if it was up until now.
    fn set_down(&self, reason: String) -> bool {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        self.up.swap(false, Ordering::AcqRel)
    }
}

/// What a claim and the reconnecting task share.
struct Shared {
    client: redis::Client,
    connection: RwLock<Option<MultiplexedConnection>>,
    health: Arc<RedisHealth>,
    /// A reconnecting task runs.
    reconnecting: AtomicBool,
    timeout: Duration,
}

/// Nonces claimed in Redis.
pub struct RedisReplay {
    shared: Arc<Shared>,
    prefix: String,
}

impl std::fmt::Debug for RedisReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplay")
            .field("prefix", &self.prefix)
            .field("timeout", &self.shared.timeout)
            .field("up", &self.shared.health.is_up())
            .finish_non_exhaustive()
    }
}

/// The first reconnection attempt after a failure waits this long; each
/// further one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl RedisReplay {
    /// A replay cache at `url` (not connected yet: see [`Self::connect`]).
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("config key `replay.url`: {e}"))?;
        Ok(RedisReplay {
            shared: Arc::new(Shared {
                client,
                connection: RwLock::new(None),
                health: Arc::new(RedisHealth::default()),
                reconnecting: AtomicBool::new(false),
                timeout,
            }),
            prefix: prefix.to_owned(),
        })
    }

    /// Connects now (at start). On failure Redis is marked down and a
    /// background task keeps trying; not fatal.
    pub async fn connect(&self) -> bool {
        if self.shared.try_connect().await {
            return true;
        }
        reconnect_in_background(&self.shared);
        false
    }

    /// Whether Redis answers, for `/readyz` and `/metrics`.
    pub fn health(&self) -> Arc<RedisHealth> {
        Arc::clone(&self.shared.health)
    }

    /// Claims `(kid, nonce)` until `until` (Unix seconds) at `now`.
    pub async fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        // Down: fail at once; the reconnecting task finds out when Redis
        // is back.
        let connection = self
            .shared
            .health
            .is_up()
            .then(|| {
                self.shared
                    .connection
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .flatten();
        let Some(mut conn) = connection else {
            reconnect_in_background(&self.shared);
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
        let failure = match tokio::time::timeout(self.shared.timeout, set).await {
            Ok(Ok(Some(_))) => return Claim::Fresh,
            Ok(Ok(None)) => return Claim::Replayed,
            Ok(Err(e)) => format!("command failed: {}", error_kind(&e)),
            Err(_) => format!(
                "no answer within {} ms ([replay] timeout)",
                self.shared.timeout.as_millis()
            ),
        };
        self.shared.lost(failure);
        Claim::Unavailable
    }
}

impl Shared {
    /// Connects and checks with `PING`; marks the health either way.
    async fn try_connect(&self) -> bool {
        // A refused connection fails at once; an unreachable host within
        // the connection timeout.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout.max(Duration::from_millis(500)))
            .set_response_timeout(self.timeout);
        let attempt = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| format!("cannot connect: {}", error_kind(&e)))?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| format!("PING failed: {}", error_kind(&e)))?;
            Ok::<_, String>(conn)
        };
        match tokio::time::timeout(Duration::from_secs(3), attempt).await {
            Ok(Ok(conn)) => {
                *self
                    .connection
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(conn);
                self.health.set_up();
                true
            }
            Ok(Err(reason)) => {
                self.health.set_down(reason);
                false
            }
            Err(_) => {
                self.health
                    .set_down("connecting timed out after 3 s".to_owned());
                false
            }
        }
    }

    /// A command failed: drop the connection, mark Redis down, reconnect.
    fn lost(self: &Arc<Self>, reason: String) {
        *self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        if self.health.set_down(reason.clone()) {
            tracing::error!(%reason, "Redis (replay cache) stopped answering; reconnecting");
        }
        reconnect_in_background(self);
    }
}

/// Starts the reconnecting task unless one runs.
fn reconnect_in_background(shared: &Arc<Shared>) {
    if shared.reconnecting.swap(true, Ordering::AcqRel) {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            tokio::time::sleep(backoff).await;
            // The last handle gone (the proxy stopped): stop too.
            if Arc::strong_count(&shared) == 1 {
                break;
            }
            if shared.try_connect().await {
                tracing::info!("Redis (replay cache) answers again");
                break;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        shared.reconnecting.store(false, Ordering::Release);
    });
}

/// What went wrong, in words that never contain a key or a nonce.
fn error_kind(e: &redis::RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection lost".to_owned()
    } else {
        format!("{:?}", e.kind())
    }
}
