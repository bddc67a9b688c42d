//! The replay check the request path calls: in this process
//! ([`ReplayCache`], `[replay] backend = "memory"`) or shared by a fleet in
//! Redis ([`RedisReplay`], `backend = "redis"`), with the
//! `on_unavailable` policy applied when Redis cannot answer.

use super::config::{OnUnavailable, ReplayBackend, ReplayConfig};
use super::replay_cache::{Claim, ReplayCache};
use super::replay_redis::RedisReplay;

/// Where nonces are claimed.
#[derive(Debug)]
pub enum Replay {
    /// In memory, this process only.
    Memory(ReplayCache),
    /// In Redis, across the fleet.
    Redis {
        /// The Redis client.
        redis: RedisReplay,
        /// What an unreachable Redis means.
        on_unavailable: OnUnavailable,
    },
}

impl Replay {
    /// Builds the configured backend (memory: bounded to `entries`).
    pub async fn from_config(config: &ReplayConfig, entries: usize) -> anyhow::Result<Replay> {
        Ok(match config.backend {
            ReplayBackend::Memory => Replay::Memory(ReplayCache::new(entries)),
            ReplayBackend::Redis => {
                let url = config.url.as_deref().unwrap_or_default();
                let redis = RedisReplay::new(url, &config.key_prefix, config.timeout)?;
                if !redis.connect().await {
                    tracing::error!(
                        "Redis is unreachable at start; signed URLs get {} until it answers",
                        match config.on_unavailable {
                            OnUnavailable::Reject => "503 replay_unavailable",
                            OnUnavailable::Allow => "no replay check (on_unavailable = \"allow\")",
                        }
                    );
                }
                Replay::Redis {
                    redis,
                    on_unavailable: config.on_unavailable,
                }
            }
        })
    }

    /// Claims `(kid, nonce)` until `until` at `now`. With Redis down and
    /// `on_unavailable = "allow"`, the claim counts as fresh.
    pub async fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        match self {
            Replay::Memory(c) => c.claim(kid, nonce, until, now),
            Replay::Redis {
                redis,
                on_unavailable,
            } => match redis.claim(kid, nonce, until, now).await {
                Claim::Unavailable if *on_unavailable == OnUnavailable::Allow => Claim::Fresh,
                c => c,
            },
        }
    }

    /// Entries held in memory (0 with Redis: they live there).
    pub fn entries(&self) -> usize {
        match self {
            Replay::Memory(c) => c.entries(),
            Replay::Redis { .. } => 0,
        }
    }
}
