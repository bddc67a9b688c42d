//! Fleet mode: following a PostgreSQL store by `LISTEN`.
//!
//! Every committed change in the store sends
//! `NOTIFY embedgate_changes, '{"schema","from","revision","ids","kids"}'`
//! (revisions and ids only, never a value). Each proxy keeps one
//! `tokio-postgres` connection (TLS as the store URL's `sslmode` asks) that
//! `LISTEN`s; a notification newer than the cache makes the cache catch
//! up: it reads, from the store's change log, the rows changed since its
//! revision and applies only those ([`SecretCache::catch_up_blocking`]),
//! so a missed notification is made up by the next one, and a row that
//! cannot be decrypted is refused on its own while every other change
//! applies. A notification not newer than the cache is ignored (already
//! applied, for instance by the admin API of this proxy).
//!
//! After every (re)connection the feed catches up the same way, since
//! notifications sent while it was away are lost. Every
//! `store.resync_interval` (10 s by default) it also compares the store's
//! revision with the cache's and catches up if they differ, so a change
//! whose notification was lost applies within one interval. While
//! PostgreSQL is unreachable the proxy keeps verifying from its cache;
//! [`SyncHealth`](super::store_health::SyncHealth) says so to `/readyz` and
//! `/metrics` (`metrics.rs` reads it at scrape time), and the feed retries
//! with backoff.

use std::sync::Arc;
use std::time::Duration;

use embedgate_store::Store;
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tokio_postgres::AsyncMessage;

use super::secret_cache::{CatchUp, SecretCache};
use super::secret_source::SecretSource;

/// What the feed reads of a notification (`from`, `ids` and `kids` serve
/// listeners that reload by notification alone; this one reads the
/// change log).
#[derive(Debug, serde::Deserialize)]
struct Notice {
    schema: String,
    revision: u64,
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
    health.start_tracking();
    let schema = store.postgres_schema().unwrap_or_default().to_owned();
    let mut backoff = Duration::from_millis(100);
    loop {
        match follow(&cache, &store, &url, &schema, resync_every, &mut stop).await {
            Ok(()) => return,
            Err(reason) => {
                if health.is_up() {
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
    let (mut config, tls) = embedgate_store::postgres_connect_config(url)
        .map_err(|e| format!("store_url_invalid: {e}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(3));
    }
    // Named after the store's connections (`application_name` in the URL,
    // else "embedgate"), so an operator sees whose feed it is.
    let name = format!(
        "{} change feed",
        config.get_application_name().unwrap_or("embedgate")
    );
    config.application_name(&name);
    let (client, mut connection) = config
        .connect(tls)
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
        // Anything sent while we were not listening is lost: catch up
        // with the change log, unless the cache is already at the store's
        // revision (first connection right after the start-up load).
        let rev = store_revision(&client).await?;
        if !cache.is_loaded() || rev != cache.loaded_revision() {
            catch_up(cache, store).await?;
        }
        health.up();
        tracing::info!(
            revision = cache.loaded_revision(),
            "following the store's change feed"
        );
        let mut tick = tokio::time::interval(resync_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Some(payload) => {
                        health.count_notification();
                        apply(cache, store, schema, &payload).await?;
                        health.up();
                    }
                    None => return Err("store_connection_lost".to_owned()),
                },
                _ = tick.tick() => {
                    // A notification lost (or not yet arrived): catching up
                    // is cheap and idempotent, so do it at once rather than
                    // waiting another interval. A cache ahead of the store
                    // (restored from a backup) reloads everything.
                    let rev = store_revision(&client).await?;
                    let have = cache.loaded_revision();
                    if rev != have {
                        tracing::warn!(store = rev, cache = have, "revision check found the cache out of step; catching up");
                        catch_up(cache, store).await?;
                    }
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

/// Applies what changed since the cache's revision (or reloads all).
async fn catch_up(cache: &Arc<SecretCache>, store: &Store) -> Result<(), String> {
    let c = Arc::clone(cache);
    let s = store.clone();
    let done = tokio::task::spawn_blocking(move || c.catch_up_blocking(&s as &dyn SecretSource))
        .await
        .map_err(|e| format!("catch-up task failed: {e}"))?
        .map_err(|e| format!("store_unreachable: catching up failed: {e:#}"))?;
    if done == CatchUp::Reloaded {
        cache.sync_health().count_resync();
    }
    Ok(())
}

async fn apply(
    cache: &Arc<SecretCache>,
    store: &Store,
    schema: &str,
    payload: &str,
) -> Result<(), String> {
    let Ok(n) = serde_json::from_str::<Notice>(payload) else {
        tracing::warn!("unreadable change notification; catching up");
        return catch_up(cache, store).await;
    };
    if n.schema != schema {
        return Ok(()); // another store in the same database
    }
    if n.revision <= cache.loaded_revision() {
        return Ok(()); // already applied
    }
    catch_up(cache, store).await
}
