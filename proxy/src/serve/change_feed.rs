//! Fleet mode: following a PostgreSQL store by `LISTEN`.
//!
//! Every committed change in the store sends
//! `NOTIFY embedgate_changes, '{"schema","from","revision","ids","kids"}'`
//! (revisions and ids only, never a value). Each proxy keeps one
//! `tokio-postgres` connection that `LISTEN`s, and applies a notification
//! to its cache:
//!
//! - `from` equals the cache's revision: reload just the embed secrets
//!   named in `kids`/`ids` (deleted ones drop out);
//! - `from` is ahead of the cache's revision (a notification was missed),
//!   or `ids` is `null` (credentials changed, a purge): full resync;
//! - `revision` not newer than the cache: already applied, ignored.
//!
//! After every (re)connection the feed resyncs in full, since
//! notifications sent while it was away are lost. Every
//! `store.resync_interval` (10 s by default) it also compares the store's
//! revision with the cache's, as a safety net. While PostgreSQL is
//! unreachable the proxy keeps verifying from its cache; [`SyncHealth`]
//! says so to `/readyz` and `/metrics`, and the feed retries with backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedgate_store::Store;
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::secret_cache::SecretCache;
use super::secret_source::{SecretRecord, SecretSource};

/// How the cache keeps up with a PostgreSQL store. In SQLite mode it is
/// never `tracked`, and `/readyz` ignores it.
#[derive(Debug, Default)]
pub struct SyncHealth {
    tracked: AtomicBool,
    connected: AtomicBool,
    /// Unix milliseconds of the last moment the cache was known current.
    last_current_ms: AtomicU64,
    reason: Mutex<Option<String>>,
    resyncs: AtomicU64,
    notifications: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SyncHealth {
    /// `None` when healthy (or not in fleet mode); else why the cache may
    /// be stale.
    pub fn degraded(&self) -> Option<String> {
        if !self.tracked.load(Ordering::Acquire) || self.connected.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_else(|| "store_unreachable".into()),
        )
    }

    /// Seconds since the cache was last known to match the store (0 while
    /// connected and following, or outside fleet mode).
    pub fn staleness_secs(&self) -> f64 {
        if !self.tracked.load(Ordering::Acquire) || self.connected.load(Ordering::Acquire) {
            return 0.0;
        }
        let last = self.last_current_ms.load(Ordering::Acquire);
        now_ms().saturating_sub(last) as f64 / 1000.0
    }

    /// Whether the proxy follows a PostgreSQL store.
    pub fn tracked(&self) -> bool {
        self.tracked.load(Ordering::Acquire)
    }

    /// Full resyncs done so far.
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    /// Change notifications received so far.
    pub fn notifications(&self) -> u64 {
        self.notifications.load(Ordering::Relaxed)
    }

    fn up(&self) {
        self.last_current_ms.store(now_ms(), Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    fn down(&self, reason: &str) {
        if self.connected.swap(false, Ordering::AcqRel) {
            // Known current until just now.
            self.last_current_ms.store(now_ms(), Ordering::Release);
        }
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }
}

/// One notification, as sent by the store.
#[derive(Debug, serde::Deserialize)]
struct Notice {
    schema: String,
    from: u64,
    revision: u64,
    ids: Option<Vec<String>>,
    kids: Option<Vec<String>>,
}

/// Follows the store at `url` (the `[store] url`, so the same schema)
/// until `stop` flips.
pub async fn run(
    cache: Arc<SecretCache>,
    store: Store,
    url: String,
    resync_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let health = cache.sync_health();
    health.tracked.store(true, Ordering::Release);
    health.up();
    let schema = store.postgres_schema().unwrap_or_default().to_owned();
    let mut backoff = Duration::from_millis(100);
    loop {
        match follow(&cache, &store, &url, &schema, resync_every, &mut stop).await {
            Ok(()) => return,
            Err(reason) => {
                if health.connected.load(Ordering::Acquire) {
                    tracing::error!(%reason, "lost the store's change feed; serving from the cache");
                }
                health.down(&reason);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One connection's life: LISTEN, full resync, then apply notifications.
/// `Ok` means stop was asked; `Err` names why the connection ended.
async fn follow(
    cache: &Arc<SecretCache>,
    store: &Store,
    url: &str,
    schema: &str,
    resync_every: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let health = cache.sync_health();
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| format!("store_url_invalid: {e}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(3));
    }
    config.application_name("embedgate change feed");
    let (client, mut connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("store_unreachable: {e}"))?;
    let (tx, mut notices) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {}", embedgate_store::NOTIFY_CHANNEL))
            .await
            .map_err(|e| format!("store_unreachable: LISTEN failed: {e}"))?;
        // Anything sent while we were not listening is lost: unless the
        // cache is already at the store's revision (first connection right
        // after the start-up load), start over.
        let rev = store_revision(&client).await?;
        if !cache.is_loaded() || rev != cache.loaded_revision() {
            full_resync(cache, store).await?;
        }
        health.up();
        tracing::info!(
            revision = cache.loaded_revision(),
            "following the store's change feed"
        );
        let mut tick = tokio::time::interval(resync_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut seen_last_tick = 0u64;
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Some(payload) => {
                        health.notifications.fetch_add(1, Ordering::Relaxed);
                        apply(cache, store, schema, &payload).await?;
                        health.up();
                    }
                    None => return Err("store_connection_lost".to_owned()),
                },
                _ = tick.tick() => {
                    // Behind a revision already seen one tick ago (its
                    // notification had a whole interval to arrive), or
                    // ahead of the store (restored from a backup): resync.
                    let rev = store_revision(&client).await?;
                    let have = cache.loaded_revision();
                    if have < seen_last_tick || have > rev {
                        tracing::warn!(store = rev, cache = have, "revision check found the cache out of step; full resync");
                        full_resync(cache, store).await?;
                    }
                    seen_last_tick = rev;
                    health.up();
                },
                _ = stop.changed() => return Ok(()),
            }
        }
    }
    .await;
    driver.abort();
    result
}

/// The store's revision, read on the feed's own connection.
async fn store_revision(client: &tokio_postgres::Client) -> Result<u64, String> {
    let row = tokio::time::timeout(
        Duration::from_secs(5),
        client.query_one("SELECT value FROM store_meta WHERE key = 'revision'", &[]),
    )
    .await
    .map_err(|_| "store_unreachable: revision check timed out".to_owned())?
    .map_err(|e| format!("store_connection_lost: {e}"))?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

async fn full_resync(cache: &Arc<SecretCache>, store: &Store) -> Result<(), String> {
    let c = Arc::clone(cache);
    let s = store.clone();
    tokio::task::spawn_blocking(move || c.reload_blocking(&s as &dyn SecretSource))
        .await
        .map_err(|e| format!("resync task failed: {e}"))?
        .map_err(|e| format!("store_unreachable: resync failed: {e:#}"))?;
    cache.sync_health().resyncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn apply(
    cache: &Arc<SecretCache>,
    store: &Store,
    schema: &str,
    payload: &str,
) -> Result<(), String> {
    let Ok(n) = serde_json::from_str::<Notice>(payload) else {
        tracing::warn!("unreadable change notification; full resync");
        return full_resync(cache, store).await;
    };
    if n.schema != schema {
        return Ok(()); // another store in the same database
    }
    let have = cache.loaded_revision();
    if n.revision <= have {
        return Ok(());
    }
    let (Some(ids), Some(kids)) = (n.ids, n.kids) else {
        return full_resync(cache, store).await;
    };
    if n.from != have {
        tracing::info!(
            cache = have,
            from = n.from,
            "gap in the change feed; full resync"
        );
        return full_resync(cache, store).await;
    }
    let s = store.clone();
    let load = tokio::task::spawn_blocking(move || s.load_keys_for(&ids))
        .await
        .map_err(|e| format!("reload task failed: {e}"))?
        .map_err(|e| format!("store_unreachable: reload failed: {e}"))?;
    let records: Vec<SecretRecord> = load
        .keys
        .into_iter()
        .map(|k| SecretRecord {
            client_id: k.client_id,
            value: k.value,
            active: k.active,
            expires_at: k.expires_at,
            scopes: k.scopes,
            reactivated_at: k.reactivated_at,
        })
        .collect();
    cache.apply_changes(n.revision, &kids, &records);
    Ok(())
}

/// The fleet-mode lines of `/metrics` (empty outside fleet mode).
pub fn render_metrics(h: &SyncHealth) -> String {
    if !h.tracked() {
        return String::new();
    }
    format!(
        "# HELP embedgate_store_connected Whether the change feed from PostgreSQL is connected (1) or the proxy serves from a possibly stale cache (0).\n\
         # TYPE embedgate_store_connected gauge\n\
         embedgate_store_connected {}\n\
         # HELP embedgate_store_staleness_seconds Seconds since the secret cache was last known to match the store (0 while connected).\n\
         # TYPE embedgate_store_staleness_seconds gauge\n\
         embedgate_store_staleness_seconds {:.3}\n\
         # HELP embedgate_store_resyncs_total Full reloads of the secret cache from the store.\n\
         # TYPE embedgate_store_resyncs_total counter\n\
         embedgate_store_resyncs_total {}\n\
         # HELP embedgate_store_notifications_total Change notifications received from the store.\n\
         # TYPE embedgate_store_notifications_total counter\n\
         embedgate_store_notifications_total {}\n",
        u8::from(h.degraded().is_none()),
        h.staleness_secs(),
        h.resyncs(),
        h.notifications(),
    )
}
